"""``fit``: epochs of the fused (or per-step) training, test evaluation, logs, checkpoints."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import pathlib
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from typing import Any

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from aezoo import data
from aezoo.errors import CheckpointError, ConfigError, NonFiniteError, ShapeError
from aezoo.models import BaseConfig, ModelSpec, get_spec
from aezoo.train import sharding
from aezoo.train.checkpoint import Checkpointer
from aezoo.train.sharding import LocalRows
from aezoo.train.state import TrainState, create_train_state
from aezoo.train.step import (
    GUARDED_METRICS,
    NONFINITE_POLICIES,
    epoch_batches,
    gather_batch,
    make_eval_fn,
    make_train_epoch,
    make_train_step,
    summarize,
)

# Test-set evaluation noise (VAE samples) is the same for every run and every epoch, so test
# numbers are comparable across seeds and epochs.
EVAL_SEED = 0
Arrays = tuple[np.ndarray, np.ndarray]
Split = Arrays | LocalRows
# Settings that may change when a run is resumed (everything else must match).
RESUMABLE_CHANGES = ("epochs", "checkpoint_every", "keep")


@dataclasses.dataclass
class FitResult:
    """What :func:`fit` returns: the model, its final state and one record per epoch."""

    spec: ModelSpec
    module: nn.Module
    config: BaseConfig
    state: TrainState
    history: list[dict[str, float]]
    workdir: pathlib.Path | None = None

    @property
    def params(self) -> Any:
        return self.state.params


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training settings (the model's own live in its config class)."""

    dataset: str = "custom"
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    seed: int = 0
    binarize: str = "dynamic"
    fused: bool = True
    eval_batch_size: int = 1000
    on_nonfinite: str = "stop"
    checkpoint_every: int = 1
    keep: int = 3

    def validate(self, num_train: int) -> None:
        """One-line :class:`ConfigError` for any impossible setting."""
        _int_at_least("epochs", self.epochs, 0)
        _int_at_least("batch_size", self.batch_size, 1, "a positive integer")
        if self.batch_size > num_train:
            raise ConfigError(
                f"batch_size {self.batch_size} is larger than the training split "
                f"({num_train} examples); use --batch-size <= {num_train}"
            )
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, int | float) or not math.isfinite(lr):
            raise ConfigError(f"learning_rate must be a finite number > 0; got {lr!r}")
        if lr <= 0:
            raise ConfigError(f"learning_rate must be a finite number > 0; got {lr!r}")
        _int_at_least("seed", self.seed, 0, "an integer in [0, 2**32)")
        if self.seed >= 2**32:
            raise ConfigError(f"seed must be an integer in [0, 2**32); got {self.seed!r}")
        _int_at_least("eval_batch_size", self.eval_batch_size, 1, "a positive integer")
        _int_at_least("checkpoint_every", self.checkpoint_every, 1, "a positive integer")
        _int_at_least("keep", self.keep, 1, "a positive integer")
        if self.binarize not in data.BINARIZE_MODES:
            raise ConfigError(
                f"unknown binarize mode {self.binarize!r}; "
                f"expected one of {', '.join(data.BINARIZE_MODES)}"
            )
        if self.on_nonfinite not in NONFINITE_POLICIES:
            raise ConfigError(
                f"unknown on_nonfinite policy {self.on_nonfinite!r}; "
                f"expected one of {', '.join(NONFINITE_POLICIES)}"
            )


