"""KL divergences between diagonal Gaussians, elementwise and unreduced (nats)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


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
