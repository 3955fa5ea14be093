"""MLP encoder/decoder blocks shared by every model."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from aezoo.errors import ShapeError


def check_images(x: jax.Array, image_shape: Sequence[int]) -> None:
    """Raise a one-line :class:`ShapeError` unless ``x`` is ``[B, *image_shape]`` float."""
    expected = (*image_shape,)
    if x.ndim != 4 or tuple(x.shape[1:]) != expected:
        raise ShapeError(
            f"images must have shape [batch, {', '.join(map(str, expected))}] "
            f"(rank 4, [B, H, W, C]); got shape {tuple(x.shape)}"
        )
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise ShapeError(
            f"images must be floating point in [0, 1]; got dtype {x.dtype} "
            "(convert uint8 with aezoo.data.to_float)"
        )


class MLP(nn.Module):
    """Dense layers with an activation between them (and after the last if asked)."""

    features: Sequence[int]
    activation: Callable[[jax.Array], jax.Array] = nn.relu
    activate_final: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for i, width in enumerate(self.features):
            x = nn.Dense(width, name=f"dense_{i}")(x)
            if i < len(self.features) - 1 or self.activate_final:
                x = self.activation(x)
        return x


class Encoder(nn.Module):
    """Flattens ``[B, H, W, C]`` images and maps them to ``[B, out_dim]`` features."""

    hidden_dims: Sequence[int]
    out_dim: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.reshape(x.shape[0], -1)
        return MLP((*self.hidden_dims, self.out_dim), name="mlp")(x)


class GaussianEncoder(nn.Module):
    """Encoder whose output is a diagonal Gaussian: ``(mean, logvar)``, each ``[B, latent]``."""

    hidden_dims: Sequence[int]
    latent_dim: int

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = Encoder(self.hidden_dims, 2 * self.latent_dim, name="encoder")(x)
        mean, logvar = jnp.split(h, 2, axis=-1)
        return mean, logvar


class Decoder(nn.Module):
    """Maps ``[B, latent]`` codes to the parameters of an image distribution.

    Returns a dict of arrays shaped ``[B, *image_shape]``: ``logits`` and ``mean``
    (= sigmoid(logits)) for a Bernoulli decoder; ``mean`` and ``logvar`` for a Gaussian one.
    The Gaussian log-variance is one learned scalar (``obs_logvar=None``) or a fixed number.
    """

    hidden_dims: Sequence[int]
    image_shape: Sequence[int]
    likelihood: str = "bernoulli"
    obs_logvar: float | None = None

    @nn.compact
    def __call__(self, z: jax.Array) -> dict[str, jax.Array]:
        out = MLP((*self.hidden_dims, math.prod(self.image_shape)), name="mlp")(z)
        out = out.reshape(z.shape[0], *self.image_shape)
        if self.likelihood == "bernoulli":
            return {"logits": out, "mean": nn.sigmoid(out)}
        if self.obs_logvar is None:
            logvar = self.param("obs_logvar", nn.initializers.zeros, ())
        else:
            logvar = jnp.asarray(self.obs_logvar, out.dtype)
        return {"mean": out, "logvar": jnp.broadcast_to(logvar, out.shape)}


def reparameterize(rng: jax.Array, mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """Draw ``z = mean + exp(logvar / 2) * eps`` with ``eps ~ N(0, I)`` (differentiable)."""
    eps = jax.random.normal(rng, mean.shape, mean.dtype)
    return mean + jnp.exp(0.5 * logvar) * eps