def _int_at_least(name: str, value: Any, low: int, what: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be {what or f'an integer >= {low}'}; got {value!r}")


def default_binarize(likelihood: str) -> str:
    """Bernoulli decoders get dynamically binarized targets; Gaussian ones the intensities."""
    return "dynamic" if likelihood == "bernoulli" else "none"


def fit(
    model: str | ModelSpec,
    train: Split,
    test: Split | None = None,
    *,
    config: BaseConfig | Mapping[str, Any] | None = None,
    epochs: int = 10,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    seed: int = 0,
    binarize: str | None = None,
    fused: bool = True,
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
    shard_params: bool = False,
    seeds: Sequence[int] | None = None,
    sweep: Mapping[str, Sequence[float]] | None = None,
) -> FitResult:
    """Train ``model`` on ``train`` images with Adam, evaluating on ``test`` each epoch.

    Args:
      model: a registry name (``"vae"``) or a :class:`ModelSpec`.
      train, test: ``(images, labels)``: uint8 ``[N, H, W, C]`` (or float in [0, 1]) and
        int ``[N]``, e.g. from :func:`aezoo.data.load`.
      config: model config (object or dict of overrides); ``image_shape`` comes from the data.
      epochs, batch_size, learning_rate, seed: the usual; the last partial batch is dropped.
      binarize: ``dynamic`` / ``static`` / ``none``; default: dynamic for Bernoulli decoders.
        The test set is binarized once with a fixed key.
      fused: one ``lax.scan`` per epoch (default) or the per-step jitted loop (same result).
      on_nonfinite: ``stop`` (raise :class:`NonFiniteError` at the end of the epoch with a
        NaN/inf loss or gradient norm) or ``skip`` (drop such updates; counted).
      workdir: if set, receives ``config.json``, ``metrics.jsonl``, Orbax checkpoints in
        ``checkpoints/`` (every ``checkpoint_every`` epochs and at the end, the last ``keep``
        kept), the final ``params.msgpack`` and figures.
      resume: continue from the newest valid checkpoint in ``workdir`` (bit-identical to an
        uninterrupted run). Settings must match the saved run, except ``epochs``.
      overwrite: start afresh in a ``workdir`` that holds another run (deletes its outputs).
      progress: show a progress bar and one log line per epoch (on stderr).
      devices: data parallel over the first ``devices`` devices (default: all of them, on
        every process): the batch is sharded over a ``data`` mesh axis, the state replicated
        (or FSDP-sharded with ``shard_params``). ``batch_size`` must be a multiple of it.
        Same data order and, up to float rounding, the same result as on one device.
        In a multi-host run (after ``jax.distributed.initialize``) ``train``/``test`` may be
        each process's :class:`~aezoo.train.sharding.LocalRows`; only process 0 writes
        logs, figures and params, and all write the checkpoints together.
      seeds, sweep: train many models at once with ``jax.vmap`` (see
        :func:`aezoo.train.members.fit_members`, which this delegates to); there
        ``devices`` splits the members, not the batch, over the devices.

    Returns:
      A :class:`FitResult` with the final state and one metrics record per epoch.

    Raises:
      ConfigError, ShapeError, DataError, CheckpointError: one-line messages.
      NonFiniteError: the loss or gradient norm became NaN/inf (``on_nonfinite="stop"``);
        names the step and the metric. The last checkpoint stays intact.
    """
    if seeds is not None or sweep is not None:
        from aezoo.train.members import fit_members

        if shard_params or jax.process_count() > 1:
            raise ConfigError(
                "seeds/sweep (vmapped members) run in one process and shard the members, "
                "not the params, over its devices; drop --shard-params / multi-host flags"
            )
        return fit_members(
            model,
            train,
            test,
            seeds=seeds,
            sweep=sweep,
            config=config,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            seed=seed,
            binarize=binarize,
            eval_batch_size=eval_batch_size,
            on_nonfinite=on_nonfinite,
            dataset=dataset,
            workdir=workdir,
            resume=resume,
            overwrite=overwrite,
            checkpoint_every=checkpoint_every,
            keep=keep,
            figures=figures,
            progress=progress,
            devices=devices,
        )
    spec = model if isinstance(model, ModelSpec) else get_spec(model)
    if not fused and jax.process_count() > 1:
        raise ConfigError("the per-step loop runs on one process; use the fused epoch")
    image_shape = check_splits(train, test)
    mesh = sharding.make_mesh(devices)
    num_devices = sharding.mesh_size(mesh)
    num_train = _num_examples(train)
    if isinstance(config, BaseConfig):
        if tuple(config.image_shape) != image_shape:
            config = dataclasses.replace(config, image_shape=image_shape)
        config, module = spec.make(config)
    else:
        config, module = spec.make({**dict(config or {}), "image_shape": image_shape})
    tc = TrainConfig(
        dataset=dataset,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        binarize=binarize if binarize is not None else default_binarize(config.likelihood),
        fused=fused,
        eval_batch_size=eval_batch_size,
        on_nonfinite=on_nonfinite,
        checkpoint_every=checkpoint_every,
        keep=keep,
    )
    tc.validate(num_train)
    if tc.batch_size % num_devices:
        raise ConfigError(
            f"batch_size {tc.batch_size} must be a multiple of the {num_devices} devices "
            "it is split over (or use --devices)"
        )
    num_classes = getattr(config, "num_classes", 0)
    for split_name, split in (("training", train), ("test", test)):
        if num_classes and split is not None:
            labels = _arrays(split)[1]
            lo, hi = int(np.min(labels)), int(np.max(labels))
            if lo < 0 or hi >= num_classes:
                raise ConfigError(
                    f"{split_name} labels span {lo}..{hi} but the model is conditioned on "
                    f"num_classes={num_classes} (labels 0..{num_classes - 1})"
                )
    run = _run_record(spec, config, tc)
    is_main = jax.process_index() == 0
    out_dir = _prepare_workdir(
        workdir, run, resume=resume, overwrite=overwrite, write=is_main, mesh=mesh
    )
    progress = progress and is_main

    optimizer = optax.adam(tc.learning_rate)
    init_key, train_rng, order_key = jax.random.split(jax.random.key(tc.seed), 3)
    init = functools.partial(create_train_state, spec, module, optimizer)
    state_sharding = sharding.state_shardings(jax.eval_shape(init, init_key), mesh, shard_params)
    state = jax.jit(init, out_shardings=state_sharding)(init_key)
    history: list[dict[str, float]] = []
    start_epoch = 1
    ckpt = Checkpointer(out_dir / "checkpoints", keep=tc.keep) if out_dir else None
    if ckpt is not None and resume:
        state, train_rng, order_key, history, start_epoch = resume_from(
            ckpt, run, spec.name, state, train_rng, order_key, write=is_main
        )

    # Data goes to the devices once, as uint8 rows sharded over the mesh (each process
    # holds its own rows); the test set is binarized once on device with a fixed key.
    x_train, y_train = _place(train, mesh)
    if test is not None:
        x_test, y_test = _place(test, mesh)
        x_test = _binarize_once_on_device(x_test, tc.binarize, mesh)
        num_test = _num_examples(test)
    evaluate = make_eval_fn(spec, module, batch_size=tc.eval_batch_size, mesh=mesh)
    eval_rng = jax.random.key(EVAL_SEED)

    steps_per_epoch = num_train // tc.batch_size
    kw = {
        "binarize": tc.binarize,
        "on_nonfinite": tc.on_nonfinite,
        "mesh": mesh,
        "shard_params": shard_params,
    }
    if tc.fused:
        epoch_fn = make_train_epoch(
            spec, module, optimizer, batch_size=tc.batch_size, num_examples=num_train, **kw
        )
    else:
        step_fn = make_train_step(spec, module, optimizer, **kw)

    bar = progress_bar(f"{spec.name}/{tc.dataset}", start_epoch, tc.epochs, progress, ckpt)
    compiled = False
    try:
        for epoch in range(start_epoch, tc.epochs + 1):
            epoch_key = jax.random.fold_in(order_key, epoch)
            compile_seconds = None
            if tc.fused and not compiled:
                # Compile ahead of time so the epoch timings below are steady-state.
                t0 = time.perf_counter()
                epoch_fn = epoch_fn.lower(state, x_train, y_train, train_rng, epoch_key).compile()
                compile_seconds = time.perf_counter() - t0
                compiled = True
            t0 = time.perf_counter()
            if tc.fused:
                state, metrics = epoch_fn(state, x_train, y_train, train_rng, epoch_key)
            else:
                state, metrics = run_epoch_per_step(
                    step_fn, state, x_train, y_train, train_rng, epoch_key, tc.batch_size, num_train
                )
            metrics = sharding.fetch(metrics)  # the one host fetch of the epoch
            seconds = time.perf_counter() - t0
            bad_step = int(metrics.pop("nonfinite_step"))
            bad_metric = GUARDED_METRICS[int(metrics.pop("nonfinite_metric"))]
            record: dict[str, float] = {"epoch": epoch, "step": int(sharding.fetch(state.step))}
            record.update({f"train/{k}": float(v) for k, v in metrics.items()})
            if tc.on_nonfinite == "stop" and bad_step >= 0:
                last = ckpt.epochs()[-1] if ckpt is not None and ckpt.epochs() else None
                where = (
                    f"; last good checkpoint {ckpt.path(last)} (epoch {last}) is intact"
                    if last is not None
                    else "; no checkpoint was written yet"
                )
                raise NonFiniteError(
                    f"non-finite {bad_metric} at step {bad_step} (epoch {epoch}); training "
                    f"stopped{where} (use on_nonfinite='skip' / --on-nonfinite skip to drop "
                    "such updates)"
                )
            t1 = time.perf_counter()
            if test is not None:
                test_metrics = sharding.fetch(
                    evaluate(state.params, x_test, y_test, eval_rng, num_examples=num_test)
                )
                record.update({f"test/{k}": float(v) for k, v in test_metrics.items()})
            record["examples_per_sec"] = steps_per_epoch * tc.batch_size / seconds
            record["seconds"] = seconds
            record["eval_seconds"] = time.perf_counter() - t1
            if compile_seconds is not None:
                record["compile_seconds"] = compile_seconds
            history.append(record)
            if out_dir is not None:
                if is_main:
                    _append_jsonl(out_dir / "metrics.jsonl", record)
                if epoch % tc.checkpoint_every == 0 or epoch == tc.epochs:
                    meta = {**run, "epoch": epoch, "history": history}
                    ckpt.save(epoch, _saved_tree(state, train_rng, order_key), meta)
            _report(bar, record, tc.epochs, progress)
    finally:
        bar.close()
        if ckpt is not None:
            ckpt.close()

    if out_dir is not None:
        params = sharding.fetch(state.params)  # collective when the params are sharded
        if is_main:
            save_params(out_dir / "params.msgpack", params)
        skipped = sum(r.get("train/skipped", 0) for r in history)
        if skipped and progress:
            print(f"{int(skipped)} non-finite updates were skipped", file=sys.stderr)
        if figures and is_main:
            split = _arrays(test if test is not None else train)
            write_figures(out_dir, spec, module, params, split)
    return FitResult(spec, module, config, state, history, out_dir)


def run_epoch_per_step(
    step_fn,
    state: TrainState,
    images,
    labels,
    rng,
    epoch_key,
    batch_size: int,
    num_examples: int | None = None,
) -> tuple[TrainState, dict[str, jax.Array]]:
    """The per-step jitted loop over one epoch: same batches and keys as the fused epoch."""
    start = int(state.step)  # read before the state is donated to the first step
    collected = []
    n = images.shape[0] if num_examples is None else num_examples
    for idx in epoch_batches(epoch_key, n, batch_size):
        state, metrics = step_fn(state, gather_batch(images, labels, idx), rng)
        collected.append(metrics)
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *collected)
    return state, jax.jit(summarize)(stacked, start, state.params)


