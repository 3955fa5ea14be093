"""``fit``: epochs of the fused (or per-step) training, test evaluation, logs, outputs."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pathlib
import sys
import tempfile
import time
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from aezoo import data
from aezoo.errors import ConfigError, NonFiniteError
from aezoo.models import BaseConfig, ModelSpec, get_spec
from aezoo.train.state import TrainState, create_train_state
from aezoo.train.step import (
    epoch_batches,
    gather_batch,
    make_eval_fn,
    make_train_epoch,
    make_train_step,
)

# Test-set evaluation noise (VAE samples) is the same for every run and every epoch, so test
# numbers are comparable across seeds and epochs.
EVAL_SEED = 0
Arrays = tuple[np.ndarray, np.ndarray]


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

    def validate(self, num_train: int) -> None:
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 0:
            raise ConfigError(f"epochs must be an integer >= 0; got {self.epochs!r}")
        if not isinstance(self.batch_size, int) or self.batch_size <= 0:
            raise ConfigError(f"batch_size must be a positive integer; got {self.batch_size!r}")
        if self.batch_size > num_train:
            raise ConfigError(
                f"batch_size {self.batch_size} is larger than the training split "
                f"({num_train} examples); use --batch-size <= {num_train}"
            )
        lr = self.learning_rate
        if not isinstance(lr, int | float) or not math.isfinite(lr) or lr <= 0:
            raise ConfigError(f"learning_rate must be a finite number > 0; got {lr!r}")
        if not isinstance(self.eval_batch_size, int) or self.eval_batch_size <= 0:
            raise ConfigError(
                f"eval_batch_size must be a positive integer; got {self.eval_batch_size!r}"
            )
        if self.binarize not in data.BINARIZE_MODES:
            raise ConfigError(
                f"unknown binarize mode {self.binarize!r}; "
                f"expected one of {', '.join(data.BINARIZE_MODES)}"
            )


def default_binarize(likelihood: str) -> str:
    """Bernoulli decoders get dynamically binarized targets; Gaussian ones the intensities."""
    return "dynamic" if likelihood == "bernoulli" else "none"


def fit(
    model: str | ModelSpec,
    train: Arrays,
    test: Arrays | None = None,
    *,
    config: BaseConfig | Mapping[str, Any] | None = None,
    epochs: int = 10,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    seed: int = 0,
    binarize: str | None = None,
    fused: bool = True,
    eval_batch_size: int = 1000,
    dataset: str = "custom",
    workdir: str | os.PathLike | None = None,
    figures: bool = True,
    progress: bool = True,
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
      workdir: if set, receives ``config.json``, ``metrics.jsonl``, ``params.msgpack`` (after
        every finite epoch) and figures.
      progress: show a progress bar and one log line per epoch (on stderr).

    Returns:
      A :class:`FitResult` with the final state and one metrics record per epoch.

    Raises:
      ConfigError, ShapeError, DataError: one-line messages for bad settings or data.
      NonFiniteError: the loss became NaN/inf; names the step. Saved params stay the last
        good ones.
    """
    spec = model if isinstance(model, ModelSpec) else get_spec(model)
    train_images, train_labels = train
    data.check_dataset(train_images, train_labels, what="training images")
    if test is not None:
        data.check_dataset(test[0], test[1], what="test images")
        if tuple(test[0].shape[1:]) != tuple(train_images.shape[1:]):
            raise data_shape_error(train_images.shape, test[0].shape)
    image_shape = tuple(int(d) for d in train_images.shape[1:])
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
    )
    tc.validate(len(train_images))
    out_dir = _prepare_workdir(workdir, spec, config, tc)

    optimizer = optax.adam(tc.learning_rate)
    root = jax.random.key(tc.seed)
    init_key, train_rng, order_key = jax.random.split(root, 3)
    state = create_train_state(module, optimizer, init_key)

    # Data goes to the device once, as uint8; the test set is binarized once, fixed key.
    x_train = jax.device_put(_as_uint8(train_images))
    y_train = jax.device_put(np.asarray(train_labels, np.int32))
    if test is not None:
        x_test = jax.device_put(data.binarize_once(_as_uint8(test[0]), tc.binarize))
        y_test = jax.device_put(np.asarray(test[1], np.int32))
    evaluate = make_eval_fn(spec, module, batch_size=min(tc.eval_batch_size, 10**9))
    eval_rng = jax.random.key(EVAL_SEED)

    steps_per_epoch = len(train_images) // tc.batch_size
    if tc.fused:
        epoch_fn = make_train_epoch(
            spec, module, optimizer, batch_size=tc.batch_size, binarize=tc.binarize
        )
    else:
        step_fn = make_train_step(spec, module, optimizer, binarize=tc.binarize)

    history: list[dict[str, float]] = []
    bar = tqdm(
        total=tc.epochs,
        unit="epoch",
        desc=f"{spec.name}/{tc.dataset}",
        disable=None if progress else True,  # None: no bar when stderr is not a terminal
        file=sys.stderr,
        dynamic_ncols=True,
    )
    compile_seconds = 0.0
    try:
        for epoch in range(1, tc.epochs + 1):
            epoch_key = jax.random.fold_in(order_key, epoch)
            if tc.fused and epoch == 1:
                # Compile ahead of time so the epoch timings below are steady-state.
                t0 = time.perf_counter()
                epoch_fn = epoch_fn.lower(state, x_train, y_train, train_rng, epoch_key).compile()
                compile_seconds = time.perf_counter() - t0
            t0 = time.perf_counter()
            if tc.fused:
                state, metrics = epoch_fn(state, x_train, y_train, train_rng, epoch_key)
            else:
                state, metrics = run_epoch_per_step(
                    step_fn, state, x_train, y_train, train_rng, epoch_key, tc.batch_size
                )
            metrics = jax.device_get(metrics)  # the one host fetch of the epoch
            seconds = time.perf_counter() - t0
            record: dict[str, float] = {"epoch": epoch, "step": int(state.step)}
            bad_step = int(metrics.pop("nonfinite_step"))
            record.update({f"train/{k}": float(v) for k, v in metrics.items()})
            if bad_step >= 0 or not np.isfinite(record["train/loss"]):
                raise NonFiniteError(
                    f"non-finite loss at step {bad_step} (epoch {epoch}); training stopped"
                    + (
                        f"; last good parameters (epoch {epoch - 1}) kept in "
                        f"{out_dir / 'params.msgpack'}"
                        if out_dir and epoch > 1
                        else ""
                    )
                )
            t1 = time.perf_counter()
            if test is not None:
                test_metrics = jax.device_get(evaluate(state.params, x_test, y_test, eval_rng))
                record.update({f"test/{k}": float(v) for k, v in test_metrics.items()})
            record["examples_per_sec"] = steps_per_epoch * tc.batch_size / seconds
            record["seconds"] = seconds
            record["eval_seconds"] = time.perf_counter() - t1
            if epoch == 1 and tc.fused:
                record["compile_seconds"] = compile_seconds
            history.append(record)
            if out_dir is not None:
                _append_jsonl(out_dir / "metrics.jsonl", record)
                save_params(out_dir / "params.msgpack", state.params)
            _report(bar, record, tc.epochs, progress)
    finally:
        bar.close()

    if out_dir is not None and figures:
        write_figures(out_dir, spec, module, state.params, test if test is not None else train)
    return FitResult(spec, module, config, state, history, out_dir)


