"""Evaluation: likelihood (ELBO, importance-sampled NLL), representation probes, figures,
disentanglement metrics."""

from aezoo.eval.disentanglement_run import evaluate_disentanglement, summary_lines
from aezoo.eval.export import export_codes
from aezoo.eval.run import append_readme_row, evaluate, summary_line

__all__ = [
    "append_readme_row",
    "evaluate",
    "evaluate_disentanglement",
    "export_codes",
    "summary_line",
    "summary_lines",
]