def write_figures(out_dir: pathlib.Path, spec: ModelSpec, module, params, split: Arrays) -> None:
    """Write reconstructions.png (inputs above reconstructions), samples.png for generative
    models, and the model's own figures (``spec.figures``)."""
    from aezoo.eval import save_image_grid, save_image_rows

    variables = {"params": params}
    images = data.to_float(jnp.asarray(_as_uint8(split[0][:10])))
    labels = jnp.asarray(split[1][:10], jnp.int32)
    recon = module.apply(variables, images, label=labels, method="reconstruct")["mean"]
    save_image_rows(
        out_dir / "reconstructions.png",
        [np.asarray(images), np.asarray(recon)],
        ["input", "reconstruction"],
        title=f"{spec.name}: test inputs and reconstructions",
    )
    key = jax.random.key(EVAL_SEED)
    if spec.generative:
        samples = module.apply(variables, 50, key, method="sample")["mean"]
        save_image_grid(
            out_dir / "samples.png",
            np.asarray(samples),
            title=f"{spec.name}: samples from the prior",
        )
    if spec.figures is not None:
        spec.figures(out_dir, module, params, (_as_uint8(split[0]), np.asarray(split[1])), key)


def save_params(path: pathlib.Path, params: Any) -> None:
    """Write params atomically (temp file + rename): a crash never leaves a torn file."""
    payload = flax.serialization.msgpack_serialize(jax.device_get(params))
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
        f.write(payload)
    os.replace(f.name, path)


