"""The evaluator interface: a name, the capabilities it needs, and ``run(context)`` that
returns flat metrics (and may write figures into the run folder).

big_vision's ``evaluators/`` is the example: ``aezoo eval RUN --evaluators a,b`` and
``aezoo.evaluate(RUN, evaluators=[...])`` run the named ones; without a list, every default
evaluator the model can serve runs.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from aezoo import data
from aezoo.errors import ConfigError
from aezoo.models import require
from aezoo.train.load import LoadedModel


@dataclasses.dataclass
class Context:
    """What every evaluator of one run sees: the model, its folder, the evaluated split
    (binarized as the run binarizes, labels int32), how to reload the run's data, and the
    options of this evaluation. ``shared`` holds what one evaluator computes for the next
    (the codes of the split: :meth:`codes`)."""

    m: LoadedModel
    workdir: pathlib.Path
    split: str
    x: np.ndarray
    y: np.ndarray
    source: dict[str, Any]
    options: dict[str, Any]
    say: Callable[[str], None]
    shared: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def prefix(self) -> str:
        """Metric keys of the split: ``test/loss``, ``val/nll_is``, ..."""
        return f"{self.split}/"

    @property
    def labelled(self) -> bool:
        """Whether the evaluated rows carry labels (-1 = unlabelled)."""
        return bool(len(self.y)) and bool(np.all(self.y >= 0))


@dataclasses.dataclass(frozen=True)
class Evaluator:
    """One evaluation, found by name.

    Attributes:
      name: what ``--evaluators`` calls it.
      description: one line for ``aezoo eval --help`` and the docs.
      run: ``context -> {metric: value}`` (flat keys; floats, ints or lists of floats).
      needs: model capabilities it needs (``"density"``, ``"sample"``, ...).
      images: it needs image data (not tabular vectors).
      labels: it needs labelled rows.
      default: it runs when no evaluator is named (and the model can serve it).
    """

    name: str
    description: str
    run: Callable[[Context], dict[str, Any]]
    needs: tuple[str, ...] = ()
    images: bool = False
    labels: bool = False
    default: bool = True

    def refusal(self, context: Context) -> str | None:
        """Why this evaluator cannot run on ``context`` (None: it can)."""
        spec = context.m.spec
        missing = [c for c in self.needs if c not in spec.capabilities]
        if missing:
            try:
                require(spec, missing[0], f"evaluator {self.name}")
            except ConfigError as e:
                return str(e)
        if self.images and data.is_vectors(context.m.config.image_shape):
            return f"evaluator {self.name} needs images; the run was trained on tabular vectors"
        if self.labels and not context.labelled:
            return f"evaluator {self.name} needs labels; the {context.split} rows are unlabelled"
        return None


def choose(
    registry: dict[str, Evaluator], names: Sequence[str] | None, context: Context
) -> list[Evaluator]:
    """The evaluators to run: the named ones (a one-line error for an unknown name or one
    the run cannot serve), else every default one the run can serve."""
    if names is None:
        return [e for e in registry.values() if e.default and e.refusal(context) is None]
    chosen = []
    for name in names:
        if name not in registry:
            raise ConfigError(
                f"unknown evaluator {name!r}; available: {', '.join(sorted(registry))}"
            )
        why = registry[name].refusal(context)
        if why is not None:
            raise ConfigError(why)
        chosen.append(registry[name])
    return chosen


__all__ = ["Context", "Evaluator", "choose"]
