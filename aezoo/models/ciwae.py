"""CIWAE (Rainforth et al., 2018): a convex combination of the ELBO and the IWAE bound.

``CIWAE_beta = beta * ELBO + (1 - beta) * IWAE_K``, both estimated on the same K samples
(the ELBO as their mean log-weight): beta = 1 is the VAE's objective with K samples, beta = 0
the IWAE's. The ELBO term keeps the encoder's gradient signal that the IWAE bound loses as
K grows. The loss is minus the combination; ``nll_bound`` is the IWAE bound.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from aezoo.models._spec import Metrics, ModelSpec, option
from aezoo.models.iwae import bound_metrics
from aezoo.models.vae import VAE, VAEConfig, iw_bound, log_importance_weights


@dataclasses.dataclass(frozen=True)
class CIWAEConfig(VAEConfig):
    """CIWAE settings: K samples and the ELBO's weight beta."""

    num_samples: int = option(64, "K: importance samples per example", low=1)
    beta: float = option(
        0.5, "weight of the ELBO (1 - beta on the IWAE bound)", sweep=True, low=0.0, high=1.0
    )


def loss_fn(params, batch, rng, *, module: VAE) -> tuple[jax.Array, Metrics]:
    """Minus ``beta * ELBO + (1 - beta) * IWAE`` (nats per example)."""
    cfg = module.config
    log_w = log_importance_weights(params, batch, rng, module=module, num_samples=cfg.num_samples)
    elbo, iwae = jnp.mean(log_w, axis=0), iw_bound(log_w)
    loss = -jnp.mean(cfg.beta * elbo + (1.0 - cfg.beta) * iwae)
    return loss, bound_metrics(loss, log_w)


SPEC = ModelSpec(
    name="ciwae",
    description="CIWAE: beta * ELBO + (1 - beta) * IWAE bound on the same K samples",
    config_cls=CIWAEConfig,
    module_cls=VAE,
    loss_fn=loss_fn,
    generative=True,
    normal_prior=True,
    density=log_importance_weights,
)
