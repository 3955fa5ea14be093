"""Recipes: the commands behind every result aezoo publishes, one file each
(``aezoo reproduce --list``; ``aezoo reproduce NAME``). big_vision's configs are the
example: a recipe is a small value (commands, protocol, published numbers, how its table
reads), its measured result a committed JSON file the docs are generated from."""

from __future__ import annotations

from aezoo._registry import Registry
from aezoo.recipes import (
    anomaly_mnist,
    bounds_mnist,
    burda_batch_mnist,
    burda_iwae5_mnist,
    burda_vae_mnist,
    burda_vae_short_mnist,
    compute_dtype_mnist,
    conv_zoo_mnist,
    disentanglement_baselines_dsprites,
    disentanglement_dsprites,
    flows_mnist,
    frey_manifold,
    gallery_mnist,
    gmvae_clustering_mnist,
    hashing_mnist,
    hvae2_vamp_mnist,
    info_vae_lambda_mnist,
    patches_photos,
    sample_quality_mnist,
    sample_quality_rest_mnist,
    sample_quality_vaes_mnist,
    sample_quality_zoo_mnist,
    seeds_mnist,
    semisupervised_mnist,
    tasks_mnist,
    vade_mnist,
    vae_mnist,
    vae_mnist_2d,
    vamp_mnist,
    zoo_mnist,
)
from aezoo.recipes._recipe import Quote, Recipe, Table, collect_outputs, run_recipe
from aezoo.recipes._render import markdown

RECIPES: Registry[Recipe] = Registry(
    "recipe",
    (
        vae_mnist.RECIPE,
        burda_vae_mnist.RECIPE,
        burda_batch_mnist.RECIPE,
        burda_iwae5_mnist.RECIPE,
        burda_vae_short_mnist.RECIPE,
        compute_dtype_mnist.RECIPE,
        vae_mnist_2d.RECIPE,
        frey_manifold.RECIPE,
        patches_photos.RECIPE,
        gallery_mnist.RECIPE,
        zoo_mnist.RECIPE,
        conv_zoo_mnist.RECIPE,
        seeds_mnist.RECIPE,
        anomaly_mnist.RECIPE,
        tasks_mnist.RECIPE,
        gmvae_clustering_mnist.RECIPE,
        vade_mnist.RECIPE,
        semisupervised_mnist.RECIPE,
        disentanglement_dsprites.RECIPE,
        disentanglement_baselines_dsprites.RECIPE,
        sample_quality_mnist.RECIPE,
        bounds_mnist.RECIPE,
        hashing_mnist.RECIPE,
        flows_mnist.RECIPE,
        sample_quality_zoo_mnist.RECIPE,
        sample_quality_vaes_mnist.RECIPE,
        sample_quality_rest_mnist.RECIPE,
        info_vae_lambda_mnist.RECIPE,
        vamp_mnist.RECIPE,
        hvae2_vamp_mnist.RECIPE,
    ),
)
get_recipe = RECIPES.get
"""The recipe called ``name``; a one-line error listing them for an unknown one."""
register_recipe = RECIPES.register
"""Add a recipe (a user's own, or a test's); ``replace=True`` replaces one."""


__all__ = [
    "RECIPES",
    "Quote",
    "Recipe",
    "Table",
    "collect_outputs",
    "get_recipe",
    "markdown",
    "register_recipe",
    "run_recipe",
]
