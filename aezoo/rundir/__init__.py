"""Runs: the record of a trained run (:class:`RunRecord`, the only reader of
``config.json``) and, in :mod:`aezoo.rundir.run`, the run folder as one object
(:class:`~aezoo.rundir.run.Run`: open, lock, model, split, write, members)."""

from aezoo.rundir.record import ARRAYS, MemberRecord, RunRecord, dataset_of, plugins_of

__all__ = ["ARRAYS", "MemberRecord", "RunRecord", "dataset_of", "plugins_of"]
