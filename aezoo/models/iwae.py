"""Importance-weighted autoencoder (Burda et al., 2016).

Trains on the k-sample bound ``log (1/k) sum_k p(x, z_k) / q(z_k | x)``, tighter than the ELBO
(k = 1) and increasing with k. The loss (and the test loss) is its negative in nats per
example; ``nll_bound`` equals it. The same estimator, with large k, is the NLL evaluation.

``--estimator dreg`` keeps the bound and changes only the encoder's gradient: the doubly
reparameterized estimator (Tucker et al., 2019) drops the score-function term of
``log q`` (zero in expectation, large in variance) and weighs each sample's path gradient by
its squared normalized weight. Its expectation is the plain estimator's; its variance does
not grow with k, so the encoder keeps learning at large k where the plain one's signal fades
(Rainforth et al., 2018). The decoder's gradient is the same in both.

This file also holds the pieces the other multi-sample bounds share (``miwae``, ``ciwae``,
``piwae``): the samples with their log-weights, and the surrogate that routes gradients.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from aezoo.models._spec import Metrics, ModelSpec, option
from aezoo.models.vae import (
    VAE,
    VAEConfig,
    iw_bound,
    log_importance_weights,
    log_weights_at,
    posterior_samples,
)

ESTIMATORS = ("plain", "dreg")
sg = jax.lax.stop_gradient


@dataclasses.dataclass(frozen=True)
class IWAEConfig(VAEConfig):
    """IWAE settings: the number of importance samples and the gradient estimator."""

    num_samples: int = option(5, "k: importance samples per example in the bound", low=1)
    estimator: str = option(
        "plain",
        "encoder gradient: plain (reparameterized bound) or dreg (doubly reparameterized, "
        "Tucker et al. 2019: same expectation, lower variance)",
        choices=ESTIMATORS,
    )


@dataclasses.dataclass(frozen=True)
class Weights:
    """One batch's log-weights ``[K, B]`` four ways, equal in value, apart in gradient.

    ``full``: every path (the plain reparameterized estimator). ``generative``: the codes
    and the posterior's parameters held fixed, so only the decoder and the prior (``theta``)
    receive gradient. ``inference``: the decoder and prior held fixed, so only the encoder
    (``phi``) receives gradient, through the codes and ``log q``. ``path``: as
    ``inference`` but ``log q`` at a fixed posterior, so ``phi``'s gradient runs along the
    reparameterization path alone (DReG's term). Under ``jit`` the forward passes are one
    (XLA merges identical computations; unused ones are dropped); only the backward passes
    differ.
    """

    full: jax.Array
    generative: jax.Array
    inference: jax.Array
    path: jax.Array


def sample_weights(params, batch, rng, *, module: VAE, num_samples: int) -> Weights:
    """``num_samples`` reparameterized codes per example and their log-weights."""
    z, mean, logvar = posterior_samples(params, batch, rng, module=module, num_samples=num_samples)
    fixed = sg(mean), sg(logvar)
    return Weights(
        full=log_weights_at(params, batch, z, mean, logvar, module=module),
        generative=log_weights_at(params, batch, sg(z), *fixed, module=module),
        inference=log_weights_at(sg(params), batch, z, mean, logvar, module=module),
        path=log_weights_at(sg(params), batch, z, *fixed, module=module),
    )


def dreg_surrogate(w: Weights) -> jax.Array:
    """A scalar whose gradient is minus the DReG estimate of the IWAE bound's gradient,
    averaged over the batch: ``theta`` by ``sum_k w_k grad log w_k``, ``phi`` by
    ``sum_k w_k^2 dlog w_k/dz_k dz_k/dphi`` (``w`` the normalized weights, held fixed)."""
    normalized = sg(jax.nn.softmax(w.full, axis=0))
    per_example = jnp.sum(normalized * w.generative + jnp.square(normalized) * w.path, axis=0)
    return -jnp.mean(per_example)


def with_gradient_of(value: jax.Array, surrogate: jax.Array) -> jax.Array:
    """``value`` in the forward pass, ``surrogate``'s gradient in the backward one."""
    return value + surrogate - sg(surrogate)


def grouped_bound(log_w: jax.Array, groups: int) -> jax.Array:
    """MIWAE: the mean of ``groups`` independent ``K / groups``-sample bounds, ``[K, B] ->
    [B]`` (``groups = 1``: the IWAE bound; ``groups = K``: the ELBO)."""
    k = log_w.shape[0] // groups
    per_group = jax.nn.logsumexp(log_w.reshape(groups, k, -1), axis=1) - math.log(k)
    return jnp.mean(per_group, axis=0)


def bound_metrics(loss: jax.Array, log_w: jax.Array) -> Metrics:
    """What every multi-sample model reports: its training loss, the tightest bound its
    samples give (IWAE over all of them, ``nll_bound``), the ELBO of its encoder estimated
    on the same samples (``neg_elbo``, how good ``q`` is on its own) and the effective
    sample size of the normalized weights (how many samples really count)."""
    w = jax.nn.softmax(log_w, axis=0)
    return {
        "loss": loss,
        "nll_bound": -jnp.mean(iw_bound(log_w)),
        "neg_elbo": -jnp.mean(log_w),
        "ess": jnp.mean(1.0 / jnp.sum(jnp.square(w), axis=0)),
    }


def loss_fn(params, batch, rng, *, module: VAE) -> tuple[jax.Array, Metrics]:
    """Negative k-sample importance-weighted bound (nats per example)."""
    cfg = module.config
    if cfg.estimator == "dreg":
        w = sample_weights(params, batch, rng, module=module, num_samples=cfg.num_samples)
        log_w = w.full
        loss = with_gradient_of(-jnp.mean(iw_bound(sg(log_w))), dreg_surrogate(w))
    else:
        log_w = log_importance_weights(
            params, batch, rng, module=module, num_samples=cfg.num_samples
        )
        loss = -jnp.mean(iw_bound(log_w))
    return loss, bound_metrics(loss, log_w)


SPEC = ModelSpec(
    name="iwae",
    description="importance-weighted autoencoder: k-sample bound, tighter than the ELBO",
    config_cls=IWAEConfig,
    module_cls=VAE,
    loss_fn=loss_fn,
    generative=True,
    normal_prior=True,
    density=log_importance_weights,
)
