"""A Gaussian mixture with full covariances on the training codes (Ghosh et al., 2020: the
ex-post density that turns a deterministic or regularized autoencoder into a generator,
and often beats a VAE's own N(0, I) prior, whose aggregate posterior it does not match)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from aezoo._validate import Options, option
from aezoo.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class GmmOptions(Options):
    components: int = option(10, "gmm: mixture components", low=1)


def fit(
    codes: np.ndarray,
    *,
    seed: int,
    say: Callable[[str], None] = print,
    **options: Any,
) -> dict[str, np.ndarray]:
    """EM (scikit-learn, k-means initialization, ``reg_covar`` 1e-6) on ``[N, D]`` codes:
    ``{"log_weights" [K], "means" [K, D], "chol" [K, D, D]}`` (covariance Cholesky factors)."""
    from sklearn.mixture import GaussianMixture

    components = GmmOptions(**options).components
    if len(codes) < components:
        raise ConfigError(f"{len(codes)} training codes cannot fit {components} components")
    gmm = GaussianMixture(
        components, covariance_type="full", reg_covar=1e-6, max_iter=500, random_state=seed
    )
    gmm.fit(np.asarray(codes, np.float64))
    return {
        "log_weights": np.log(gmm.weights_).astype(np.float32),
        "means": gmm.means_.astype(np.float32),
        "chol": np.linalg.cholesky(gmm.covariances_).astype(np.float32),
    }


def draw(arrays: dict[str, np.ndarray], n: int, key: jax.Array, **options) -> jax.Array:
    """``n`` codes ``[n, D]``: a component by its weight, then its Gaussian."""
    k_key, z_key = jax.random.split(key)
    comp = jax.random.categorical(k_key, jnp.asarray(arrays["log_weights"]), shape=(n,))
    eps = jax.random.normal(z_key, (n, arrays["means"].shape[1]))
    chol = jnp.asarray(arrays["chol"])[comp]
    return jnp.asarray(arrays["means"])[comp] + jnp.einsum("nij,nj->ni", chol, eps)


def log_prob(arrays: dict[str, np.ndarray], codes: jax.Array, **options) -> jax.Array:
    """``[B]`` log-densities (nats) of codes ``[B, D]`` under the mixture."""
    z = jnp.asarray(codes, jnp.float32)
    chol = jnp.asarray(arrays["chol"])  # [K, D, D]
    diff = z[:, None, :] - jnp.asarray(arrays["means"])[None]  # [B, K, D]
    solve = jax.vmap(
        lambda c, d: jax.scipy.linalg.solve_triangular(c, d.T, lower=True).T,
        in_axes=(0, 1),
        out_axes=1,
    )
    white = solve(chol, diff)  # [B, K, D]
    log_det = jnp.sum(jnp.log(jnp.diagonal(chol, axis1=1, axis2=2)), axis=-1)  # [K]
    dim = z.shape[1]
    log_n = (
        -0.5 * jnp.sum(jnp.square(white), -1) - log_det[None] - 0.5 * dim * math.log(2 * math.pi)
    )
    return jax.nn.logsumexp(log_n + jnp.asarray(arrays["log_weights"])[None], axis=-1)
