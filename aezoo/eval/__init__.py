"""Evaluation: likelihood (ELBO, importance-sampled NLL), representation probes, figures,
disentanglement metrics. Evaluators are plug-ins (:class:`Evaluator`, :data:`EVALUATORS`)."""

from aezoo.eval._evaluator import Context, Evaluator
from aezoo.eval.disentanglement_run import evaluate_disentanglement, summary_lines
from aezoo.eval.export import export_codes
from aezoo.eval.run import EVALUATORS, evaluate, register_evaluator, summary_line

__all__ = [
    "EVALUATORS",
    "Context",
    "Evaluator",
    "evaluate",
    "register_evaluator",
    "evaluate_disentanglement",
    "export_codes",
    "summary_line",
    "summary_lines",
]