def load_params(path: str | os.PathLike) -> Any:
    """Params written by :func:`save_params` (nested dicts of numpy arrays)."""
    return flax.serialization.msgpack_restore(pathlib.Path(path).read_bytes())


def resume_from(ckpt: Checkpointer, run, model: str, state, train_rng, order_key, *, write=True):
    """``(state, train_rng, order_key, history, start_epoch)`` from the newest checkpoint that
    restores (the given ones and epoch 1 if there is none); metrics.jsonl is cut back to the
    checkpointed history. Works for one state and for stacked members alike."""
    history, start_epoch = [], 1
    restored = ckpt.restore_latest(_saved_tree(state, train_rng, order_key), model=model)
    if restored is not None:
        epoch, tree, meta = restored
        _check_meta(meta, run, ckpt.path(epoch))
        state = tree["state"]
        train_rng = jax.random.wrap_key_data(tree["rng"])
        order_key = jax.random.wrap_key_data(tree["order_rng"])
        history = list(meta["history"])
        start_epoch = epoch + 1
    if write:
        _rewrite_jsonl(ckpt.directory.parent / "metrics.jsonl", history)
    return state, train_rng, order_key, history, start_epoch


def progress_bar(desc: str, start_epoch: int, epochs: int, progress: bool, ckpt=None):
    """The per-epoch tqdm bar on stderr (none when stderr is not a terminal), with a line
    naming the checkpoint a resumed run starts from."""
    bar = tqdm(
        initial=start_epoch - 1,
        total=epochs,
        unit="epoch",
        desc=desc,
        disable=None if progress else True,  # None: no bar when stderr is not a terminal
        file=sys.stderr,
        dynamic_ncols=True,
    )
    if progress and start_epoch > 1:
        bar.write(
            f"resumed from {ckpt.path(start_epoch - 1)} (epoch {start_epoch - 1})", file=sys.stderr
        )
    return bar


