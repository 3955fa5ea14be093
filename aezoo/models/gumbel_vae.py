"""A VAE with categorical latents (Jang et al., 2017; Maddison et al., 2017): ``latent_dim``
variables of ``categories`` classes each, a uniform prior, and during training the
Gumbel-softmax relaxation ``softmax((logits + g) / tau)`` (``g`` Gumbel noise) with a
temperature annealed as ``tau = max(min_temperature, temperature * exp(-anneal_rate *
step))``.

``--estimator relaxed`` decodes the relaxed one-hot vectors; ``straight_through`` decodes
the hard one-hot sample (the argmax of the same perturbed logits, an exact draw from q) and
passes the relaxed sample's gradient. Evaluation (no training step) always decodes hard
samples, so ``nll_bound`` is the -ELBO of the discrete model itself, and the
importance-sampled NLL sums over discrete codes exactly: ``log p(z) = -latent_dim log K``,
``log q(z|x) = sum log softmax(logits)[z]``. ``encode`` gives the posterior probabilities
(``[B, latent_dim * categories]``) as the code.
"""

from __future__ import annotations

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from aezoo.models._spec import BaseConfig, Metrics, ModelSpec, option
from aezoo.models.vae import decoded_log_px
from aezoo.nn import check_images, make_decoder, make_encoder

ESTIMATORS = ("relaxed", "straight_through")


@dataclasses.dataclass(frozen=True)
class RelaxedConfig(BaseConfig):
    """The relaxation's settings, shared by the discrete-latent VAEs."""

    estimator: str = option(
        "straight_through",
        "gradient: relaxed (decode the relaxed sample) or straight_through (decode the "
        "hard sample, the relaxed sample's gradient)",
        choices=ESTIMATORS,
    )
    temperature: float = option(1.0, "initial temperature tau_0", low=0.0, open="low")
    min_temperature: float = option(0.5, "the temperature's floor", low=0.0, open="low")
    anneal_rate: float = option(
        3e-4, "tau = max(floor, tau_0 * exp(-rate * step))", sweep=True, low=0.0
    )


@dataclasses.dataclass(frozen=True)
class GumbelVAEConfig(RelaxedConfig):
    """``latent_dim`` categorical variables of ``categories`` classes."""

    categories: int = option(10, "K: classes of each categorical latent", low=2)


def temperature(config: RelaxedConfig, step: jax.Array | None) -> jax.Array:
    """The annealed temperature at ``step`` (its floor without a step)."""
    if step is None:
        return jnp.float32(config.min_temperature)
    tau = config.temperature * jnp.exp(-config.anneal_rate * step.astype(jnp.float32))
    return jnp.maximum(config.min_temperature, tau)


def straight_through(hard: jax.Array, soft: jax.Array) -> jax.Array:
    """``hard`` forward, ``soft``'s gradient backward."""
    return soft + jax.lax.stop_gradient(hard - soft)


class GumbelVAE(nn.Module):
    """Encoder -> ``[B, latent_dim, categories]`` logits -> one-hot codes -> decoder."""

    config: GumbelVAEConfig

    def setup(self) -> None:
        cfg = self.config
        self.encoder = make_encoder(cfg, cfg.latent_dim * cfg.categories)
        self.decoder = make_decoder(cfg)

    def __call__(self, x: jax.Array, *, rng: jax.Array | None = None, **_) -> dict[str, jax.Array]:
        q = self.encode(x)
        return {**q, **self.decode(q["z"])}

    def logits(self, x: jax.Array) -> jax.Array:
        check_images(x, self.config.image_shape)
        cfg = self.config
        return self.encoder(x).reshape(x.shape[0], cfg.latent_dim, cfg.categories)

    def encode(self, x: jax.Array, **_) -> dict[str, jax.Array]:
        """``logits`` ``[B, latent_dim, categories]`` and the code ``z``: the posterior
        probabilities, flattened."""
        logits = self.logits(x)
        return {"z": jax.nn.softmax(logits).reshape(x.shape[0], -1), "logits": logits}

    def decode(self, z: jax.Array, **_) -> dict[str, jax.Array]:
        """One-hot (or relaxed, or probability) codes, ``[B, latent_dim * categories]``."""
        return self.decoder(z.reshape(z.shape[0], -1))

    def reconstruct(self, x: jax.Array, **_) -> dict[str, jax.Array]:
        return self.decode(self.encode(x)["z"])

    def sample(self, n: int, rng: jax.Array, **_) -> dict[str, jax.Array]:
        """Decode ``n`` codes drawn from the uniform prior."""
        cfg = self.config
        classes = jax.random.randint(rng, (n, cfg.latent_dim), 0, cfg.categories)
        return self.decode(jax.nn.one_hot(classes, cfg.categories))


