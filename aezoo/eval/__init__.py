"""Evaluation: likelihood (ELBO, importance-sampled NLL), representation probes, figures."""

from aezoo.eval.run import append_readme_row, evaluate, summary_line

__all__ = ["append_readme_row", "evaluate", "summary_line"]
