"""beta-VAE (Higgins et al., 2017): the ELBO with the KL term weighted by beta.

``loss = NLL + beta * w(step) * KL`` with an optional linear warm-up
``w = min(1, step / kl_warmup_steps)`` (evaluation uses the full beta). ``nll_bound`` stays
the true negative ELBO (beta = 1), so runs with different beta compare on it.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from aezoo.models._spec import Metrics, ModelSpec, option
from aezoo.models.vae import VAE, VAEConfig, elbo_terms, linear_warmup, log_importance_weights


@dataclasses.dataclass(frozen=True)
class BetaVAEConfig(VAEConfig):
    """beta-VAE settings: the KL weight and its warm-up."""

    beta: float = option(4.0, "weight of the KL term", sweep=True, low=0.0)
    kl_warmup_steps: int = option(0, "steps of linear KL warm-up from 0 to beta (0 = none)", low=0)


def kl_weight(config: BetaVAEConfig, step: jax.Array | None) -> jax.Array:
    """``beta * min(1, step / warmup)``; the full beta without a step (evaluation)."""
    return config.beta * linear_warmup(step, config.kl_warmup_steps)


def loss_fn(params, batch, rng, *, module: VAE) -> tuple[jax.Array, Metrics]:
    """NLL + beta * KL (nats per example)."""
    nll, kl = elbo_terms(params, batch, rng, module=module)
    weight = kl_weight(module.config, batch.get("step"))
    nll, kl = jnp.mean(nll), jnp.mean(kl)
    loss = nll + weight * kl
    return loss, {"loss": loss, "nll": nll, "kl": kl, "kl_weight": weight, "nll_bound": nll + kl}


SPEC = ModelSpec(
    name="beta_vae",
    description="beta-VAE: KL weighted by beta, optional linear KL warm-up",
    config_cls=BetaVAEConfig,
    module_cls=VAE,
    loss_fn=loss_fn,
    generative=True,
    normal_prior=True,
    density=log_importance_weights,
)