def draw_codes(logits: jax.Array, rng: jax.Array, tau: jax.Array, estimator: str | None):
    """One sample per row of ``logits [..., K]``: ``(code to decode, hard one-hot)``;
    ``estimator`` None (evaluation) decodes the hard sample."""
    perturbed = logits + jax.random.gumbel(rng, logits.shape, logits.dtype)
    hard = jax.nn.one_hot(jnp.argmax(perturbed, axis=-1), logits.shape[-1], dtype=logits.dtype)
    if estimator is None:
        return hard, hard
    soft = jax.nn.softmax(perturbed / tau)
    return (soft if estimator == "relaxed" else straight_through(hard, soft)), hard


def kl_to_uniform(logits: jax.Array) -> jax.Array:
    """``KL(q || uniform)`` per example of ``[B, N, K]`` logits: ``sum q log q + N log K``."""
    log_q = jax.nn.log_softmax(logits)
    per_variable = jnp.sum(jnp.exp(log_q) * log_q, axis=-1) + math.log(logits.shape[-1])
    return jnp.sum(per_variable, axis=-1)


def loss_fn(params, batch, rng, *, module: GumbelVAE) -> tuple[jax.Array, Metrics]:
    """NLL at one (relaxed in training) sample + the analytic KL to the uniform prior."""
    cfg = module.config
    step = batch.get("step")
    logits = module.apply({"params": params}, batch["image"], method="logits")
    tau = temperature(cfg, step)
    code, _ = draw_codes(logits, rng, tau, None if step is None else cfg.estimator)
    flat = code.reshape(code.shape[0], -1)
    log_px = decoded_log_px(params, batch["image"], flat[None], module=module)[0]
    nll, kl = -jnp.mean(log_px), jnp.mean(kl_to_uniform(logits))
    loss = nll + kl
    return loss, {"loss": loss, "nll": nll, "kl": kl, "temperature": tau, "nll_bound": loss}


def log_importance_weights(params, batch, rng, *, module: GumbelVAE, num_samples: int):
    """``log p(x|z) + log p(z) - log q(z|x)`` at K exact draws of the discrete code."""
    logits = module.apply({"params": params}, batch["image"], method="logits")
    keys = jax.random.split(rng, num_samples)
    hard = jax.vmap(lambda k: draw_codes(logits, k, 1.0, None)[1])(keys)  # [K, B, N, C]
    log_q = jnp.sum(hard * jax.nn.log_softmax(logits)[None], axis=(-2, -1))
    n, k = logits.shape[-2:]
    log_px = decoded_log_px(
        params, batch["image"], hard.reshape(*hard.shape[:2], -1), module=module
    )
    return log_px - n * math.log(k) - log_q


SPEC = ModelSpec(
    name="gumbel_vae",
    description="categorical latents by Gumbel-softmax (annealed), relaxed or straight-through",
    config_cls=GumbelVAEConfig,
    module_cls=GumbelVAE,
    loss_fn=loss_fn,
    generative=True,
    density=log_importance_weights,
)
