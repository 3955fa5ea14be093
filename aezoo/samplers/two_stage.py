"""The two-stage VAE sampler (Dai & Wipf, 2019): a second VAE trained on the first model's
standardized training codes, with a Gaussian decoder whose one variance is learned (their
gamma), so it can match the aggregate posterior that the first model's N(0, I) prior does
not. Sampling: u ~ N(0, I), then z ~ N(mean(u), gamma) from the second decoder (the
second VAE's own marginal; Dai & Wipf take the mean, the same as gamma goes to 0 as it does
when the second VAE fits well; a collapsed second VAE still draws its Gaussian fit), then
the first decoder.

The second VAE is aezoo's own ``vae`` on the codes as tabular vectors, trained with the
shared step (``latent_dim`` = the code size, as in the paper)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from aezoo._validate import option
from aezoo.models import get_spec
from aezoo.samplers import _density


def _config(dim: int, hidden: int, layers: int) -> dict:
    return {"likelihood": "gaussian", "latent_dim": dim, "hidden_dims": (hidden,) * layers}


@dataclasses.dataclass(frozen=True)
class TwoStageOptions(_density.TrainedOptions):
    hidden: int = option(512, "two_stage, flow: hidden width of the density network", low=1)
    layers: int = option(2, "two_stage, autoregressive: hidden layers", low=1)


def fit(
    codes: np.ndarray,
    *,
    seed: int,
    say: Callable[[str], None] = print,
    **options: Any,
) -> dict[str, np.ndarray]:
    """Train the second VAE on the standardized ``[N, D]`` codes."""
    o = TwoStageOptions(**options)
    vectors, stats = _density.standardize(codes)
    params = _density.train(
        get_spec("vae"),
        vectors,
        _config(vectors.shape[1], o.hidden, o.layers),
        seed=seed,
        epochs=o.epochs,
        batch_size=128,
        learning_rate=o.learning_rate,
        say=say,
    )
    return {**stats, **params}


@functools.cache
def _module(dim: int, hidden: int, layers: int):
    return get_spec("vae").make({"image_shape": (1, 1, dim), **_config(dim, hidden, layers)})[1]


@functools.partial(jax.jit, static_argnums=(0, 2))
def _sample(module, params, n: int, key: jax.Array) -> jax.Array:
    prior_key, noise_key = jax.random.split(key)
    out = module.apply({"params": params}, n, prior_key, method="sample")
    mean, logvar = out["mean"].reshape(n, -1), out["logvar"].reshape(n, -1)
    return mean + jnp.exp(0.5 * logvar) * jax.random.normal(noise_key, mean.shape)


def draw(arrays: dict[str, np.ndarray], n: int, key: jax.Array, **options) -> jax.Array:
    """``n`` codes ``[n, D]``: draws of the second VAE (prior, then its decoder)."""
    dim = arrays["mean"].shape[0]
    module = _module(dim, int(options["hidden"]), int(options["layers"]))
    z = _sample(module, _density.params_of(arrays), n, key)
    return _density.unstandardize(z, arrays)
