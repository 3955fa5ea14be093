"""Denoising autoencoder (Vincent et al., 2008): reconstruct the clean x from a corrupted x.

The corruption is drawn on device inside the loss with the step's key: ``gaussian`` (add
N(0, sigma^2)), ``masking`` (zero a fraction of pixels) or ``salt_pepper`` (set a fraction
of pixels to 0 or 1). The NLL compares the reconstruction with the CLEAN input, so the test
loss is the error on corrupted test inputs (corruption drawn with the fixed eval key).
"""

from __future__ import annotations

import dataclasses
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from aezoo import data
from aezoo.errors import ConfigError
from aezoo.losses import image_nll
from aezoo.models._spec import Metrics, ModelSpec, option
from aezoo.models.ae import AE, AEConfig
from aezoo.viz import save_image_rows

NOISES = ("gaussian", "masking", "salt_pepper")


@dataclasses.dataclass(frozen=True)
class DenoisingAEConfig(AEConfig):
    """Denoising AE settings: the corruption and its level."""

    noise: str = option("masking", "corruption: gaussian, masking or salt_pepper", choices=NOISES)
    noise_level: float = option(
        0.5,
        "sigma for gaussian; fraction of pixels for masking and salt_pepper",
        sweep=True,
        low=0.0,
    )

    def validate(self) -> None:
        super().validate()
        if self.noise != "gaussian" and self.noise_level > 1:
            raise ConfigError(
                f"noise_level must be >= 0 (and <= 1 for {self.noise}); got {self.noise_level!r}"
            )


def corrupt(x: jax.Array, rng: jax.Array, noise: str, level: float) -> jax.Array:
    """Corrupt images ``x`` in [0, 1] (any shape) with the named noise."""
    if noise == "gaussian":
        return x + level * jax.random.normal(rng, x.shape, x.dtype)
    if noise == "masking":
        keep = jax.random.bernoulli(rng, 1.0 - level, x.shape)
        return jnp.where(keep, x, 0.0)
    if noise == "salt_pepper":
        hit_key, salt_key = jax.random.split(rng)
        hit = jax.random.bernoulli(hit_key, level, x.shape)
        salt = jax.random.bernoulli(salt_key, 0.5, x.shape).astype(x.dtype)
        return jnp.where(hit, salt, x)
    raise ConfigError(f"unknown noise {noise!r}; expected one of {', '.join(NOISES)}")


def loss_fn(params, batch, rng, *, module: AE) -> tuple[jax.Array, Metrics]:
    """NLL of the CLEAN images under the reconstruction of corrupted ones (nats/example)."""
    cfg = module.config
    noise_key, model_key = jax.random.split(rng)
    x = batch["image"]
    x_tilde = corrupt(x, noise_key, cfg.noise, cfg.noise_level)
    out = module.apply({"params": params}, x_tilde, rng=model_key)
    nll = jnp.mean(image_nll(cfg.likelihood, out, x))
    return nll, {"loss": nll, "nll": nll}


def figures(out_dir: pathlib.Path, module, params, split, rng: jax.Array) -> None:
    """``denoising.png``: clean, corrupted and reconstructed rows."""
    cfg = module.config
    x = data.to_float(jnp.asarray(split[0][:10]))
    x_tilde = corrupt(x, rng, cfg.noise, cfg.noise_level)
    recon = module.apply({"params": params}, x_tilde, method="reconstruct")["mean"]
    save_image_rows(
        out_dir / "denoising.png",
        [np.asarray(x), np.asarray(jnp.clip(x_tilde, 0, 1)), np.asarray(recon)],
        ["clean", f"{cfg.noise} {cfg.noise_level:g}", "denoised"],
        title="denoising_ae: clean, corrupted, reconstructed from the corrupted row",
    )


SPEC = ModelSpec(
    name="denoising_ae",
    description="denoising autoencoder: gaussian, masking or salt-and-pepper corruption",
    config_cls=DenoisingAEConfig,
    module_cls=AE,
    loss_fn=loss_fn,
    figures=figures,
)
