"""A run's directory: writing its record (``config.json``), metric lines and params, and the
checks that keep one run from overwriting or resuming another (what a record says and
whether it may be resumed: :mod:`aezoo.train.records`).

Every write here is atomic (temporary file + rename) or append-only, so a crash never
leaves a torn file.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import tempfile
from collections.abc import Mapping
from typing import Any

import flax.serialization
import jax

from aezoo import data
from aezoo._validate import output_dir
from aezoo.errors import CheckpointError, ConfigError
from aezoo.train import records

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
    output_dir(out_dir, "workdir", datasets=data.source_paths(run["train"]["dataset"]), runs=False)
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
        for task_outputs in out_dir.glob("task-*"):  # tasks run as evaluators of the run
            shutil.rmtree(task_outputs)
        out_dir.mkdir(parents=True, exist_ok=True)
        write_config(out_dir, run, **extra)
        (out_dir / "metrics.jsonl").write_text("")
    barrier("aezoo-workdir-ready")
    return out_dir


def _check_resumable(out_dir: pathlib.Path, run: Mapping[str, Any]) -> None:
    """One line unless ``out_dir`` holds a run that ``run`` may continue."""
    diffs = records.differences(records.saved_run(out_dir), run)
    if diffs:
        raise ConfigError(
            f"settings conflict with the run in {out_dir}: {'; '.join(diffs)}; "
            "drop the conflicting flags to resume it"
        )


def write_config(out_dir: pathlib.Path, run: Mapping[str, Any], **extra: Any) -> None:
    """Write ``config.json``: the run record, versions, device and ``extra``."""
    record = records.config_record(run, processes=jax.process_count(), **extra)
    atomic_write(out_dir / "config.json", json.dumps(record, indent=2) + "\n")


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


__all__ = [
    "RUN_OUTPUTS",
    "append_jsonl",
    "atomic_write",
    "barrier",
    "load_params",
    "prepare",
    "save_params",
    "write_config",
    "write_jsonl",
]
