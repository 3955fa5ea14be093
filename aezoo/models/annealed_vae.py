"""Capacity-annealed beta-VAE (Burgess et al., 2018, "Understanding disentangling in
beta-VAE"): hold the KL near a capacity ``C`` that grows linearly during training.

``loss = NLL + gamma * |KL - C(step)|`` with ``C = c_max * min(1, step / capacity_steps)``;
evaluation uses ``C = c_max``. ``nll_bound`` is the negative ELBO. (disentanglement_lib calls
it AnnealedVAE; its defaults: gamma 1000, c_max 25 nats, 100,000 steps.)
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from aezoo.models._spec import Metrics, ModelSpec, option
from aezoo.models.vae import VAE, VAEConfig, elbo_outputs, log_importance_weights


@dataclasses.dataclass(frozen=True)
class AnnealedVAEConfig(VAEConfig):
    """Capacity annealing settings."""

    gamma: float = option(1000.0, "weight of |KL - C|", sweep=True, low=0.0)
    c_max: float = option(25.0, "final capacity C in nats", sweep=True, low=0.0)
    capacity_steps: int = option(100_000, "steps over which C grows from 0 to c_max", low=1)


def capacity(config: AnnealedVAEConfig, step: jax.Array | None) -> jax.Array:
    """``c_max * min(1, step / capacity_steps)``; ``c_max`` without a step (evaluation)."""
    if step is None:
        return jnp.float32(config.c_max)
    ramp = jnp.minimum(1.0, step.astype(jnp.float32) / config.capacity_steps)
    return config.c_max * ramp


def loss_fn(params, batch, rng, *, module: VAE) -> tuple[jax.Array, Metrics]:
    """NLL + gamma * |KL - C| (nats per example)."""
    _, nll, kl = elbo_outputs(params, batch, rng, module=module)
    c = capacity(module.config, batch.get("step"))
    nll, kl = jnp.mean(nll), jnp.mean(kl)
    loss = nll + module.config.gamma * jnp.abs(kl - c)
    return loss, {"loss": loss, "nll": nll, "kl": kl, "capacity": c, "nll_bound": nll + kl}


SPEC = ModelSpec(
    name="annealed_vae",
    description="capacity-annealed beta-VAE: gamma * |KL - C| with C growing linearly",
    config_cls=AnnealedVAEConfig,
    module_cls=VAE,
    loss_fn=loss_fn,
    generative=True,
    normal_prior=True,
    density=log_importance_weights,
)
