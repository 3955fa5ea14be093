"""Orbax checkpoints of the whole training state, written atomically, restored exactly.

A checkpoint holds the :class:`TrainState` (step, params, optimizer state), the run's key
data, and JSON metadata (model name and config, epoch, the metrics history). Orbax writes
each checkpoint into a temporary directory and renames it only when complete, so a crash in
the middle of a write leaves no checkpoint that loads wrongly; on restore, the newest
checkpoint that restores cleanly wins.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import pathlib
import signal
import warnings
from collections.abc import Iterator
from typing import Any

import jax
import numpy as np

from aezoo.errors import CheckpointError
from aezoo.rundir.record import RunRecord

# Test hook: SIGKILL this process right after the save of this epoch has been started (the
# write is asynchronous, so it is still in progress). Used by the kill-and-resume tests.
_FAULT_ENV = "AEZOO_TEST_KILL_DURING_SAVE"


def _ocp():
    # Orbax logs every save at INFO through absl; keep the CLI's output readable.
    logging.getLogger("absl").setLevel(logging.WARNING)
    import orbax.checkpoint as ocp

    return ocp


class Checkpointer:
    """Saves and restores training checkpoints under ``directory`` (one subdir per epoch)."""

    def __init__(self, directory: str | os.PathLike, *, keep: int = 3) -> None:
        ocp = _ocp()
        self.directory = pathlib.Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True)
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def epochs(self) -> list[int]:
        """Epochs with a complete checkpoint, oldest first."""
        return sorted(self._manager.all_steps())

    def path(self, epoch: int) -> pathlib.Path:
        return self.directory / str(epoch)

    def save(self, epoch: int, state: Any, meta: dict[str, Any]) -> None:
        """Start writing the checkpoint of ``epoch`` (asynchronously). Refuses non-finite state."""
        ocp = _ocp()
        finite = jax.tree.reduce(
            lambda a, b: a and b,
            jax.tree.map(lambda x: bool(np.all(np.isfinite(x))) if _is_float(x) else True, state),
            True,
        )
        if not finite:
            raise CheckpointError(f"refusing to checkpoint epoch {epoch}: state is not finite")
        with _write_errors(self.path(epoch)):
            self._manager.save(
                epoch,
                args=ocp.args.Composite(
                    state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)
                ),
            )
        fault = os.environ.get(_FAULT_ENV, "").split(":")
        if fault[0] == str(epoch):  # tests: SIGKILL (or "EPOCH:INT", Ctrl-C) mid-write
            if fault[1:] == ["INT"]:
                # What Python's SIGINT handler raises, here and now: a signal sent to
                # ourselves is raised at whichever later bytecode checks for it, and under
                # load that can be inside a library's catch-all.
                raise KeyboardInterrupt
            os.kill(os.getpid(), signal.SIGKILL)

    def restore_latest(
        self, abstract_state: Any, *, model: str | None = None
    ) -> tuple[int, Any, dict[str, Any]] | None:
        """``(epoch, state, meta)`` of the newest checkpoint that restores, or None if none.

        A checkpoint that fails to restore (truncated or corrupted files) is reported and
        skipped in favour of the next older one.
        """
        for epoch in reversed(self.epochs()):
            try:
                return epoch, *self.restore(epoch, abstract_state, model=model)
            except ModelMismatchError:
                raise
            except CheckpointError as e:
                warnings.warn(f"{e}; trying an older one", stacklevel=2)
        return None

    def meta(self, epoch: int) -> dict[str, Any] | None:
        """The run record saved with ``epoch`` (None when it cannot be read)."""
        ocp = _ocp()
        try:
            restored = self._manager.restore(
                epoch, args=ocp.args.Composite(meta=ocp.args.JsonRestore())
            )
        except Exception:  # any unreadable checkpoint: None, as documented
            return None
        return restored.meta if isinstance(restored.meta, dict) else None

    def restore(
        self, epoch: int, abstract_state: Any, *, model: str | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """``(state, meta)`` of ``epoch``; :class:`CheckpointError` if it does not restore.

        ``abstract_state=None`` restores the tree as saved (nested dicts of arrays).
        With ``model``, the checkpoint's metadata must name that model
        (:class:`ModelMismatchError` otherwise, before any array is read).
        """
        ocp = _ocp()
        if model is not None:
            try:
                meta = self._manager.restore(
                    epoch, args=ocp.args.Composite(meta=ocp.args.JsonRestore())
                ).meta
                saved = RunRecord.from_dict(meta).model
            except Exception:
                saved = model  # unreadable metadata: reported by the full restore below
            if saved != model:
                raise ModelMismatchError(
                    f"checkpoint {self.path(epoch)} is of model {saved!r}, not {model!r}"
                )
        try:
            restored = self._manager.restore(
                epoch,
                args=ocp.args.Composite(
                    state=ocp.args.StandardRestore(abstract_state),
                    meta=ocp.args.JsonRestore(),
                ),
            )
            meta = dict(restored.meta)
        except Exception as e:  # orbax/tensorstore raise many types for damaged files
            first = str(e).splitlines()[0][:200] if str(e) else ""
            raise CheckpointError(
                f"checkpoint {self.path(epoch)} is corrupt or truncated "
                f"({type(e).__name__}: {first})"
            ) from None
        return restored.state, meta

    def wait(self) -> None:
        """Block until every started save is complete on disk."""
        with _write_errors(self.directory):
            self._manager.wait_until_finished()

    def close(self) -> None:
        with _write_errors(self.directory):
            self._manager.wait_until_finished()
        self._manager.close()


@contextlib.contextmanager
def _write_errors(path: pathlib.Path) -> Iterator[None]:
    """A failed checkpoint write (Orbax and TensorStore raise many types) as one line naming
    the checkpoint; the checkpoints written before stay intact."""
    try:
        yield
    except CheckpointError:
        raise
    except Exception as e:
        text = str(e)
        full = getattr(e, "errno", None) == errno.ENOSPC or any(
            mark in text for mark in ("RESOURCE_EXHAUSTED", "No space left", "Disk quota")
        )
        why = "no space left on the device" if full else f"{type(e).__name__}: {_first(text)}"
        raise CheckpointError(
            f"cannot write checkpoint {path}: {why}; the earlier checkpoints are intact "
            "(free space, then continue with --resume)"
        ) from None


def _first(text: str) -> str:
    return text.splitlines()[0][:200] if text else ""


class ModelMismatchError(CheckpointError):
    """The checkpoint holds another model than the one asked for."""


def _is_float(x: Any) -> bool:
    return hasattr(x, "dtype") and np.issubdtype(np.dtype(x.dtype), np.floating)
