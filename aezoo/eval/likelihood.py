"""Likelihood evaluation: importance-sampled log p(x), ELBO, active units, reconstruction.

``log p(x) ~= logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log K``, z_k ~ q(z|x):
a stochastic lower bound on log p(x) that tightens as K grows (Burda et al., 2016). It uses
the model's ``spec.density``; K = 5000 samples are drawn in chunks inside one jitted
``lax.scan`` so memory stays bounded whatever K is.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from aezoo import data
from aezoo.errors import ConfigError
from aezoo.losses import image_nll, kl_normal_std
from aezoo.models import ModelSpec, require
from aezoo.models.vae import decode_in_blocks

IS_BATCH = 100  # images per call of the IS-NLL in `aezoo eval`


# Decodes per block inside a chunk (vae.decode_in_blocks): of 1,000-25,000 rows timed side by
# side on XLA:CPU, 2,500-5,000 were fastest (docs/benchmarks.md); the chunk's random draws
# are unchanged, its values up to float rounding.
DECODE_ROWS = 5_000


def chunk_size(num_samples: int, batch_size: int, budget: int = 50_000) -> int:
    """The largest divisor of ``num_samples`` with ``chunk * batch_size <= budget``."""
    best = 1
    for c in range(1, num_samples + 1):
        if num_samples % c == 0 and c * batch_size <= budget:
            best = c
    return best


def make_log_px_fn(
    spec: ModelSpec, module, *, num_samples: int, batch_size: int
) -> Callable[[Any, dict, jax.Array], jax.Array]:
    """Jitted ``(params, batch, rng) -> [B]`` importance-sampled ``log p(x)`` estimates."""
    require(spec, "density", "nll_samples > 0")
    if num_samples < 1:
        raise ConfigError(f"nll_samples must be >= 1; got {num_samples}")
    chunk = chunk_size(num_samples, batch_size)
    steps = num_samples // chunk

    @jax.jit
    def log_px(params, batch, rng):
        def body(acc, i):
            log_w = spec.density(
                params, batch, jax.random.fold_in(rng, i), module=module, num_samples=chunk
            )
            return jnp.logaddexp(acc, jax.nn.logsumexp(log_w, axis=0)), None

        init = jnp.full((batch["image"].shape[0],), -jnp.inf)
        with decode_in_blocks(DECODE_ROWS):  # the scan traces its body here
            total, _ = jax.lax.scan(body, init, jnp.arange(steps))
        return total - math.log(num_samples)

    return log_px


def reconstruction_stats(module, params, x: jax.Array, label) -> dict[str, jax.Array]:
    """Per-example NLL of ``x`` under the reconstruction's distribution, MSE, PSNR, and
    the relative error: the MSE over the mean intensity of the image plus that of its
    reconstruction (pixels in [0, 1]: the share of the ink that is wrong)."""
    out = module.apply({"params": params}, x, label=label, method="reconstruct")
    nll = image_nll(module.config.likelihood, out, x)
    mse = _per_example_mean(jnp.square(out["mean"] - x))
    psnr = 10.0 * jnp.log10(1.0 / jnp.maximum(mse, 1e-10))
    relative = relative_error(x, out["mean"])
    return {"recon": nll, "mse": mse, "psnr": psnr, "relative_error": relative}


def relative_error(x: jax.Array, mean: jax.Array) -> jax.Array:
    """``[B]``: the squared error of ``mean`` (a reconstruction) over the mean intensity of
    the image plus that of the reconstruction (pixels in [0, 1]). The squared error grows
    with the ink an image has; this is the share of its ink that is wrong."""
    ink = _per_example_mean(x) + _per_example_mean(mean)
    return _per_example_mean(jnp.square(mean - x)) / jnp.maximum(ink, RELATIVE_FLOOR)


RELATIVE_FLOOR = 1e-3  # the relative error's smallest intensity (a blank image and output)


def _per_example_mean(v: jax.Array) -> jax.Array:
    return jnp.mean(v.reshape(v.shape[0], -1), axis=-1)


ACTIVE_UNIT_THRESHOLD = 0.01  # Burda et al. (2015)'s activity threshold


def active_mask(means: np.ndarray, threshold: float = ACTIVE_UNIT_THRESHOLD) -> np.ndarray:
    """``[D]`` Burda et al.'s active units: dimensions u with ``Cov_x(E_q[z_u | x]) >
    threshold`` over the examples of ``[N, D]`` codes."""
    return np.var(np.asarray(means), axis=0) > threshold


def active_units(means: np.ndarray, threshold: float = ACTIVE_UNIT_THRESHOLD) -> int:
    """How many of Burda et al.'s active units the ``[N, D]`` codes have."""
    return int(np.sum(active_mask(means, threshold)))


def bits_per_dim(nll_nats: float, num_dims: int) -> float:
    return nll_nats / (num_dims * math.log(2.0))


CONTINUOUS = ("gaussian", "gaussian_pixel")  # densities of [0, 1] pixels, not probabilities


def reported_bits_per_dim(nll_nats: float, config: Any) -> float | None:
    """Bits per dimension where they mean what papers mean: the discrete likelihood of the
    256 values of 8-bit pixels. A Bernoulli or discretized-logistic decoder gives it
    directly; a Gaussian one is a density of pixels scaled to [0, 1], so 8 bits (log2 256,
    the change of scale to 0..255 with uniform dequantization) are added per dimension.
    Tabular vectors have no bits per dimension (None)."""
    dims = int(np.prod(config.image_shape))
    if config.image_shape[0] == 1 and config.image_shape[1] == 1:  # standardized features
        return None
    bits = bits_per_dim(nll_nats, dims)
    return bits + 8.0 if config.likelihood in CONTINUOUS else bits


@functools.cache
def _jit_stats(module):
    @jax.jit
    def stats(params, x, label):
        out = reconstruction_stats(module, params, x, label)
        q = module.apply({"params": params}, x, label=label, method="encode")
        mean = q.get("z_mean", q.get("z"))
        out["code"] = mean.reshape(mean.shape[0], -1)
        if "z_logvar" in q:
            out["kl_dims"] = kl_normal_std(q["z_mean"], q["z_logvar"])
        return out

    return stats


def encode_and_reconstruct(spec: ModelSpec, module, params, x_all, labels, *, batch_size=500):
    """Codes, per-dimension KL and reconstruction stats for a whole set (host arrays)."""
    stats = _jit_stats(module)
    parts: dict[str, list] = {}
    for start in range(0, len(x_all), batch_size):
        x = data.to_float(jnp.asarray(x_all[start : start + batch_size]))
        y = jnp.asarray(labels[start : start + batch_size], jnp.int32)
        for k, v in stats(params, x, y).items():
            parts.setdefault(k, []).append(np.asarray(v))
    return {k: np.concatenate(v) for k, v in parts.items()}
