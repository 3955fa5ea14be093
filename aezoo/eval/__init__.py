"""Evaluation: likelihood (ELBO, importance-sampled NLL), representation probes, figures,
disentanglement metrics, code export, sample quality. Evaluators are plug-ins (:class:`Evaluator`
in the registry :data:`EVALUATORS`, :func:`register_evaluator`)."""

from aezoo.eval._evaluator import Context, Evaluator
from aezoo.eval.during import in_training
from aezoo.eval.run import EVALUATORS, evaluate, register_evaluator, summary_line

__all__ = [
    "EVALUATORS",
    "Context",
    "Evaluator",
    "evaluate",
    "in_training",
    "register_evaluator",
    "summary_line",
]
