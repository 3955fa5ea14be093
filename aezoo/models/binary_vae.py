"""A VAE with binary latents for semantic hashing: ``latent_dim`` Bernoulli bits with a
Bernoulli(1/2) prior (balanced bits), trained through the binary-concrete relaxation
``sigmoid((logits + logistic noise) / tau)`` (Maddison et al., 2017; the temperature
annealed as in :mod:`aezoo.models.gumbel_vae`), relaxed or straight-through (decode the
hard bits ``logits + noise > 0``, an exact draw from q, with the relaxed gradient).

The code is the bits' posterior probabilities; thresholded (``aezoo task retrieval``) they
are a ``latent_dim``-bit hash. Evaluation decodes hard bits, so ``nll_bound`` is the
discrete model's -ELBO and the importance-sampled NLL is exact over binary codes
(``log p(z) = -latent_dim log 2``).
"""

from __future__ import annotations

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from aezoo.models._spec import Metrics, ModelSpec, option
from aezoo.models.gumbel_vae import RelaxedConfig, straight_through, temperature
from aezoo.models.vae import decoded_log_px
from aezoo.nn import check_images, make_decoder, make_encoder


@dataclasses.dataclass(frozen=True)
class BinaryVAEConfig(RelaxedConfig):
    """``latent_dim`` bits; the relaxation's settings; the KL weight."""

    beta: float = option(
        1.0,
        "weight of the KL to fair coins in training (1 = the ELBO; > 1 buys fewer, coarser bits)",
        sweep=True,
        low=0.0,
    )


class BinaryVAE(nn.Module):
    """Encoder -> ``[B, latent_dim]`` bit logits -> bits -> decoder."""

    config: BinaryVAEConfig

    def setup(self) -> None:
        self.encoder = make_encoder(self.config, self.config.latent_dim)
        self.decoder = make_decoder(self.config)

    def __call__(self, x: jax.Array, *, rng: jax.Array | None = None, **_) -> dict[str, jax.Array]:
        q = self.encode(x)
        return {**q, **self.decode(q["z"])}

    def encode(self, x: jax.Array, **_) -> dict[str, jax.Array]:
        """``logits`` and the code ``z``: each bit's posterior probability, ``[B, D]``."""
        check_images(x, self.config.image_shape)
        logits = self.encoder(x)
        return {"z": nn.sigmoid(logits), "logits": logits}

    def decode(self, z: jax.Array, **_) -> dict[str, jax.Array]:
        return self.decoder(z)

    def reconstruct(self, x: jax.Array, **_) -> dict[str, jax.Array]:
        return self.decode(self.encode(x)["z"])

    def sample(self, n: int, rng: jax.Array, **_) -> dict[str, jax.Array]:
        """Decode ``n`` fair-coin codes."""
        bits = jax.random.bernoulli(rng, 0.5, (n, self.config.latent_dim))
        return self.decode(bits.astype(jnp.float32))


def draw_bits(logits: jax.Array, rng: jax.Array, tau: jax.Array, estimator: str | None):
    """``(code to decode, hard bits)``; ``estimator`` None (evaluation): the hard bits."""
    noise = jax.random.logistic(rng, logits.shape, logits.dtype)
    hard = (logits + noise > 0).astype(logits.dtype)
    if estimator is None:
        return hard, hard
    soft = nn.sigmoid((logits + noise) / tau)
    return (soft if estimator == "relaxed" else straight_through(hard, soft)), hard


def kl_to_fair_coins(logits: jax.Array) -> jax.Array:
    """``KL(Bernoulli(sigmoid(l)) || Bernoulli(1/2))`` summed over bits, ``[B]``."""
    log_p1, log_p0 = jax.nn.log_sigmoid(logits), jax.nn.log_sigmoid(-logits)
    per_bit = jnp.exp(log_p1) * log_p1 + jnp.exp(log_p0) * log_p0 + math.log(2.0)
    return jnp.sum(per_bit, axis=-1)


def loss_fn(params, batch, rng, *, module: BinaryVAE) -> tuple[jax.Array, Metrics]:
    """NLL at one (relaxed in training) draw of the bits + the analytic KL to fair coins."""
    cfg = module.config
    step = batch.get("step")
    logits = module.apply({"params": params}, batch["image"], method="encode")["logits"]
    tau = temperature(cfg, step)
    code, _ = draw_bits(logits, rng, tau, None if step is None else cfg.estimator)
    nll = -jnp.mean(decoded_log_px(params, batch["image"], code[None], module=module)[0])
    kl = jnp.mean(kl_to_fair_coins(logits))
    loss = nll + cfg.beta * kl
    metrics = {"loss": loss, "nll": nll, "kl": kl, "temperature": tau, "nll_bound": nll + kl}
    return loss, metrics


def log_importance_weights(params, batch, rng, *, module: BinaryVAE, num_samples: int):
    """``log p(x|z) + log p(z) - log q(z|x)`` at K exact draws of the bits: ``[K, B]``."""
    logits = module.apply({"params": params}, batch["image"], method="encode")["logits"]
    keys = jax.random.split(rng, num_samples)
    bits = jax.vmap(lambda k: draw_bits(logits, k, 1.0, None)[1])(keys)  # [K, B, D]
    log_q = jnp.sum(
        bits * jax.nn.log_sigmoid(logits)[None] + (1 - bits) * jax.nn.log_sigmoid(-logits)[None],
        axis=-1,
    )
    log_px = decoded_log_px(params, batch["image"], bits, module=module)
    return log_px - logits.shape[-1] * math.log(2.0) - log_q


SPEC = ModelSpec(
    name="binary_vae",
    description="binary latents (semantic hashing): Bernoulli bits, binary-concrete or ST",
    config_cls=BinaryVAEConfig,
    module_cls=BinaryVAE,
    loss_fn=loss_fn,
    generative=True,
    density=log_importance_weights,
)