def run_epoch_per_step(
    step_fn, state: TrainState, images, labels, rng, epoch_key, batch_size: int
) -> tuple[TrainState, dict[str, jax.Array]]:
    """The per-step jitted loop over one epoch: same batches and keys as the fused epoch."""
    from aezoo.train.step import summarize

    start = int(state.step)  # read before the state is donated to the first step
    collected = []
    for idx in epoch_batches(epoch_key, images.shape[0], batch_size):
        state, metrics = step_fn(state, gather_batch(images, labels, idx), rng)
        collected.append(metrics)
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *collected)
    return state, jax.jit(summarize)(stacked, start, state.params)


def write_figures(out_dir: pathlib.Path, spec: ModelSpec, module, params, split: Arrays) -> None:
    """Write reconstructions.png (inputs above reconstructions) and, if generative, samples.png."""
    from aezoo.eval import save_image_grid, save_image_rows

    images = data.to_float(jnp.asarray(_as_uint8(split[0][:10])))
    recon = module.apply({"params": params}, images, method="reconstruct")["mean"]
    save_image_rows(
        out_dir / "reconstructions.png",
        [np.asarray(images), np.asarray(recon)],
        ["input", "reconstruction"],
        title=f"{spec.name}: test inputs and reconstructions",
    )
    if spec.generative:
        samples = module.apply({"params": params}, 50, jax.random.key(EVAL_SEED), method="sample")[
            "mean"
        ]
        save_image_grid(
            out_dir / "samples.png",
            np.asarray(samples),
            title=f"{spec.name}: samples from the prior",
        )


def save_params(path: pathlib.Path, params: Any) -> None:
    """Write params atomically (temp file + rename): a crash never leaves a torn file."""
    payload = flax.serialization.msgpack_serialize(jax.device_get(params))
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
        f.write(payload)
    os.replace(f.name, path)


def load_params(path: str | os.PathLike) -> Any:
    """Params written by :func:`save_params` (nested dicts of numpy arrays)."""
    return flax.serialization.msgpack_restore(pathlib.Path(path).read_bytes())


def data_shape_error(train_shape, test_shape):
    from aezoo.errors import ShapeError

    return ShapeError(
        f"test images {tuple(test_shape[1:])} differ in shape from training images "
        f"{tuple(train_shape[1:])}"
    )


def _as_uint8(images) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    return np.round(images * 255.0).astype(np.uint8)


def _prepare_workdir(workdir, spec: ModelSpec, config: BaseConfig, tc: TrainConfig):
    if workdir is None:
        return None
    out_dir = pathlib.Path(workdir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run = {
        "model": spec.name,
        "model_config": config.to_dict(),
        "train": dataclasses.asdict(tc),
        "versions": {"jax": jax.__version__, "aezoo": _version()},
        "device": jax.devices()[0].device_kind,
    }
    config_path = out_dir / "config.json"
    if config_path.exists():
        try:
            old = json.loads(config_path.read_text())
        except (OSError, json.JSONDecodeError):
            old = None
        same = old is not None and all(
            json.loads(json.dumps(run[k])) == old.get(k) for k in ("model", "model_config", "train")
        )
        if not same:
            raise ConfigError(
                f"workdir {out_dir} already holds a different run (config.json differs); "
                "choose another --workdir or delete it"
            )
    config_path.write_text(json.dumps(run, indent=2) + "\n")
    (out_dir / "metrics.jsonl").write_text("")  # a rerun of the same config starts afresh
    return out_dir


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
    if "compile_seconds" in record:
        line += f"  (compile {record['compile_seconds']:.1f}s)"
    bar.write(line, file=sys.stderr)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aezoo")
    except PackageNotFoundError:
        return "unknown"