def _saved_tree(state: TrainState, train_rng: jax.Array, order_key: jax.Array) -> dict:
    """What a checkpoint holds (for one state or for stacked members and their keys)."""
    return {
        "state": state,
        "rng": np.asarray(jax.random.key_data(train_rng)),
        "order_rng": np.asarray(jax.random.key_data(order_key)),
    }


def check_splits(train: Split, test: Split | None) -> tuple[int, ...]:
    """One-line errors for unusable training/test data; returns the image shape."""
    images, labels = _arrays(train)
    data.check_dataset(images, labels, what="training images")
    if test is not None:
        data.check_dataset(*_arrays(test), what="test images")
        if tuple(_arrays(test)[0].shape[1:]) != tuple(images.shape[1:]):
            raise ShapeError(
                f"test images {tuple(_arrays(test)[0].shape[1:])} differ in shape from training "
                f"images {tuple(images.shape[1:])}"
            )
    return tuple(int(d) for d in images.shape[1:])


def config_record(run: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """What ``config.json`` holds: the run record plus versions and the device."""
    return {
        **run,
        "versions": {"jax": jax.__version__, "aezoo": _version()},
        "device": jax.devices()[0].device_kind,
        **extra,
    }


def _arrays(split: Split) -> Arrays:
    return (split.images, split.labels) if isinstance(split, LocalRows) else split


def _num_examples(split: Split) -> int:
    return split.num_examples if isinstance(split, LocalRows) else len(split[0])


def _place(split: Split, mesh) -> tuple[jax.Array, jax.Array]:
    """A split as global uint8 images and int32 labels, rows sharded over ``mesh``."""
    images, labels = _arrays(split)
    layout = sharding.row_layout(_num_examples(split), mesh)
    if isinstance(split, LocalRows):
        if split.start != layout.start or len(images) != layout.real_stop - layout.start:
            raise ConfigError(
                f"process {jax.process_index()} was given rows {split.start}.."
                f"{split.start + len(images)} but owns rows {layout.start}..{layout.real_stop} "
                "on this mesh (load them with aezoo.train.sharding.load_local_rows)"
            )
    else:
        images = images[layout.start : layout.real_stop]
        labels = labels[layout.start : layout.real_stop]
    x = sharding.put_rows(_as_uint8(images), layout, mesh)
    y = sharding.put_rows(np.asarray(labels, np.int32), layout, mesh)
    return x, y


def _binarize_once_on_device(x: jax.Array, mode: str, mesh) -> jax.Array:
    """:func:`aezoo.data.binarize_once` of the global array, computed where its rows live."""
    if mode == "none":
        return x
    binarize = functools.partial(data.binarize_once, mode=mode)
    return jax.jit(binarize, out_shardings=sharding.row_sharding(mesh))(x)


def _as_uint8(images) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    return np.round(images * 255.0).astype(np.uint8)


def _run_record(spec: ModelSpec, config: BaseConfig, tc: TrainConfig) -> dict[str, Any]:
    """The JSON description of a run (config.json, checkpoint metadata)."""
    return json.loads(
        json.dumps(
            {
                "model": spec.name,
                "model_config": config.to_dict(),
                "train": dataclasses.asdict(tc),
            }
        )
    )


def _differences(saved: Mapping[str, Any], run: Mapping[str, Any]) -> list[str]:
    diffs = []
    if saved.get("model") != run["model"]:
        diffs.append(f"model {saved.get('model')!r} != {run['model']!r}")
    if saved.get("members") != run.get("members"):

        def what(members) -> str:
            if not members:
                return "one model"
            return f"{len(members)} vmapped models ({', '.join(m['name'] for m in members)})"

        diffs.append(f"{what(saved.get('members'))} != {what(run.get('members'))}")
    for section in ("model_config", "train"):
        old, new = saved.get(section, {}), run[section]
        for key in sorted(set(old) | set(new)):
            if key in RESUMABLE_CHANGES or key == "fused":
                continue
            if old.get(key) != new.get(key):
                diffs.append(f"{key} {old.get(key)!r} != {new.get(key)!r}")
    return diffs


def _check_meta(meta: Mapping[str, Any], run: Mapping[str, Any], path: pathlib.Path) -> None:
    diffs = _differences(meta, run)
    if diffs:
        raise CheckpointError(
            f"checkpoint {path} belongs to another run ({'; '.join(diffs)}); use another --workdir"
        )


def _prepare_workdir(
    workdir, run: dict[str, Any], *, resume: bool, overwrite: bool, write: bool = True, mesh=None
):
    if workdir is None:
        if resume:
            raise ConfigError("resume needs a workdir to resume from")
        return None
    out_dir = pathlib.Path(workdir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"workdir {out_dir} exists and is not a directory")
    config_path = out_dir / "config.json"
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite exclude each other")
    if resume:
        if not config_path.exists():
            raise CheckpointError(f"nothing to resume: {out_dir} holds no run (no config.json)")
        saved = _read_config(config_path)
        diffs = _differences(saved, run)
        if diffs:
            raise ConfigError(
                f"settings conflict with the run in {out_dir}: {'; '.join(diffs)}; "
                "drop the conflicting flags to resume it"
            )
    elif (config_path.exists() or (out_dir / "checkpoints").exists()) and not overwrite:
        raise ConfigError(
            f"workdir {out_dir} already holds a run; pass --resume to continue it, "
            "--overwrite to start over, or choose another --workdir"
        )
    # Every process has checked the directory; then only the writer changes it.
    _barrier("aezoo-workdir-checked")
    if write:
        if not resume:
            for name in ("checkpoints", "metrics.jsonl", "params.msgpack", "members"):
                path = out_dir / name
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
        out_dir.mkdir(parents=True, exist_ok=True)
        full = config_record(run, devices=sharding.mesh_size(mesh), processes=jax.process_count())
        _atomic_write(config_path, json.dumps(full, indent=2) + "\n")
        if not resume:
            (out_dir / "metrics.jsonl").write_text("")
    _barrier("aezoo-workdir-ready")
    return out_dir


def _barrier(name: str) -> None:
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def _read_config(path: pathlib.Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"cannot read {path}: {e}") from None


def _atomic_write(path: pathlib.Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as f:
        f.write(text)
    os.replace(f.name, path)


def _rewrite_jsonl(path: pathlib.Path, records: list[Mapping[str, Any]]) -> None:
    """Make metrics.jsonl hold exactly the checkpointed history (drops lines of lost epochs)."""
    _atomic_write(path, "".join(json.dumps(r) + "\n" for r in records))


def _append_jsonl(path: pathlib.Path, record: Mapping[str, Any]) -> None:
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")


def _report(bar, record: Mapping[str, float], epochs: int, progress: bool) -> None:
    if not progress:
        return
    test = record.get("test/loss")
    bar.set_postfix(
        loss=f"{record['train/loss']:.2f}",
        test=f"{test:.2f}" if test is not None else "-",
        ex_s=f"{record['examples_per_sec']:.0f}",
    )
    bar.update(1)
    line = f"epoch {record['epoch']}/{epochs}  train/loss {record['train/loss']:.3f}"
    if test is not None:
        line += f"  test/loss {test:.3f}"
    line += f"  {record['examples_per_sec']:.0f} ex/s  {record['seconds']:.2f}s"
    if record.get("train/skipped"):
        line += f"  skipped {int(record['train/skipped'])}"
    if "compile_seconds" in record:
        line += f"  (compile {record['compile_seconds']:.1f}s)"
    bar.write(line, file=sys.stderr)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aezoo")
    except PackageNotFoundError:
        return "unknown"
