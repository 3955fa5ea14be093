"""Deterministic autoencoder: x -> z = f(x) -> p(x | g(z)).

The reconstruction loss is a negative log-likelihood: Bernoulli (cross-entropy) or Gaussian
(squared error plus constants), in nats per image.
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from aezoo.losses import image_nll
from aezoo.models._spec import BaseConfig, Metrics, ModelSpec
from aezoo.nn import check_images, make_decoder, make_encoder


@dataclasses.dataclass(frozen=True)
class AEConfig(BaseConfig):
    """Deterministic autoencoder settings (all shared; see :class:`BaseConfig`)."""


class AE(nn.Module):
    """Deterministic autoencoder. ``__call__`` returns the code ``z`` and the decoder outputs.

    Subclasses change the code's nonlinearity through :meth:`activate_code`.
    """

    config: AEConfig

    def setup(self) -> None:
        cfg = self.config
        self.encoder = make_encoder(cfg, cfg.latent_dim)
        self.decoder = make_decoder(cfg)

    def __call__(
        self, x: jax.Array, *, rng: jax.Array | None = None, train: bool = True, **cond
    ) -> dict[str, jax.Array]:
        z = self.encode(x)["z"]
        return {"z": z, **self.decoder(z)}

    def activate_code(self, h: jax.Array) -> jax.Array:
        """The code from the encoder's last layer (identity: a linear code)."""
        return h

    def encode(self, x: jax.Array, **cond) -> dict[str, jax.Array]:
        """``[B, H, W, C]`` images -> ``{"z": [B, latent]}``."""
        check_images(x, self.config.image_shape)
        return {"z": self.activate_code(self.encoder(x))}

    def decode(self, z: jax.Array, **cond) -> dict[str, jax.Array]:
        """``[B, latent]`` codes -> decoder distribution parameters ``[B, H, W, C]``."""
        return self.decoder(z)

    def reconstruct(self, x: jax.Array, **cond) -> dict[str, jax.Array]:
        return self.decode(self.encode(x)["z"])


def reconstruction_loss(
    params, batch: dict[str, jax.Array], rng: jax.Array, *, module: AE
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Mean reconstruction NLL (nats per example) and the model outputs (for penalties)."""
    x = batch["image"]
    out = module.apply({"params": params}, x, rng=rng)
    return jnp.mean(image_nll(module.config.likelihood, out, x)), out


def loss_fn(
    params, batch: dict[str, jax.Array], rng: jax.Array, *, module: AE
) -> tuple[jax.Array, Metrics]:
    """Mean reconstruction NLL (nats per example)."""
    nll, _ = reconstruction_loss(params, batch, rng, module=module)
    return nll, {"loss": nll, "nll": nll}


SPEC = ModelSpec(
    name="ae",
    description="deterministic autoencoder (Bernoulli or Gaussian decoder)",
    config_cls=AEConfig,
    module_cls=AE,
    loss_fn=loss_fn,
)
