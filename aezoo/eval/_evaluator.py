"""The evaluator interface: a name, the capabilities it needs, and ``run(context)`` that
returns flat metrics (and may write figures into the run folder).

big_vision's ``evaluators/`` is the example: ``aezoo eval RUN --evaluators a,b`` and
``aezoo.evaluate(RUN, evaluators=[...])`` run the named ones; without a list, every default
evaluator the model can serve runs.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from aezoo import data
from aezoo._registry import suggestion
from aezoo._validate import Options
from aezoo.errors import ConfigError
from aezoo.models import require
from aezoo.rundir.run import LoadedModel, Run


@dataclasses.dataclass
class Context:
    """What every evaluator of one run sees: the model, its folder, the evaluated split
    (binarized as the run binarizes, labels int32), how to reload the run's data, and the
    options of this evaluation. ``shared`` holds what one evaluator computes for the next
    (the codes of the split: :meth:`codes`)."""

    m: LoadedModel
    run: Run
    split: str
    x: np.ndarray
    y: np.ndarray
    source: dict[str, Any]
    options: dict[str, Any]
    say: Callable[[str], None]
    shared: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def workdir(self) -> pathlib.Path:
        """The run's folder (evaluators may write figures there)."""
        return self.run.path

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
      needs: model capabilities it needs (``"density"``, ``"generative"``, ...).
      images: it needs image data (not tabular vectors).
      labels: it needs labelled rows.
      default: it runs when no evaluator is named (and the model can serve it).
      in_training: it may run during training (``aezoo.eval.in_training``): it writes
        nothing into the run folder.
      options_cls: its typed settings, an :class:`aezoo._validate.Options` dataclass of
        ``option()`` fields (``aezoo.evaluate(..., name=value)``; the CLI generates
        ``--name value`` from it, with its range); they reach ``run`` in ``context.options``.
      check: ``context -> why it cannot run`` (None: it can), for what the capabilities do
        not say (a dataset with ground-truth factors, an option's range); it runs before any
        evaluator does, so a bad option fails before an hour of work.
    """

    name: str
    description: str
    run: Callable[[Context], dict[str, Any]]
    needs: tuple[str, ...] = ()
    images: bool = False
    labels: bool = False
    default: bool = True
    in_training: bool = False
    options_cls: type[Options] | None = None
    check: Callable[[Context], str | None] | None = None

    @property
    def options(self) -> dict[str, Any]:
        """Its settings' defaults, by name."""
        return self.options_cls.defaults() if self.options_cls is not None else {}

    def checked(self, values: dict[str, Any]) -> dict[str, Any]:
        """Its settings from ``values`` (defaults for the others), checked field by field:
        a one-line error naming the flag."""
        if self.options_cls is None:
            return {}
        own = {k: v for k, v in values.items() if k in self.options}
        return self.options_cls(**own).to_dict()

    def refusal(self, context: Context) -> str | None:
        """Why this evaluator cannot run on ``context`` (None: it can)."""
        return self.unserved(context) or (self.check(context) if self.check else None)

    def unserved(self, context: Context) -> str | None:
        """Why the run cannot be served at all: a capability the model lacks, tabular data
        for an image evaluator, unlabelled rows for one that needs labels."""
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
    registry: Mapping[str, Evaluator],
    names: Sequence[str] | None,
    context: Context,
    given: dict[str, Any] | None = None,
) -> list[Evaluator]:
    """The evaluators to run, with their options (``given`` over their defaults) put in
    ``context.options``: the named ones (a one-line error for an unknown name, one the run
    cannot serve or a bad option), else every default one the run can serve."""
    given = dict(given or {})
    if names is None:
        chosen = [e for e in registry.values() if e.default and e.unserved(context) is None]
        skipped = [e for e in registry.values() if e.default and e not in chosen]
        # The default set's options stay harmless for a run that cannot serve their
        # evaluator (nll_samples for an AE); another evaluator's option is still an error.
        given = {k: v for k, v in given.items() if not any(k in e.options for e in skipped)}
    else:
        unknown = [n for n in names if n not in registry]
        if unknown:
            listed = ", ".join(sorted(registry))
            hint = suggestion(unknown[0], registry) or ";"
            raise ConfigError(f"unknown evaluator {unknown[0]!r}{hint} available: {listed}")
        chosen = [registry[n] for n in dict.fromkeys(names)]
    context.options.update(settings(registry, chosen, given))
    for evaluator in chosen:
        why = evaluator.refusal(context)
        if why is not None:
            raise ConfigError(why)
    return chosen


def settings(
    registry: Mapping[str, Evaluator], chosen: Sequence[Evaluator], given: dict[str, Any]
) -> dict[str, Any]:
    """The chosen evaluators' options: their defaults updated with ``given``; a one-line
    error for an option no evaluator has, or one only evaluators that do not run have."""
    merged = {k: v for e in chosen for k, v in e.options.items()}
    for key in given:
        if key in merged:
            continue
        owners = [e.name for e in registry.values() if key in e.options]
        if not owners:
            known = sorted({k for e in registry.values() for k in e.options})
            raise ConfigError(f"unknown evaluation option {key!r}; known: {', '.join(known)}")
        raise ConfigError(
            f"option {key!r} belongs to evaluator {' / '.join(owners)}, which is not "
            f"chosen (running: {', '.join(e.name for e in chosen) or 'none'})"
        )
    merged.update(given)
    for evaluator in chosen:
        merged.update(evaluator.checked(merged))
    return merged


def check_given(registry: Mapping[str, Evaluator], given: dict[str, Any]) -> None:
    """Each given option checked by the evaluators that own it (before a run is read)."""
    for evaluator in registry.values():
        evaluator.checked(given)


__all__ = ["Context", "Evaluator", "check_given", "choose", "settings"]
