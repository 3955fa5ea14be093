"""PIWAE (Rainforth et al., 2018): the decoder and the encoder each trained on their own
bound.

The decoder (and prior) ascend the IWAE bound of all M * K samples, the tightest, which
is what a generative model wants; the encoder ascends MIWAE(M, K), whose gradient keeps its
signal-to-noise ratio as the samples grow, which is what an inference network needs. Both
come from the same samples in one pass: each bound's gradient is routed to its own
parameters (``stop_gradient`` on the others), so this is one loss on the shared step. The
loss's value, like ``nll_bound``, is the IWAE bound; ``neg_elbo`` shows the encoder's own
quality (Rainforth et al. find it better than IWAE's at equal budget).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from aezoo.models._spec import Metrics, ModelSpec
from aezoo.models.iwae import bound_metrics, grouped_bound, sample_weights, sg, with_gradient_of
from aezoo.models.miwae import MIWAEConfig, total_samples
from aezoo.models.vae import VAE, iw_bound, log_importance_weights


@dataclasses.dataclass(frozen=True)
class PIWAEConfig(MIWAEConfig):
    """PIWAE settings: M * K samples; the encoder's bound is MIWAE(M, K)."""


def loss_fn(params, batch, rng, *, module: VAE) -> tuple[jax.Array, Metrics]:
    """IWAE(M * K) for the decoder, MIWAE(M, K) for the encoder (nats per example)."""
    cfg = module.config
    w = sample_weights(params, batch, rng, module=module, num_samples=total_samples(cfg))
    decoder = -jnp.mean(iw_bound(w.generative))
    encoder = -jnp.mean(grouped_bound(w.inference, cfg.num_groups))
    loss = with_gradient_of(-jnp.mean(iw_bound(sg(w.full))), decoder + encoder)
    return loss, bound_metrics(loss, w.full)


SPEC = ModelSpec(
    name="piwae",
    description="PIWAE: decoder on the IWAE bound, encoder on MIWAE(M, K), one pass",
    config_cls=PIWAEConfig,
    module_cls=VAE,
    loss_fn=loss_fn,
    generative=True,
    normal_prior=True,
    density=log_importance_weights,
)
