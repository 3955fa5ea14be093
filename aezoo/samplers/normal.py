"""The standard normal N(0, I) on the code, decoded: the prior a VAE assumes, applied to any
model that encodes (an autoencoder's codes were never asked to fill it; Ghosh et al. 2020
compare it with the ex-post GMM). ``log p(z)`` is exact."""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np


def fit(
    codes: np.ndarray, *, seed: int, say: Callable[[str], None] = print
) -> dict[str, np.ndarray]:
    """Nothing to learn: the code size."""
    return {"dims": np.asarray(codes.shape[1])}


def draw(arrays: dict[str, np.ndarray], n: int, key: jax.Array, **options) -> jax.Array:
    return jax.random.normal(key, (n, int(arrays["dims"])))


def log_prob(arrays: dict[str, np.ndarray], codes: jax.Array, **options) -> jax.Array:
    z = jnp.asarray(codes, jnp.float32)
    return -0.5 * jnp.sum(jnp.square(z) + math.log(2 * math.pi), axis=-1)
