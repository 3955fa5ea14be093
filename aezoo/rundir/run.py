"""A run folder as one object: what evaluators, tasks and samplers receive instead of a path.

>>> run = Run.open("runs/vae-digits")                  # doctest: +SKIP
>>> with run.lock():                                   # doctest: +SKIP
...     m = run.model()                                # the newest valid checkpoint
...     x, y = run.split("test")                       # checked against the fingerprint
...     run.write("notes.md", "...")                   # atomic
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
from collections.abc import Iterator

import numpy as np

from aezoo import data
from aezoo._files import atomic_write, record_output
from aezoo._lock import command_line, run_lock
from aezoo.rundir.record import RunRecord
from aezoo.train import LoadedModel, TrainConfig, load
from aezoo.train.load import load_split as load_run_split


@dataclasses.dataclass(frozen=True)
class Run:
    """A trained run: its folder and its record.

    ``model()`` loads it, ``split()`` reads its data as it was read for training (checked
    against the recorded fingerprint), ``write()`` writes a file into its folder atomically,
    ``lock()`` holds it against a concurrent trainer or evaluator, ``members()`` are the runs
    of a vmapped run's models.
    """

    path: pathlib.Path
    record: RunRecord

    @classmethod
    def open(cls, workdir: str | os.PathLike | Run) -> Run:
        """The run in ``workdir`` (one line when it holds none, or a damaged record)."""
        if isinstance(workdir, Run):
            return workdir
        path = pathlib.Path(workdir)
        return cls(path, RunRecord.of(path))

    def lock(self) -> contextlib.AbstractContextManager:
        """Hold the run's lock (one line naming the process that holds it)."""
        return run_lock(self.path, command_line())

    def model(self, *, best: bool = False, epoch: int | None = None) -> LoadedModel:
        """Its newest valid checkpoint (or ``epoch``; ``best``: the params of --keep-best)."""
        return load(self.path, best=best, epoch=epoch)

    def split(
        self,
        name: str,
        *,
        data_dir: str | None = None,
        cache_dir: str | None = None,
        allow_changed_data: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, str | None]:
        """``(images, labels, why)`` of split ``name`` of its dataset, read as for training;
        data whose fingerprint changed is one line unless ``allow_changed_data`` (then
        ``why`` says what changed)."""
        return load_run_split(
            self.record,
            name,
            data_dir=data_dir,
            cache_dir=cache_dir,
            allow_changed_data=allow_changed_data,
        )

    def data_options(self) -> data.DataOptions:
        """How its dataset was read (image size, crop, test and validation fractions)."""
        return TrainConfig.from_record(self.record.train).data_options()

    def write(self, name: str, content: str | bytes) -> pathlib.Path:
        """Write ``content`` to ``name`` in the run's folder, atomically, and declare it as
        an output of the run (``--overwrite`` removes it with the run)."""
        target = self.path / name
        atomic_write(target, content)
        record_output(self.path, name)
        return target

    @property
    def member_label(self) -> str:
        """``" (member NAME)"`` for one model of a vmapped run (its figures say which model
        they show), else ``""``."""
        return f" (member {self.path.name})" if self.record.get("member_of") else ""

    def __fspath__(self) -> str:  # a Run goes wherever its folder's path does
        return os.fspath(self.path)

    def __str__(self) -> str:
        return str(self.path)

    def members(self) -> list[Run]:
        """The runs of a vmapped run's models (``members/NAME``), in order; [] for one."""
        return [Run.open(self.path / "members" / m.name) for m in self.record.members]

    def __iter__(self) -> Iterator[Run]:
        return iter(self.members() or [self])


__all__ = ["LoadedModel", "Run", "load_run_split"]
