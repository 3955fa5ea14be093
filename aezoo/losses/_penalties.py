"""Regularizers on codes and code distributions, unreduced unless a batch statistic."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def l1_activity(code: jax.Array) -> jax.Array:
    """``|code|`` elementwise: the L1 activity penalty of a sparse autoencoder."""
    return jnp.abs(code)


def kl_bernoulli_rate(rho: float, rho_hat: jax.Array, eps: float = 1e-6) -> jax.Array:
    """``KL(Bernoulli(rho) || Bernoulli(rho_hat))`` per unit: the sparse-AE target-rate penalty.

    Args:
      rho: target mean activation of each sigmoid code unit, in (0, 1).
      rho_hat: ``[D]`` measured mean activations (over a batch), in (0, 1).
    """
    rho_hat = jnp.clip(rho_hat, eps, 1.0 - eps)
    return rho * jnp.log(rho / rho_hat) + (1.0 - rho) * jnp.log((1.0 - rho) / (1.0 - rho_hat))


def mmd_rbf(x: jax.Array, y: jax.Array, *, scale: float = 1.0) -> jax.Array:
    """Squared maximum mean discrepancy between samples ``x [N, D]`` and ``y [M, D]``.

    Gaussian kernel ``exp(-|a - b|^2 / (2 scale^2 D))`` (bandwidth grows with D); the biased
    (V-statistic) estimate, >= 0, and 0 when the two samples are the same. A batch statistic,
    so it is reduced.
    """
    d = x.shape[-1]

    def kernel(a, b):
        sq = jnp.sum(jnp.square(a[:, None, :] - b[None, :, :]), axis=-1)
        return jnp.exp(-sq / (2.0 * scale**2 * d))

    return jnp.mean(kernel(x, x)) + jnp.mean(kernel(y, y)) - 2.0 * jnp.mean(kernel(x, y))
