"""Evaluators during training: ``aezoo.fit(..., evaluators=in_training(["nll"], every=5,
nll_samples=500))`` (``aezoo train MODEL --evaluators nll --eval-every 5``) runs the named
evaluators on the held-out split of the model being trained, every ``every`` epochs and at
the last one; their metrics join that epoch's line in ``metrics.jsonl``. The evaluators are
the same values ``aezoo eval`` runs (one registry, typed options); those that write into the
run folder (figures, exports, tasks) run after training."""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Sequence
from typing import Any

from aezoo._validate import int_in
from aezoo.errors import ConfigError
from aezoo.eval._evaluator import Context, check_given, choose
from aezoo.eval.run import EVALUATORS
from aezoo.rundir.run import Run


@dataclasses.dataclass(frozen=True)
class InTraining:
    """The evaluators to run while training and how often (see :func:`in_training`)."""

    names: tuple[str, ...]
    every: int
    options: dict[str, Any]

    def due(self, epoch: int, *, last: bool) -> bool:
        return last or (self.every > 0 and epoch % self.every == 0)

    def check(self, view: Any) -> None:
        """One line before the first epoch for an evaluator the run cannot serve."""
        self._chosen(self._context(view))

    def __call__(self, view: Any) -> dict[str, Any]:
        context = self._context(view)
        results: dict[str, Any] = {}
        for evaluator in self._chosen(context):
            results.update(evaluator.run(context))
        return results

    def _chosen(self, context: Context) -> list:
        return choose(EVALUATORS, self.names, context, self.options)

    def _context(self, view: Any) -> Context:
        m = view.model
        run = Run(view.workdir or pathlib.Path(), m.record)
        source = {"data_dir": None, "cache_dir": None, "options": run.data_options()}
        options = {"progress": False}
        return Context(m, run, view.split, view.x, view.y, source, options, lambda msg: None)


def in_training(evaluators: Sequence[str], *, every: int = 1, **options: Any) -> InTraining:
    """Run ``evaluators`` (names from :data:`EVALUATORS`) during training, every ``every``
    epochs (0: at the last epoch only), with their options by keyword (``nll_samples=500``);
    a bad name or option is one line at once."""
    names = tuple(evaluators)
    if not names or any(not isinstance(n, str) for n in names):
        raise ConfigError(f"in_training takes evaluator names; got {evaluators!r}")
    for name in names:
        if not EVALUATORS.get(name).in_training:
            usable = ", ".join(n for n, e in EVALUATORS.items() if e.in_training)
            raise ConfigError(
                f"evaluator {name} writes into the run folder: run it after training with "
                f"`aezoo eval`; during training: {usable}"
            )
    check_given(EVALUATORS, options)
    return InTraining(names, int_in("--eval-every", every, 0), dict(options))


__all__ = ["InTraining", "in_training"]
