"""Runs: the record of a trained run (:class:`RunRecord`, the only reader of
``config.json``) and, in :mod:`aezoo.runs.run`, the run folder as one object
(:class:`~aezoo.runs.run.Run`: open, lock, model, split, write, members)."""

from aezoo.runs.record import ARRAYS, MemberRecord, RunRecord, dataset_of, plugins_of

__all__ = ["ARRAYS", "MemberRecord", "RunRecord", "dataset_of", "plugins_of"]
