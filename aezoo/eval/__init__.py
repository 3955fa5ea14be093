"""Evaluation: likelihood (ELBO, importance-sampled NLL), representation probes, figures,
disentanglement metrics, code export. Evaluators are plug-ins (:class:`Evaluator`,
:data:`EVALUATORS`, :func:`register_evaluator`)."""

from aezoo.eval import disentanglement_run, export
from aezoo.eval._evaluator import Context, Evaluator
from aezoo.eval.run import EVALUATORS, evaluate, register_evaluator, summary_line

register_evaluator(disentanglement_run.EVALUATOR)
register_evaluator(export.EVALUATOR)

__all__ = [
    "EVALUATORS",
    "Context",
    "Evaluator",
    "evaluate",
    "register_evaluator",
    "summary_line",
]
