"""A run's directory: its record (``config.json``), metric lines, params, figures, and the
checks that keep one run from overwriting or resuming another.

Every write here is atomic (temporary file + rename) or append-only, so a crash never
leaves a torn file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import tempfile
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np

from aezoo import data, viz
from aezoo._validate import writable_dir
from aezoo.errors import CheckpointError, ConfigError
from aezoo.models import BaseConfig, ModelSpec, get_spec
from aezoo.train.config import TrainConfig
from aezoo.train.step import EVAL_SEED

# What a fresh run (or --overwrite) clears before it starts: the outputs of training and of
# `aezoo eval`, and every figure (*.png) in the workdir itself.
RUN_OUTPUTS = (
    "checkpoints",
    "metrics.jsonl",
    "params.msgpack",
    "members",
    "tensorboard",
    "eval.json",
    "report.md",
    "summary.json",
    "summary.md",
    "best",
    "disentanglement.json",
    "disentanglement.md",
)


def run_record(
    spec: ModelSpec, config: BaseConfig, train: TrainConfig, **extra: Any
) -> dict[str, Any]:
    """The JSON description of a run (``config.json`` and checkpoint metadata)."""
    record = {"model": spec.name, "model_config": config.to_dict(), "train": train.to_record()}
    return json.loads(json.dumps({**record, **extra}))


def config_record(run: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """What ``config.json`` holds: the run record plus versions and the device."""
    return {
        **run,
        "versions": {"jax": jax.__version__, "aezoo": _version()},
        "device": jax.devices()[0].device_kind,
        **extra,
    }


def differences(saved: Mapping[str, Any], run: Mapping[str, Any]) -> list[str]:
    """What keeps ``run`` from resuming ``saved``: model, set of members, model settings and
    the training settings that may not change (``TrainConfig.diff``)."""
    diffs = []
    if saved.get("model") != run["model"]:
        diffs.append(f"model {saved.get('model')!r} != {run['model']!r}")
    if saved.get("members") != run.get("members"):
        diffs.append(f"{_describe(saved.get('members'))} != {_describe(run.get('members'))}")
    old, new = saved.get("model_config", {}), run["model_config"]
    resumable = {
        f.name
        for f in dataclasses.fields(get_spec(run["model"]).config_cls)
        if f.metadata.get("resumable")
    }
    for key in sorted(set(old) | set(new) - resumable):
        if old.get(key) != new.get(key):
            diffs.append(f"{key} {old.get(key)!r} != {new.get(key)!r}")
    diffs += TrainConfig.from_record(run["train"]).diff(saved.get("train", {}))
    if bool(saved.get("custom_optimizer")) != bool(run.get("custom_optimizer")):
        diffs.append(f"optimizer {_optimizer(saved)} != {_optimizer(run)}")
    return diffs


def _optimizer(run: Mapping[str, Any]) -> str:
    return "given to fit()" if run.get("custom_optimizer") else "built from the settings"


def _describe(members: Any) -> str:
    if not members:
        return "one model"
    return f"{len(members)} vmapped models ({', '.join(m['name'] for m in members)})"


def prepare(
    workdir: str | os.PathLike | None,
    run: dict[str, Any],
    *,
    resume: bool,
    overwrite: bool,
    write: bool = True,
    **extra: Any,
) -> pathlib.Path | None:
    """Check ``workdir`` for this run (fresh, resume or overwrite), then (on the writing
    process) clear old outputs and write ``config.json`` (a resumed run writes it once its
    checkpoint has restored: :func:`write_config`). Every process checks first."""
    if workdir is None:
        if resume:
            raise ConfigError("resume needs a workdir to resume from")
        return None
    out_dir = pathlib.Path(workdir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"workdir {out_dir} exists and is not a directory")
    writable_dir(out_dir, "workdir")
    config_path = out_dir / "config.json"
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite exclude each other")
    if resume:
        _check_resumable(out_dir, run)
    elif (config_path.exists() or (out_dir / "checkpoints").exists()) and not overwrite:
        raise ConfigError(
            f"workdir {out_dir} already holds a run; pass --resume to continue it, "
            "--overwrite to start over, or choose another --workdir"
        )
    barrier("aezoo-workdir-checked")  # every process has checked; only the writer changes it
    if write and not resume:
        _remove(out_dir, RUN_OUTPUTS)
        for figure in out_dir.glob("*.png"):
            figure.unlink()
        out_dir.mkdir(parents=True, exist_ok=True)
        write_config(out_dir, run, **extra)
        (out_dir / "metrics.jsonl").write_text("")
    barrier("aezoo-workdir-ready")
    return out_dir


def _check_resumable(out_dir: pathlib.Path, run: Mapping[str, Any]) -> None:
    """One line unless ``out_dir`` holds a run that ``run`` may continue."""
    config_path = out_dir / "config.json"
    if not config_path.exists():
        raise CheckpointError(f"nothing to resume: {out_dir} holds no run (no config.json)")
    diffs = differences(read_config(config_path), run)
    if diffs:
        raise ConfigError(
            f"settings conflict with the run in {out_dir}: {'; '.join(diffs)}; "
            "drop the conflicting flags to resume it"
        )


def write_config(out_dir: pathlib.Path, run: Mapping[str, Any], **extra: Any) -> None:
    """Write ``config.json``: the run record, versions, device and ``extra``."""
    record = config_record(run, processes=jax.process_count(), **extra)
    atomic_write(out_dir / "config.json", json.dumps(record, indent=2) + "\n")


def resolve_settings(
    spec: ModelSpec,
    workdir: pathlib.Path,
    given: Mapping[str, Any],
    given_model: Mapping[str, Any],
    *,
    resume: bool,
) -> tuple[TrainConfig, BaseConfig]:
    """The settings of a command-line run: the flags given over the defaults or, to resume,
    over the run saved in ``workdir`` (a flag that contradicts it is then reported by
    :func:`prepare`, with the other differences)."""
    train: dict[str, Any] = dict(given)
    model = dict(given_model)
    if resume:
        path = workdir / "config.json"
        if not path.is_file():
            raise ConfigError(f"nothing to resume: {workdir} holds no run (no config.json)")
        saved = read_config(path)
        if saved.get("model") != spec.name:
            raise ConfigError(
                f"{workdir} holds a {saved.get('model')!r} run, not {spec.name!r}; resume it "
                f"with `aezoo train {saved.get('model')} --resume --workdir {workdir}`"
            )
        train = {**TrainConfig.from_record(saved.get("train", {})).to_record(), **given}
        model = {**saved.get("model_config", {}), **given_model}
        model.pop("image_shape", None)
    config = spec.make_config(**model)
    return TrainConfig(**train).resolved(config.likelihood), config


def read_config(path: pathlib.Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"cannot read {path}: {e}") from None


def atomic_write(path: pathlib.Path, text: str | bytes) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, with the mode a
    plain ``open`` would give (0666 less the umask: readable by others on a shared disk)."""
    mode = "wb" if isinstance(text, bytes) else "w"
    with tempfile.NamedTemporaryFile(mode, dir=path.parent, suffix=".tmp", delete=False) as f:
        f.write(text)
    os.chmod(f.name, 0o666 & ~_umask())
    os.replace(f.name, path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_jsonl(path: pathlib.Path, records: list[Mapping[str, Any]]) -> None:
    """Make ``path`` hold exactly ``records`` (drops the lines of lost epochs on resume)."""
    atomic_write(path, "".join(json.dumps(r) + "\n" for r in records))


def append_jsonl(path: pathlib.Path, records: list[Mapping[str, Any]]) -> None:
    with path.open("a") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)


