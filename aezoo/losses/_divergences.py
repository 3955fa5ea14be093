"""KL divergences between diagonal Gaussians, elementwise and unreduced (nats)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from aezoo.losses._likelihoods import gaussian_log_prob


def kl_normal_std(mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """KL(N(mean, exp(logvar)) || N(0, 1)) per dimension, unreduced.

    Args:
      mean, logvar: ``[..., D]``.

    Returns:
      ``[..., D]``: sum over the last axis for the KL of the diagonal Gaussian.
    """
    return 0.5 * (jnp.exp(logvar) + jnp.square(mean) - 1.0 - logvar)


def kl_normal(
    mean_q: jax.Array, logvar_q: jax.Array, mean_p: jax.Array, logvar_p: jax.Array
) -> jax.Array:
    """KL(N(mean_q, exp(logvar_q)) || N(mean_p, exp(logvar_p))) per dimension, unreduced."""
    return 0.5 * (
        logvar_p
        - logvar_q
        + (jnp.exp(logvar_q) + jnp.square(mean_q - mean_p)) * jnp.exp(-logvar_p)
        - 1.0
    )


def total_correlation(z: jax.Array, mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """Minibatch estimate of the total correlation ``KL(q(z) || prod_d q(z_d))``, per example.

    ``q(z)`` is the batch's aggregate posterior ``(1/B) sum_j q(z | x_j)``; each row's sample
    ``z_i`` is scored against every row's Gaussian (the estimator of beta-TCVAE as
    disentanglement_lib implements it, normalized by the batch size so that it reads as the
    batch's TC; the normalization is a constant and leaves the gradients alone).

    Args:
      z: ``[B, D]`` samples, one per row, from ``q(z | x_i)``.
      mean, logvar: ``[B, D]`` the rows' posterior parameters.

    Returns:
      ``[B]``: ``log q(z_i) - sum_d log q(z_id)`` in nats (average for the estimate).
    """
    log_q = gaussian_log_prob(z[:, None, :], mean[None, :, :], logvar[None, :, :])  # [B, B, D]
    log_b = math.log(z.shape[0])
    log_qz = jax.nn.logsumexp(jnp.sum(log_q, axis=2), axis=1) - log_b
    log_qz_product = jnp.sum(jax.nn.logsumexp(log_q, axis=1) - log_b, axis=1)
    return log_qz - log_qz_product
