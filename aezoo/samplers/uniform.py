"""The baseline for a discrete code: every position drawn uniformly from the codebook,
independently (what a VQ-VAE without a learned prior can do). ``log p(c) = -L log K``."""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np


def fit(
    codes: np.ndarray, *, seed: int, vocabulary: int, say: Callable[[str], None] = print
) -> dict[str, np.ndarray]:
    """Nothing to learn: the code length and the codebook size."""
    return {"positions": np.asarray(codes.shape[1]), "vocabulary": np.asarray(vocabulary)}


def draw(arrays: dict[str, np.ndarray], n: int, key: jax.Array, **options) -> jax.Array:
    shape = (n, int(arrays["positions"]))
    return jax.random.randint(key, shape, 0, int(arrays["vocabulary"]))


def log_prob(arrays: dict[str, np.ndarray], codes: jax.Array, **options) -> jax.Array:
    value = -int(arrays["positions"]) * math.log(int(arrays["vocabulary"]))
    return jnp.full((np.shape(codes)[0],), value)