def save_params(path: pathlib.Path, params: Any) -> None:
    """Write params atomically (temp file + rename): a crash never leaves a torn file."""
    atomic_write(path, flax.serialization.msgpack_serialize(jax.device_get(params)))


def load_params(path: str | os.PathLike) -> Any:
    """Params written by :func:`save_params` (nested dicts of numpy arrays).

    Raises:
      CheckpointError: the file is missing, unreadable, truncated or not msgpack params.
    """
    try:
        params = flax.serialization.msgpack_restore(pathlib.Path(path).read_bytes())
    except Exception as e:  # msgpack raises several unrelated types for a torn file
        raise CheckpointError(f"cannot read params from {path}: {type(e).__name__}: {e}") from None
    if not isinstance(params, dict):
        raise CheckpointError(f"{path} does not hold aezoo params (got {type(params).__name__})")
    return params


def write_figures(
    out_dir: pathlib.Path, spec: ModelSpec, module: nn.Module, params: Any, split: tuple
) -> None:
    """Write reconstructions.png (inputs above reconstructions), samples.png for generative
    models, and the model's own figures (``spec.figures``)."""
    if data.is_vectors(np.shape(split[0])):  # tabular: no images to show
        return
    variables = {"params": params}
    uint8 = as_uint8(split[0])
    images = data.to_float(jnp.asarray(uint8[:10]))  # vectors: float32 as they are
    labels = jnp.asarray(split[1][:10], jnp.int32)
    recon = module.apply(variables, images, label=labels, method="reconstruct")["mean"]
    viz.save_image_rows(
        out_dir / "reconstructions.png",
        [np.asarray(images), np.asarray(recon)],
        ["input", "reconstruction"],
        title=f"{spec.name}: test inputs and reconstructions",
    )
    key = jax.random.key(EVAL_SEED)
    if spec.generative:
        samples = module.apply(variables, 50, key, method="sample")["mean"]
        viz.save_image_grid(
            out_dir / "samples.png",
            np.asarray(samples),
            title=f"{spec.name}: samples from the prior",
        )
    if spec.figures is not None:
        spec.figures(out_dir, module, params, (uint8, np.asarray(split[1])), key)


def as_uint8(images: Any) -> np.ndarray:
    """Images as uint8 (floats in [0, 1] are scaled and rounded) to keep on the device;
    tabular vectors ``[N, 1, 1, D]`` stay float32 (they are not 8-bit intensities)."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    if data.is_vectors(images.shape):
        return images.astype(np.float32)
    return np.round(images * 255.0).astype(np.uint8)


def barrier(name: str) -> None:
    """Wait for every process of a multi-host run (nothing on one process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def _remove(out_dir: pathlib.Path, names: tuple[str, ...]) -> None:
    for name in names:
        path = out_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aezoo")
    except PackageNotFoundError:
        return "unknown"


__all__ = [
    "append_jsonl",
    "as_uint8",
    "atomic_write",
    "config_record",
    "differences",
    "load_params",
    "prepare",
    "read_config",
    "resolve_settings",
    "run_record",
    "save_params",
    "write_config",
    "write_figures",
    "write_jsonl",
]
