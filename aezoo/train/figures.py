"""The figures every run writes at the end: reconstructions, prior samples, and the model's
own (``spec.figures``)."""

from __future__ import annotations

import pathlib
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from aezoo import data, viz
from aezoo.models import ModelSpec
from aezoo.train.step import EVAL_SEED


def write_figures(
    out_dir: pathlib.Path,
    spec: ModelSpec,
    module: nn.Module,
    params: Any,
    split: tuple,
    *,
    history: list[dict] | None = None,
    label: str = "",
) -> None:
    """Write curves.png (the per-epoch terms of ``history``, when given),
    reconstructions.png (inputs above reconstructions), samples.png for generative models,
    and the model's own figures (``spec.figures``). ``label`` says which model of a run the
    figures show (a swept run's member: ``" (member kl_weight_0.5_seed1)"``)."""
    name = f"{spec.name}{label}"
    if history:
        viz.save_curves(out_dir / "curves.png", history, title=f"{name}: per-epoch terms")
    if data.is_vectors(np.shape(split[0])):  # tabular: no images to show
        return
    variables = {"params": params}
    uint8 = data.for_device(split[0])
    images = data.to_float(jnp.asarray(uint8[:10]))  # vectors: float32 as they are
    labels = jnp.asarray(split[1][:10], jnp.int32)
    recon = module.apply(variables, images, label=labels, method="reconstruct")["mean"]
    viz.save_image_rows(
        out_dir / "reconstructions.png",
        [np.asarray(images), np.asarray(recon)],
        ["input", "reconstruction"],
        title=f"{name}: test inputs and reconstructions",
    )
    key = jax.random.key(EVAL_SEED)
    if spec.generative:
        samples = module.apply(variables, 50, key, method="sample")["mean"]
        viz.save_image_grid(
            out_dir / "samples.png",
            np.asarray(samples),
            title=f"{name}: samples from the prior",
        )
    if spec.figures is not None:
        spec.figures(out_dir, module, params, (uint8, np.asarray(split[1])), key)


__all__ = ["write_figures"]
