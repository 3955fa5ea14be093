"""Per-element negative log-likelihoods of images under a decoder distribution (nats)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

LIKELIHOODS = ("bernoulli", "gaussian", "gaussian_pixel", "logistic")
# Decoders of these output two numbers per pixel (a location and a log-scale / log-variance).
TWO_PARAMETER = ("gaussian_pixel", "logistic")
_LOG_2PI = math.log(2.0 * math.pi)


def bernoulli_nll(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """-log Bernoulli(targets | sigmoid(logits)), elementwise, unreduced.

    Written as ``logaddexp(0, l) - l * t`` (softplus minus a linear term): no sigmoid, no
    log of a probability, exact for |logits| up to 1e4 and beyond. Targets may be soft (in
    [0, 1]). This form also compiles to a faster fused reduction on XLA:CPU than
    ``max(l, 0) - l * t + log1p(exp(-|l|))`` (docs: Benchmarks).

    Args:
      logits: any shape, float.
      targets: same shape as ``logits``, values in [0, 1].

    Returns:
      Same shape as ``logits``: the NLL in nats.
    """
    return jnp.logaddexp(0.0, logits) - logits * targets


def gaussian_nll(x: jax.Array, mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """-log N(x | mean, exp(logvar)), elementwise, unreduced, constant included.

    With a fixed ``logvar`` this is ``0.5 * (x - mean)**2 / var`` plus a constant: squared
    error *is* a Gaussian NLL (the lecture's point), and this function returns it in nats.

    Args:
      x, mean: any broadcast-compatible shapes.
      logvar: log-variance, broadcast-compatible with ``x``.

    Returns:
      The broadcast shape of the inputs: the NLL in nats.
    """
    return 0.5 * (_LOG_2PI + logvar + jnp.square(x - mean) * jnp.exp(-logvar))


def gaussian_log_prob(x: jax.Array, mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """log N(x | mean, exp(logvar)), elementwise (the negative of :func:`gaussian_nll`)."""
    return -gaussian_nll(x, mean, logvar)


def discretized_logistic_nll(x: jax.Array, loc: jax.Array, log_scale: jax.Array) -> jax.Array:
    """-log P(x) of 8-bit intensities under a logistic discretized to 256 bins, elementwise.

    ``x`` in [0, 1] (multiples of 1/255) is mapped to [-1, 1]; each value owns the bin of
    width 2/255 around it, the edges 0 and 255 own the tails (Salimans et al. 2017,
    PixelCNN++). Logs of CDFs are written with softplus (no log of a small difference of
    sigmoids except where it is well above rounding); in the far tails of a bin the density
    at its centre times the bin width takes over. The result is a probability of a discrete
    value: nats that convert to bits/dim.

    Args:
      x: intensities in [0, 1], any shape.
      loc: location on the [-1, 1] scale, same shape.
      log_scale: log of the logistic's scale, same shape (clipped below at -7).

    Returns:
      Same shape as ``x``: the NLL in nats.
    """
    log_scale = jnp.maximum(log_scale, -7.0)
    centered = 2.0 * x - 1.0 - loc
    inv_s = jnp.exp(-log_scale)
    plus_in = inv_s * (centered + 1.0 / 255.0)
    min_in = inv_s * (centered - 1.0 / 255.0)
    log_cdf_plus = plus_in - jax.nn.softplus(plus_in)  # log sigmoid(plus_in): x = 0
    log_one_minus_cdf_min = -jax.nn.softplus(min_in)  # log (1 - sigmoid(min_in)): x = 255
    cdf_delta = jax.nn.sigmoid(plus_in) - jax.nn.sigmoid(min_in)
    mid_in = inv_s * centered
    log_pdf_mid = mid_in - log_scale - 2.0 * jax.nn.softplus(mid_in) - math.log(127.5)
    log_mid = jnp.where(cdf_delta > 1e-5, jnp.log(jnp.maximum(cdf_delta, 1e-12)), log_pdf_mid)
    log_p = jnp.where(
        x < 0.5 / 255.0, log_cdf_plus, jnp.where(x > 254.5 / 255.0, log_one_minus_cdf_min, log_mid)
    )
    return -log_p


def image_nll(likelihood: str, decoded: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    """Per-example NLL of images ``x`` under a decoder's output distribution.

    Args:
      likelihood: ``"bernoulli"`` (``decoded["logits"]``), ``"gaussian"`` /
        ``"gaussian_pixel"`` (``decoded["mean"]`` and ``decoded["logvar"]``: one learned
        scalar or one per pixel) or ``"logistic"`` (discretized, for 8-bit data:
        ``decoded["loc"]`` and ``decoded["log_scale"]``).
      decoded: the decoder's output dict; arrays shaped like ``x`` (logvar may broadcast).
      x: images ``[B, H, W, C]`` in [0, 1].

    Returns:
      ``[B]``: the NLL summed over pixels, in nats.
    """
    nll = pixel_nll(likelihood, decoded, x)
    return jnp.sum(nll.reshape(nll.shape[0], -1), axis=-1)


def pixel_nll(likelihood: str, decoded: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    """The NLL of each pixel (unreduced), ``decoded``'s arrays and ``x`` broadcast against
    each other: ``[K, B, H, W, C]`` decodes of K codes per image score ``x[None]`` without
    a K-fold copy of the images (the importance-sampled NLL's layout)."""
    if likelihood == "bernoulli":
        return bernoulli_nll(decoded["logits"], x)
    if likelihood in ("gaussian", "gaussian_pixel"):
        return gaussian_nll(x, decoded["mean"], decoded["logvar"])
    if likelihood == "logistic":
        return discretized_logistic_nll(x, decoded["loc"], decoded["log_scale"])
    raise ValueError(f"unknown likelihood {likelihood!r}; expected one of {LIKELIHOODS}")
