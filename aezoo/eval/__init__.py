"""Evaluation: likelihood (ELBO, importance-sampled NLL), representation probes, figures,
disentanglement metrics, code export, sample quality. Evaluators are plug-ins (:class:`Evaluator`,
:data:`EVALUATORS`, :func:`register_evaluator`)."""

from aezoo.eval import disentanglement_run, export, sample_quality_run
from aezoo.eval._evaluator import Context, Evaluator
from aezoo.eval.run import EVALUATORS, evaluate, register_evaluator, summary_line

register_evaluator(disentanglement_run.EVALUATOR)
register_evaluator(export.EVALUATOR)
register_evaluator(sample_quality_run.EVALUATOR)

__all__ = [
    "EVALUATORS",
    "Context",
    "Evaluator",
    "evaluate",
    "register_evaluator",
    "summary_line",
]
