"""Evaluation: likelihood (ELBO, importance-sampled NLL), representation probes, figures."""

from aezoo.eval.plots import save_image_grid, save_image_rows, save_latent_scatter, save_manifold

__all__ = ["save_image_grid", "save_image_rows", "save_latent_scatter", "save_manifold"]
