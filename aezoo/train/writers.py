"""Where each epoch's records go: one small interface, three writers.

A record is one flat ``dict`` per member and epoch (``epoch``, ``step``, ``train/*``,
``test/*``, timings; vmapped runs add ``member``, ``seed`` and the swept value). The host
loop hands each epoch's records to every writer:

- :class:`JsonlWriter`: appends them to ``metrics.jsonl`` (one JSON object per line);
- :class:`ProgressWriter`: a tqdm bar and one line per epoch on stderr (mean +/- std over
  members when there are several);
- :class:`TensorBoardWriter`: TensorBoard event files (tensorboardX, no TensorFlow), one run
  per member, x-axis = optimizer steps.
"""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from tqdm.auto import tqdm

from aezoo.errors import ConfigError
from aezoo.train import workdir

Record = Mapping[str, Any]
# Record keys that identify a row rather than measure something.
ID_KEYS = ("epoch", "step", "member", "seed")


class MetricWriter(Protocol):
    """Receives each epoch's records (one per member), then is closed once."""

    def write(self, records: Sequence[Record]) -> None: ...

    def close(self) -> None: ...


class JsonlWriter:
    """Appends each record as one JSON line (the file is written by one process only)."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    def write(self, records: Sequence[Record]) -> None:
        workdir.append_jsonl(self.path, list(records))

    def close(self) -> None:
        pass


class ProgressWriter:
    """A per-epoch tqdm bar (none when stderr is not a terminal) and one line per epoch."""

    def __init__(self, desc: str, epochs: int, start_epoch: int, resumed_from: str = "") -> None:
        self.epochs = epochs
        self.bar = tqdm(
            initial=start_epoch - 1,
            total=epochs,
            unit="epoch",
            desc=desc,
            disable=None,  # None: no bar when stderr is not a terminal
            file=sys.stderr,
            dynamic_ncols=True,
        )
        if resumed_from:
            self.bar.write(resumed_from, file=sys.stderr)

    def write(self, records: Sequence[Record]) -> None:
        self.bar.set_postfix(
            loss=_stat(records, "train/loss", 2),
            eval=_stat(records, "val/loss" if "val/loss" in records[0] else "test/loss", 2),
            ex_s=f"{records[0]['examples_per_sec']:.0f}",
        )
        self.bar.update(1)
        self.bar.write(progress_line(records, self.epochs), file=sys.stderr)

    def close(self) -> None:
        self.bar.close()


def progress_line(records: Sequence[Record], epochs: int) -> str:
    """``epoch 3/10  train/loss 101.234  test/loss 99.876  25000 ex/s  1.20s``; with several
    members ``x8`` and mean +/- std over them."""
    r0, many = records[0], len(records) > 1
    line = f"epoch {r0['epoch']}/{epochs}" + (f"  x{len(records)}" if many else "")
    line += f"  train/loss {_stat(records, 'train/loss')}"
    for key in ("val/loss", "test/loss"):
        if key in r0:
            line += f"  {key} {_stat(records, key)}"
    line += f"  {r0['examples_per_sec']:.0f} ex/s" + (" (all members)" if many else "")
    line += f"  {r0['seconds']:.2f}s"
    skipped = sum(r.get("train/skipped", 0) for r in records)
    if skipped:
        line += f"  skipped {int(skipped)}"
        if not np.isfinite([r["train/loss"] for r in records]).all():
            line += " (no update applied)"
    if "compile_seconds" in r0:
        line += f"  (compile {r0['compile_seconds']:.1f}s)"
    return line


def _stat(records: Sequence[Record], key: str, digits: int = 3) -> str:
    xs = [r[key] for r in records if key in r]
    if not xs:
        return "-"
    if not np.isfinite(xs).all():  # e.g. every update of the epoch skipped: no mean
        return "n/a"
    if len(xs) == 1:
        return f"{xs[0]:.{digits}f}"
    return f"{np.mean(xs):.{digits}f} +/- {np.std(xs, ddof=1):.{digits}f}"


class TensorBoardWriter:
    """Scalars of every record as TensorBoard events under ``logdir`` (``logdir/NAME`` per
    member of a vmapped run). A resumed run purges the events past its checkpoint."""

    def __init__(self, logdir: pathlib.Path, names: Sequence[str] | None, purge_step: int) -> None:
        from tensorboardX import SummaryWriter  # an optional extra: checked by require()

        dirs = [logdir] if names is None else [logdir / name for name in names]
        purge = purge_step if purge_step > 0 else None
        self.writers = [SummaryWriter(str(d), purge_step=purge) for d in dirs]

    def write(self, records: Sequence[Record]) -> None:
        for writer, record in zip(self.writers, records, strict=True):
            for key, value in record.items():
                if key not in ID_KEYS and isinstance(value, int | float):
                    writer.add_scalar(key, value, global_step=int(record["step"]))
            writer.flush()

    def close(self) -> None:
        for writer in self.writers:
            writer.close()

    @staticmethod
    def require() -> None:
        """One-line error when tensorboardX is not installed (before anything is written)."""
        try:
            import tensorboardX  # noqa: F401
        except ImportError:
            raise ConfigError(
                "--tensorboard needs tensorboardX: pip install 'aezoo[tensorboard]'"
            ) from None


class Writers:
    """All of a run's writers as one: each epoch's records go to each of them."""

    def __init__(self, writers: Sequence[MetricWriter]) -> None:
        self.writers = list(writers)

    def write(self, records: Sequence[Record]) -> None:
        for writer in self.writers:
            writer.write(records)

    def close(self) -> None:
        for writer in self.writers:
            writer.close()


__all__ = [
    "JsonlWriter",
    "MetricWriter",
    "ProgressWriter",
    "TensorBoardWriter",
    "Writers",
    "progress_line",
]
