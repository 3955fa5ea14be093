"""A run's directory: writing its record (``config.json``), metric lines and params, and the
checks that keep one run from overwriting or resuming another (what a record says and
whether it may be resumed: :mod:`aezoo.train.records`).

Every write here is atomic (temporary file + rename) or append-only, so a crash never
leaves a torn file.
"""

from __future__ import annotations

import os
import pathlib
import shutil
from collections.abc import Mapping
from typing import Any

import flax.serialization
import jax

from aezoo import data
from aezoo._files import OUTPUTS_FILE, atomic_write, recorded_outputs, strict_json
from aezoo._lock import LOCK_NAME
from aezoo._validate import output_dir
from aezoo.errors import CheckpointError, ConfigError
from aezoo.train import records
from aezoo.viz import drawn_by_aezoo

# What aezoo writes in a run folder, and so what --overwrite removes: the outputs of training
# and of `aezoo eval`, fitted samplers, every PNG figure aezoo drew (marked in the file),
# every task's `task-NAME/` folder that holds its `NAME.json`, and what an evaluator or a
# plug-in declared when it wrote it (Run.write: .aezoo-outputs). Nothing else is touched.
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
    "samplers",
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
    process) remove aezoo's old outputs (``overwrite``) and write ``config.json`` (a resumed
    run writes it once its checkpoint has restored: :func:`write_config`). Every process
    checks first. A fresh run takes only a new or empty folder, or with ``overwrite`` one
    that holds a run; a folder holding anything else is refused and left as it is."""
    if workdir is None:
        if resume:
            raise ConfigError("resume needs a workdir to resume from")
        return None
    out_dir = pathlib.Path(workdir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"workdir {out_dir} exists and is not a directory")
    output_dir(out_dir, "workdir", datasets=data.source_paths(run.dataset_name), runs=False)
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite exclude each other")
    if resume:
        _check_resumable(out_dir, run)
    else:
        _check_fresh(out_dir, overwrite)
    barrier("aezoo-workdir-checked")  # every process has checked; only the writer changes it
    if write and not resume:
        remove_run_outputs(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        write_config(out_dir, run, **extra)
        atomic_write(out_dir / "metrics.jsonl", "")
    barrier("aezoo-workdir-ready")
    return out_dir


def holds_run(folder: pathlib.Path) -> bool:
    """Whether ``folder`` holds an aezoo run (its record or its checkpoints)."""
    return (folder / "config.json").exists() or (folder / "checkpoints").exists()


def _check_fresh(out_dir: pathlib.Path, overwrite: bool) -> None:
    """One line unless a fresh run may write into ``out_dir``: new, empty (but for its
    lock), or (with ``overwrite``) holding a run."""
    if holds_run(out_dir):
        if not overwrite:
            raise ConfigError(
                f"workdir {out_dir} already holds a run; pass --resume to continue it, "
                "--overwrite to start over, or choose another --workdir"
            )
        return
    others = sorted(p.name for p in out_dir.iterdir()) if out_dir.is_dir() else []
    others = [name for name in others if not name.startswith((LOCK_NAME, ".aezoo-lock-"))]
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise ConfigError(
            f"workdir {out_dir} is not empty and holds no aezoo run ({shown}); a fresh run "
            "takes a new or empty folder: choose another --workdir (nothing was changed)"
        )


def remove_run_outputs(out_dir: pathlib.Path) -> None:
    """Remove what aezoo wrote in ``out_dir`` (:data:`RUN_OUTPUTS`, its figures, its task
    folders); everything else in the folder stays."""
    if not out_dir.is_dir():
        return
    _remove(out_dir, (*RUN_OUTPUTS, *recorded_outputs(out_dir), OUTPUTS_FILE))
    for figure in out_dir.glob("*.png"):
        if drawn_by_aezoo(figure):
            figure.unlink()
    for task_outputs in out_dir.glob("task-*"):  # tasks run as evaluators of the run
        name = task_outputs.name.removeprefix("task-")
        if not task_outputs.is_symlink() and (task_outputs / f"{name}.json").is_file():
            shutil.rmtree(task_outputs)


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
    atomic_write(out_dir / "config.json", record.to_json())


def write_jsonl(path: pathlib.Path, records: list[Mapping[str, Any]]) -> None:
    """Make ``path`` hold exactly ``records`` (drops the lines of lost epochs on resume)."""
    atomic_write(path, "".join(strict_json(r) + "\n" for r in records))


def append_jsonl(path: pathlib.Path, records: list[Mapping[str, Any]]) -> None:
    with path.open("a") as f:
        f.writelines(strict_json(r) + "\n" for r in records)


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
        if path.is_symlink():  # a link is not aezoo's output: leave it and what it points to
            continue
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
    "holds_run",
    "prepare",
    "remove_run_outputs",
    "save_params",
    "write_config",
    "write_jsonl",
]
