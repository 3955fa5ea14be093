"""Conditional VAE (Sohn et al., 2015): encoder and decoder see the one-hot label.

``q(z | x, y)`` and ``p(x | z, y)``; the prior stays N(0, I). Because the label carries the
digit's identity, ``z`` is free to carry its style: decoding one ``z`` with every label draws
the same style as every digit (``analogies.png``), as in the lecture.
"""

from __future__ import annotations

import dataclasses
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from aezoo import data
from aezoo.models._spec import ModelSpec, option
from aezoo.models.vae import VAE, VAEConfig, log_importance_weights, loss_fn
from aezoo.viz import save_image_rows


@dataclasses.dataclass(frozen=True)
class CVAEConfig(VAEConfig):
    """Conditional VAE settings: the number of label classes."""

    num_classes: int = option(10, "number of label classes (labels are 0..num_classes-1)", low=1)


def figures(out_dir: pathlib.Path, module: VAE, params, split, rng: jax.Array) -> None:
    """``samples_by_class.png`` (a row per class, shared z per column) and ``analogies.png``
    (each test digit's code decoded with every label)."""
    n_cls = module.config.num_classes
    variables = {"params": params}
    z = jax.random.normal(rng, (10, module.config.latent_dim))
    rows = [
        np.asarray(module.apply(variables, z, label=jnp.full((10,), c), method="decode")["mean"])
        for c in range(n_cls)
    ]
    save_image_rows(
        out_dir / "samples_by_class.png",
        rows,
        [f"label {c}" for c in range(n_cls)],
        title="cvae: one row per label; each column shares its z (style)",
    )
    x = data.to_float(jnp.asarray(split[0][:8]))
    y = jnp.asarray(split[1][:8])
    codes = module.apply(variables, x, label=y, method="encode")["z_mean"]
    rows, names = [], []
    for i in range(x.shape[0]):
        zi = jnp.broadcast_to(codes[i], (n_cls, codes.shape[-1]))
        out = module.apply(variables, zi, label=jnp.arange(n_cls), method="decode")["mean"]
        rows.append(np.concatenate([np.asarray(x[i : i + 1]), np.asarray(out)]))
        names.append(f"test {int(y[i])}")
    save_image_rows(
        out_dir / "analogies.png",
        rows,
        names,
        title="cvae: input, then its style (z) decoded with labels 0..9",
    )


SPEC = ModelSpec(
    name="cvae",
    description="conditional VAE: encoder and decoder conditioned on the one-hot label",
    config_cls=CVAEConfig,
    module_cls=VAE,
    loss_fn=loss_fn,
    generative=True,
    normal_prior=True,
    density=log_importance_weights,
    figures=figures,
    conditional=True,
    num_classes=lambda config: config.num_classes,
)
