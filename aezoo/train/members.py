"""Many models, one compile: seeds and hyper-parameter sweeps along one ``jax.vmap`` axis.

``fit(..., seeds=[0, 1, 2])`` or ``fit(..., sweep={"beta": [0.5, 1, 2]})`` trains every member
(seed x swept value) with the same fused epoch, vmapped over a leading axis of the train
state, the keys and the swept values. A swept value is traced, not baked into the program:
``lr`` lives in the optimizer state (``optax.inject_hyperparams``), a model field marked
``sweep=True`` in its config (``beta``, ``contraction_weight``, ...) reaches the loss as a
traced config value. Member i follows exactly the keys of a single run with its seed, so it
equals ``fit(..., seed=seed_i)`` up to float rounding (tested).

Outputs in ``workdir``: ``metrics.jsonl`` (one line per member and epoch), ``summary.json``
and ``summary.md`` (mean +/- std over seeds, per swept value), the stacked checkpoints in
``checkpoints/`` (``resume`` continues them), and one directory per member in ``members/``
laid out like a single run (config, metrics, params, final checkpoint, figures): ``aezoo
eval``, ``aezoo.load`` and ``--resume`` work on a member as on any run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pathlib
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from aezoo import data
from aezoo.errors import ConfigError, NonFiniteError
from aezoo.models import BaseConfig, ModelSpec, get_spec
from aezoo.models._spec import sweepable
from aezoo.train import loop, sharding
from aezoo.train.checkpoint import Checkpointer
from aezoo.train.parallel import make_vmapped_train_epoch
from aezoo.train.sharding import LocalRows
from aezoo.train.state import TrainState, create_train_state
from aezoo.train.step import GUARDED_METRICS, make_eval_fn

LR_NAMES = ("lr", "learning_rate")
# Metrics summarized across members at the end (when present).
SUMMARY_METRICS = ("train/loss", "test/loss", "test/nll_bound", "test/nll", "test/kl")


@dataclasses.dataclass
class Member:
    """One vmapped model: its index, seed and swept value (if any)."""

    index: int
    seed: int
    name: str  # directory name under members/
    sweep_value: float | None = None


@dataclasses.dataclass
class MembersResult(loop.FitResult):
    """:class:`~aezoo.train.loop.FitResult` of a vmapped run: ``state`` has a leading member
    axis, ``history`` holds one record per member and epoch (with ``member``/``seed``)."""

    members: list[Member] = dataclasses.field(default_factory=list)
    sweep_name: str | None = None
    summary: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def member_params(self, i: int) -> Any:
        return jax.tree.map(lambda x: x[i], self.state.params)


def parse_sweep(text: str) -> dict[str, list[float]]:
    """``"beta=0.5,1,2"`` -> ``{"beta": [0.5, 1.0, 2.0]}`` (one-line errors)."""
    name, sep, values = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name:
        raise ConfigError(f"--sweep expects NAME=V1,V2,... like beta=0.5,1,2; got {text!r}")
    try:
        parsed = [float(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(
            f"--sweep values must be numbers, like beta=0.5,1,2; got {text!r}"
        ) from None
    if not parsed:
        raise ConfigError(f"--sweep {name} has no values; expected e.g. {name}=0.5,1,2")
    return {name: parsed}


def fit_members(
    model: str | ModelSpec,
    train: loop.Arrays,
    test: loop.Arrays | None = None,
    *,
    seeds: Sequence[int] | None = None,
    sweep: Mapping[str, Sequence[float]] | None = None,
    config: BaseConfig | Mapping[str, Any] | None = None,
    epochs: int = 10,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    seed: int = 0,
    binarize: str | None = None,
    eval_batch_size: int = 1000,
    on_nonfinite: str = "stop",
    dataset: str = "custom",
    workdir: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    checkpoint_every: int = 1,
    keep: int = 3,
    figures: bool = True,
    progress: bool = True,
    devices: int | None = None,
) -> MembersResult:
    """Train one model per (swept value, seed) with one vmapped, jitted fused epoch.

    Args:
      seeds: the members' seeds (default ``[seed]``); member i uses the keys of
        ``fit(..., seed=seeds[i])``.
      sweep: ``{name: values}`` for one numeric setting: ``lr`` or a model field that its
        config marks sweepable (``aezoo list`` shows them). Members are every value x seed.
      devices: split the members over this many devices (each trains its share of the
        models on the whole data); default: the most devices that divide the member count.
      The rest as in :func:`aezoo.train.fit` (settings shared by all members).
    """
    spec = model if isinstance(model, ModelSpec) else get_spec(model)
    if isinstance(train, LocalRows):
        raise ConfigError("seeds/sweep take whole splits (image, label arrays), not LocalRows")
    seeds = _check_seeds(seeds if seeds is not None else [seed])
    sweep_name, sweep_values = _check_sweep(spec, sweep)
    image_shape = loop.check_splits(train, test)
    train_images, train_labels = train
    base = config.to_dict() if isinstance(config, BaseConfig) else dict(config or {})
    base["image_shape"] = image_shape

    # Members: every swept value x every seed; each with a concrete (validated) config.
    members: list[Member] = []
    configs: list[BaseConfig] = []
    tcs: list[loop.TrainConfig] = []
    values = sweep_values if sweep_name else [None]
    for value in values:
        for s in seeds:
            overrides = dict(base)
            lr = learning_rate
            if sweep_name in LR_NAMES:
                lr = value
            elif sweep_name is not None:
                overrides[sweep_name] = value
            cfg, _ = spec.make(overrides)
            name = f"seed{s}" if sweep_name is None else f"{sweep_name}{value:g}-seed{s}"
            members.append(Member(len(members), s, name, value))
            configs.append(cfg)
            tcs.append(
                loop.TrainConfig(
                    dataset=dataset,
                    epochs=epochs,
                    batch_size=batch_size,
                    learning_rate=lr,
                    seed=s,
                    binarize=binarize
                    if binarize is not None
                    else loop.default_binarize(cfg.likelihood),
                    fused=True,
                    eval_batch_size=eval_batch_size,
                    on_nonfinite=on_nonfinite,
                    checkpoint_every=checkpoint_every,
                    keep=keep,
                )
            )
    for tc in tcs:
        tc.validate(len(train_images))
    tc0, config0 = tcs[0], configs[0]
    _, module = spec.make(config0)
    n = len(members)
    mesh = sharding.make_mesh(_member_devices(n, devices))
    by_member = sharding.row_sharding(mesh)  # the leading (member) axis over the devices
    everywhere = sharding.replicated(mesh)

    run = {
        **loop._run_record(spec, config0, tc0),
        "members": [dataclasses.asdict(m) for m in members],
        "sweep": {sweep_name: list(sweep_values)} if sweep_name else None,
    }
    out_dir = loop._prepare_workdir(workdir, run, resume=resume, overwrite=overwrite)

    # The optimizer: Adam; a swept learning rate is a traced value in its state.
    lr_swept = sweep_name in LR_NAMES
    if lr_swept:
        optimizer = optax.inject_hyperparams(
            optax.adam, static_args=("b1", "b2", "eps", "eps_root")
        )(learning_rate=tc0.learning_rate)
    else:
        optimizer = optax.adam(tc0.learning_rate)
    keys = jnp.stack([jnp.stack(jax.random.split(jax.random.key(m.seed), 3)) for m in members])
    init_keys, train_rngs, order_keys = keys[:, 0], keys[:, 1], keys[:, 2]
    lrs = jnp.asarray([tc.learning_rate for tc in tcs], jnp.float32)

    def init(key, lr):
        state = create_train_state(spec, module, optimizer, key)
        if lr_swept:
            state = state.replace(
                opt_state=optax.tree_utils.tree_set(state.opt_state, learning_rate=lr)
            )
        return state

    states = jax.jit(jax.vmap(init), out_shardings=by_member)(init_keys, lrs)
    train_rngs, order_keys = jax.device_put((train_rngs, order_keys), by_member)
    hparams = {}
    if sweep_name is not None and not lr_swept:
        values = jnp.asarray([m.sweep_value for m in members], jnp.float32)
        hparams = {sweep_name: jax.device_put(values, by_member)}

    history: list[dict[str, Any]] = []
    start_epoch = 1
    ckpt = Checkpointer(out_dir / "checkpoints", keep=tc0.keep) if out_dir else None
    if ckpt is not None and resume:
        states, train_rngs, order_keys, history, start_epoch = loop.resume_from(
            ckpt, run, spec.name, states, train_rngs, order_keys
        )
        train_rngs, order_keys = jax.device_put((train_rngs, order_keys), by_member)

    # Every device holds all the data (each trains its members on all of it).
    x_train = jax.device_put(loop._as_uint8(train_images), everywhere)
    y_train = jax.device_put(np.asarray(train_labels, np.int32), everywhere)
    if test is not None:
        x_test = data.binarize_once(loop._as_uint8(test[0]), tc0.binarize)
        x_test = jax.device_put(x_test, everywhere)
        y_test = jax.device_put(np.asarray(test[1], np.int32), everywhere)
    evaluate = make_eval_fn(spec, module, batch_size=tc0.eval_batch_size, members=True)
    eval_rng = jax.random.key(loop.EVAL_SEED)
    epoch_fn = make_vmapped_train_epoch(
        spec,
        module,
        optimizer,
        batch_size=tc0.batch_size,
        binarize=tc0.binarize,
        on_nonfinite=tc0.on_nonfinite,
    )
    steps_per_epoch = len(train_images) // tc0.batch_size
    label = f"{spec.name}/{dataset} x{n}" + (f" on {mesh.size} devices" if mesh.size > 1 else "")
    bar = loop.progress_bar(label, start_epoch, tc0.epochs, progress, ckpt)
    compiled = False
    try:
        for epoch in range(start_epoch, tc0.epochs + 1):
            epoch_keys = jax.vmap(lambda k, e=epoch: jax.random.fold_in(k, e))(order_keys)
            compile_seconds = None
            if not compiled:
                t0 = time.perf_counter()
                epoch_fn = epoch_fn.lower(
                    states, x_train, y_train, train_rngs, epoch_keys, hparams
                ).compile()
                compile_seconds = time.perf_counter() - t0
                compiled = True
            t0 = time.perf_counter()
            states, metrics = epoch_fn(states, x_train, y_train, train_rngs, epoch_keys, hparams)
            metrics = jax.device_get(metrics)
            seconds = time.perf_counter() - t0
            bad_steps = metrics.pop("nonfinite_step")
            bad_metrics = metrics.pop("nonfinite_metric")
            steps = jax.device_get(states.step)
            if tc0.on_nonfinite == "stop" and (bad_steps >= 0).any():
                i = int(np.argmax(bad_steps >= 0))
                raise NonFiniteError(
                    f"non-finite {GUARDED_METRICS[int(bad_metrics[i])]} in member {i} "
                    f"({members[i].name}) at step {int(bad_steps[i])} (epoch {epoch}); training "
                    "stopped (use on_nonfinite='skip' / --on-nonfinite skip to drop such updates)"
                )
            t1 = time.perf_counter()
            test_metrics = {}
            if test is not None:
                test_metrics = jax.device_get(
                    evaluate(states.params, x_test, y_test, eval_rng, hparams)
                )
            eval_seconds = time.perf_counter() - t1
            records = []
            for m in members:
                record: dict[str, Any] = {"epoch": epoch, "member": m.index, "seed": m.seed}
                if sweep_name is not None:
                    record[sweep_name] = m.sweep_value
                record["step"] = int(steps[m.index])
                record.update({f"train/{k}": float(v[m.index]) for k, v in metrics.items()})
                record.update({f"test/{k}": float(v[m.index]) for k, v in test_metrics.items()})
                record["examples_per_sec"] = n * steps_per_epoch * tc0.batch_size / seconds
                record["seconds"] = seconds
                record["eval_seconds"] = eval_seconds
                if compile_seconds is not None:
                    record["compile_seconds"] = compile_seconds
                records.append(record)
            history.extend(records)
            if out_dir is not None:
                for record in records:
                    loop._append_jsonl(out_dir / "metrics.jsonl", record)
                if epoch % tc0.checkpoint_every == 0 or epoch == tc0.epochs:
                    meta = {**run, "epoch": epoch, "history": history}
                    ckpt.save(epoch, loop._saved_tree(states, train_rngs, order_keys), meta)
            _report(bar, records, tc0.epochs, progress)
    finally:
        bar.close()
        if ckpt is not None:
            ckpt.close()

    summary = summarize_members(history, members, sweep_name)
    if out_dir is not None:
        _write_members(
            out_dir, spec, members, configs, tcs, states, train_rngs, order_keys,
            history, test if test is not None else train, figures, lr_swept, sweep_name,
        )  # fmt: skip
        loop._atomic_write(out_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
        loop._atomic_write(out_dir / "summary.md", summary_markdown(summary, sweep_name))
    return MembersResult(
        spec, module, config0, states, history, out_dir, members, sweep_name, summary
    )


def summarize_members(
    history: Sequence[Mapping[str, Any]], members: Sequence[Member], sweep_name: str | None
) -> list[dict[str, Any]]:
    """Last-epoch metrics, mean and std over the seeds of each swept value (one row each)."""
    if not history:
        return []
    last_epoch = max(r["epoch"] for r in history)
    last = {r["member"]: r for r in history if r["epoch"] == last_epoch}
    groups: dict[Any, list[Member]] = {}
    for m in members:
        groups.setdefault(m.sweep_value, []).append(m)
    rows = []
    for value, group in groups.items():
        row: dict[str, Any] = {"epoch": last_epoch, "members": len(group)}
        if sweep_name is not None:
            row[sweep_name] = value
        row["seeds"] = [m.seed for m in group]
        for key in SUMMARY_METRICS:
            xs = [last[m.index][key] for m in group if key in last[m.index]]
            if xs:
                row[key] = {
                    "mean": float(np.mean(xs)),
                    "std": float(np.std(xs, ddof=1)) if len(xs) > 1 else 0.0,
                    "values": xs,
                }
        rows.append(row)
    return rows


def summary_markdown(summary: Sequence[Mapping[str, Any]], sweep_name: str | None) -> str:
    """The summary as a Markdown table (mean +/- sample std over seeds)."""
    if not summary:
        return ""
    keys = [k for k in SUMMARY_METRICS if k in summary[0]]
    head = ([sweep_name] if sweep_name else []) + ["seeds"] + keys
    lines = [
        f"after epoch {summary[0]['epoch']}: mean +/- std over seeds",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for row in summary:
        cells = [f"{row[sweep_name]:g}"] if sweep_name else []
        cells.append(str(row["members"]))
        cells += [f"{row[k]['mean']:.3f} +/- {row[k]['std']:.3f}" for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _member_devices(n: int, devices: int | None) -> int:
    available = jax.local_device_count()
    if devices is None:
        return max(d for d in range(1, min(n, available) + 1) if n % d == 0)
    if isinstance(devices, bool) or not isinstance(devices, int) or not 1 <= devices <= available:
        raise ConfigError(f"devices must be in 1..{available}; got {devices!r}")
    if n % devices:
        raise ConfigError(
            f"{n} members cannot be split evenly over {devices} devices; use a --seeds / "
            "--sweep count that the device count divides, or --devices"
        )
    return devices


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    seeds = list(seeds)
    if not seeds:
        raise ConfigError("seeds must name at least one seed")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int | np.integer) or not 0 <= s < 2**32:
            raise ConfigError(f"seeds must be integers in [0, 2**32); got {s!r}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds must be distinct; got {seeds}")
    return [int(s) for s in seeds]


def _check_sweep(spec: ModelSpec, sweep) -> tuple[str | None, list[float]]:
    if sweep is None:
        return None, []
    if isinstance(sweep, str):
        sweep = parse_sweep(sweep)
    if len(sweep) != 1:
        raise ConfigError(f"sweep one setting at a time; got {', '.join(sweep) or 'none'}")
    ((name, values),) = sweep.items()
    allowed = ("lr", *sweepable(spec.config_cls))
    if name not in (*allowed, "learning_rate"):
        raise ConfigError(
            f"cannot sweep {name!r} for model {spec.name!r}: sweepable are {', '.join(allowed)}"
        )
    values = list(values)
    if not values:
        raise ConfigError(f"sweep {name} has no values")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ConfigError(f"sweep {name} values must be finite numbers; got {v!r}")
    if len(set(values)) != len(values):
        raise ConfigError(f"sweep {name} values must be distinct; got {values}")
    return name, [float(v) for v in values]


def _plain_opt_state(opt_state: Any) -> Any:
    """The injected-hyperparameter optimizer state as plain ``optax.adam``'s (its inner state)."""

    def is_injected(x):
        return isinstance(x, optax.InjectHyperparamsState | optax.InjectStatefulHyperparamsState)

    return jax.tree.map(
        lambda x: x.inner_state if is_injected(x) else x, opt_state, is_leaf=is_injected
    )


