"""What a vmapped run (``seeds`` x ``sweep`` members) writes besides a single run's outputs.

``metrics.jsonl`` holds one line per member and epoch; ``summary.json`` / ``summary.md`` the
mean +/- std over seeds per swept value; ``members/NAME/`` one directory per member laid out
like a single run (config, metrics, params, final checkpoint, figures), so ``aezoo eval``,
``aezoo.load`` and ``--resume`` work on a member as on any run.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
import optax

from aezoo._files import strict_json
from aezoo.errors import ConfigError
from aezoo.models import BaseConfig, ModelSpec
from aezoo.models._spec import sweepable
from aezoo.rundir.record import MemberRecord, RunRecord
from aezoo.train import records, workdir
from aezoo.train.checkpoint import Checkpointer
from aezoo.train.config import LR_NAMES, TrainConfig
from aezoo.train.figures import write_figures

# Metrics summarized across members at the end (when present).
SUMMARY_METRICS = ("train/loss", "test/loss", "test/nll_bound", "test/nll", "test/kl")


Member = MemberRecord  # one of a run's models: index, seed, folder name, swept value


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


def _mean_std(stat: Mapping[str, Any]) -> str:
    """``mean +/- std``; a lone value (one seed) without a spread it does not have."""
    if len(stat["values"]) < 2:
        return f"{stat['mean']:.3f}"
    return f"{stat['mean']:.3f} +/- {stat['std']:.3f}"


def summary_markdown(summary: Sequence[Mapping[str, Any]], sweep_name: str | None) -> str:
    """The summary as a Markdown table (mean +/- sample std over seeds)."""
    if not summary:
        return ""
    keys = [k for k in SUMMARY_METRICS if k in summary[0]]
    head = ([sweep_name] if sweep_name else []) + ["seeds"] + keys
    lines = [
        f"after epoch {summary[0]['epoch']}: mean +/- std over seeds (one seed: its value)",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for row in summary:
        cells = [f"{row[sweep_name]:g}"] if sweep_name else []
        cells.append(str(row["members"]))
        cells += [_mean_std(row[k]) for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_summary(out_dir: pathlib.Path, summary: list[dict[str, Any]], sweep_name) -> None:
    workdir.atomic_write(out_dir / "summary.json", strict_json(summary, indent=2) + "\n")
    workdir.atomic_write(out_dir / "summary.md", summary_markdown(summary, sweep_name))


def write_members(
    out_dir: pathlib.Path,
    spec: ModelSpec,
    members: Sequence[Member],
    configs: Sequence[BaseConfig],
    train_configs: Sequence[TrainConfig],
    saved: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    split: Any,
    *,
    lr_swept: bool,
    sweep_name: str | None,
) -> None:
    """One single-run directory per member: config, metrics, params, final checkpoint and
    (with a ``split`` to draw from) figures. ``saved`` is the stacked checkpoint tree."""
    host = jax.device_get(saved)
    root = RunRecord.of(out_dir)
    shared = {k: root.get(k) for k in ("data", "data_fingerprint") if root.get(k) is not None}
    for m, cfg, train_config in zip(members, configs, train_configs, strict=True):
        d = out_dir / "members" / m.name
        d.mkdir(parents=True, exist_ok=True)
        run = records.run_record(spec, cfg, train_config)
        record = records.config_record(run, member_of=str(out_dir.absolute()), **shared)
        workdir.atomic_write(d / "config.json", record.to_json())
        own = [
            {k: v for k, v in r.items() if k not in ("member", "seed", sweep_name)}
            for r in history
            if r["member"] == m.index
        ]
        workdir.write_jsonl(d / "metrics.jsonl", own)
        tree = jax.tree.map(lambda x, i=m.index: x[i], host)
        if lr_swept:
            tree["state"] = tree["state"].replace(
                opt_state=_plain_opt_state(tree["state"].opt_state)
            )
        workdir.save_params(d / "params.msgpack", tree["state"].params)
        if own:
            epoch = own[-1]["epoch"]
            ckpt = Checkpointer(d / "checkpoints", keep=train_config.keep)
            try:
                ckpt.save(epoch, tree, {**run.to_dict(), "epoch": epoch, "history": own})
            finally:
                ckpt.close()
        if split is not None:
            module = spec.module_cls(config=cfg)
            params = tree["state"].params
            label = f" (member {m.name})"
            write_figures(d, spec, module, params, split, history=own, label=label)


def _plain_opt_state(opt_state: Any) -> Any:
    """The injected-hyperparameter optimizer state as plain ``optax.adam``'s (its inner state)."""

    def is_injected(x):
        return isinstance(x, optax.InjectHyperparamsState | optax.InjectStatefulHyperparamsState)

    return jax.tree.map(
        lambda x: x.inner_state if is_injected(x) else x, opt_state, is_leaf=is_injected
    )


def check_sweep(spec: ModelSpec, sweep) -> tuple[str | None, list[float | None]]:
    if sweep is None:
        return None, [None]
    ((name, values),) = sweep.items()
    allowed = ("lr", *sweepable(spec.config_cls))
    if name not in allowed:
        raise ConfigError(
            f"cannot sweep {name!r} for model {spec.name!r}: sweepable are {', '.join(allowed)}"
        )
    return name, list(values)


def expand(
    spec: ModelSpec,
    config: BaseConfig,
    train_config: TrainConfig,
    sweep_name: str | None,
    values: Sequence[float | None],
) -> tuple[list[Member], list[BaseConfig], list[float]]:
    """Every swept value x every seed: the members, their (checked) model configs and lrs."""
    members, configs, lrs = [], [], []
    for value in values:
        for seed in train_config.member_seeds():
            cfg = config
            if sweep_name not in (None, *LR_NAMES):
                cfg = spec.make_config(**{**config.to_dict(), sweep_name: value})
            name = f"seed{seed}" if sweep_name is None else f"{sweep_name}{value:g}-seed{seed}"
            members.append(Member(len(members), seed, name, value))
            configs.append(cfg)
            lrs.append(value if sweep_name == "lr" else train_config.learning_rate)
    if sweep_name == "lr":
        for lr in lrs:
            dataclasses.replace(train_config, learning_rate=lr)  # checks each swept rate
    return members, configs, lrs


def member_devices(n: int, devices: int | None) -> int:
    available = jax.local_device_count()
    if devices is None:
        return max(d for d in range(1, min(n, available) + 1) if n % d == 0)
    if devices > available:
        raise ConfigError(f"devices must be in 1..{available}; got {devices!r}")
    if n % devices:
        raise ConfigError(
            f"{n} members cannot be split evenly over {devices} devices; use a --seeds / "
            "--sweep count that the device count divides, or --devices"
        )
    return devices


__all__ = [
    "Member",
    "check_sweep",
    "expand",
    "member_devices",
    "summarize_members",
    "summary_markdown",
    "write_members",
    "write_summary",
]
