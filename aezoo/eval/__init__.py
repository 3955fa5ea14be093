"""Evaluation: figures (and, later, likelihood and representation metrics)."""

from aezoo.eval.plots import save_image_grid, save_image_rows, save_latent_scatter

__all__ = ["save_image_grid", "save_image_rows", "save_latent_scatter"]