def _write_members(
    out_dir: pathlib.Path,
    spec: ModelSpec,
    members: Sequence[Member],
    configs: Sequence[BaseConfig],
    tcs: Sequence[loop.TrainConfig],
    states: TrainState,
    train_rngs: jax.Array,
    order_keys: jax.Array,
    history: Sequence[Mapping[str, Any]],
    split: loop.Arrays,
    figures: bool,
    lr_swept: bool,
    sweep_name: str | None,
) -> None:
    """One single-run directory per member: config, metrics, params, final checkpoint."""
    host = jax.device_get(states)
    rngs = np.asarray(jax.random.key_data(train_rngs))
    orders = np.asarray(jax.random.key_data(order_keys))
    for m, cfg, tc in zip(members, configs, tcs, strict=True):
        d = out_dir / "members" / m.name
        d.mkdir(parents=True, exist_ok=True)
        run = loop._run_record(spec, cfg, tc)
        full = loop.config_record(run, member_of=str(out_dir.absolute()))
        loop._atomic_write(d / "config.json", json.dumps(full, indent=2) + "\n")
        own = [
            {k: v for k, v in r.items() if k not in ("member", "seed", sweep_name)}
            for r in history
            if r["member"] == m.index
        ]
        loop._rewrite_jsonl(d / "metrics.jsonl", own)
        state = jax.tree.map(lambda x, i=m.index: x[i], host)
        if lr_swept:
            state = state.replace(opt_state=_plain_opt_state(state.opt_state))
        loop.save_params(d / "params.msgpack", state.params)
        if own:
            epoch = own[-1]["epoch"]
            tree = {"state": state, "rng": rngs[m.index], "order_rng": orders[m.index]}
            ckpt = Checkpointer(d / "checkpoints", keep=tc.keep)
            try:
                ckpt.save(epoch, tree, {**run, "epoch": epoch, "history": own})
            finally:
                ckpt.close()
        if figures:
            _, member_module = spec.make(cfg)
            loop.write_figures(d, spec, member_module, state.params, split)


def _report(bar, records: Sequence[Mapping[str, Any]], epochs: int, progress: bool) -> None:
    if not progress:
        return

    def stat(key: str) -> str:
        xs = [r[key] for r in records if key in r]
        if not xs:
            return "-"
        return f"{np.mean(xs):.3f} +/- {np.std(xs, ddof=1) if len(xs) > 1 else 0.0:.3f}"

    r0 = records[0]
    bar.update(1)
    line = (
        f"epoch {r0['epoch']}/{epochs}  x{len(records)}  train/loss {stat('train/loss')}"
        f"  test/loss {stat('test/loss')}  {r0['examples_per_sec']:.0f} ex/s (all members)"
        f"  {r0['seconds']:.2f}s"
    )
    if "compile_seconds" in r0:
        line += f"  (compile {r0['compile_seconds']:.1f}s)"
    bar.write(line, file=sys.stderr)


__all__ = [
    "Member",
    "MembersResult",
    "fit_members",
    "parse_sweep",
    "summarize_members",
    "summary_markdown",
]
