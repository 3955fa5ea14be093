"""Importance-weighted autoencoder (Burda et al., 2016).

Trains on the k-sample bound ``log (1/k) sum_k p(x, z_k) / q(z_k | x)``, tighter than the ELBO
(k = 1) and increasing with k. The loss (and the test loss) is its negative in nats per
example; ``nll_bound`` equals it. The same estimator, with large k, is the NLL evaluation.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from aezoo.models._spec import Metrics, ModelSpec, option
from aezoo.models.vae import VAE, VAEConfig, iw_bound, log_importance_weights


@dataclasses.dataclass(frozen=True)
class IWAEConfig(VAEConfig):
    """IWAE settings: the number of importance samples."""

    num_samples: int = option(5, "k: importance samples per example in the bound", low=1)


def loss_fn(params, batch, rng, *, module: VAE) -> tuple[jax.Array, Metrics]:
    """Negative k-sample importance-weighted bound (nats per example)."""
    log_w = log_importance_weights(
        params, batch, rng, module=module, num_samples=module.config.num_samples
    )
    loss = -jnp.mean(iw_bound(log_w))
    # Effective sample size of the normalized weights: how many samples really count.
    w = jax.nn.softmax(log_w, axis=0)
    ess = jnp.mean(1.0 / jnp.sum(jnp.square(w), axis=0))
    return loss, {"loss": loss, "nll_bound": loss, "ess": ess}


SPEC = ModelSpec(
    name="iwae",
    description="importance-weighted autoencoder: k-sample bound, tighter than the ELBO",
    config_cls=IWAEConfig,
    module_cls=VAE,
    loss_fn=loss_fn,
    generative=True,
    log_weights=log_importance_weights,
)
