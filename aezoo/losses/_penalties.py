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


MMD_KERNELS = ("imq", "rbf")
# Kernel scales, as multiples of 2 * D (a unit-variance prior's expected squared distance),
# summed as in Tolstikhin et al.'s WAE code: no single bandwidth has to be right.
MMD_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def mmd_kernel(sq_dist: jax.Array, dim: int, kernel: str) -> jax.Array:
    """The multi-scale kernel of squared distances: inverse multiquadratics
    ``sum_s C_s / (C_s + d^2)`` or Gaussians ``sum_s exp(-d^2 / C_s)``, ``C_s = 2 D s``."""
    total = jnp.zeros_like(sq_dist)
    for s in MMD_SCALES:
        c = 2.0 * dim * s
        total = total + (c / (c + sq_dist) if kernel == "imq" else jnp.exp(-sq_dist / c))
    return total


def mmd(x: jax.Array, y: jax.Array, *, kernel: str = "imq") -> jax.Array:
    """Unbiased (U-statistic) squared MMD between samples ``x [N, D]`` and ``y [M, D]``
    with :func:`mmd_kernel` (Gretton et al. 2012, eq. 3): the kernel means over pairs
    ``i != j`` (the cross term too when ``N == M``, so ``mmd(x, x) == 0``). Its expectation
    is the population MMD^2 (it can be < 0 on a batch); a batch statistic, so it is
    reduced. ``N, M >= 2``."""
    n, m, dim = x.shape[0], y.shape[0], x.shape[-1]

    def gram(a, b):
        sq = jnp.sum(jnp.square(a[:, None, :] - b[None, :, :]), axis=-1)
        return mmd_kernel(sq, dim, kernel)

    def off_diagonal_mean(k, size):
        return (jnp.sum(k) - jnp.trace(k)) / (size * (size - 1))

    kxx = off_diagonal_mean(gram(x, x), n)
    kyy = off_diagonal_mean(gram(y, y), m)
    kxy = off_diagonal_mean(gram(x, y), n) if n == m else jnp.mean(gram(x, y))
    return kxx + kyy - 2.0 * kxy
