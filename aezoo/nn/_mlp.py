"""Encoder/decoder blocks shared by every model: MLP or convolutional, optionally conditioned."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from aezoo.errors import ShapeError
from aezoo.losses import TWO_PARAMETER
from aezoo.nn._conv import Conv, ConvTranspose

ARCHS = ("mlp", "conv", "resnet")
# Activations of the dense hidden layers (``--activation``); conv blocks keep ReLU.
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu,
    "tanh": jnp.tanh,
    "elu": nn.elu,
    "softplus": nn.softplus,
    "gelu": nn.gelu,
}
# Channels of the two stride-2 convolutions of the conv encoder (mirrored by the decoder);
# the resnet arch works at these widths too (full resolution at the first).
CONV_CHANNELS = (32, 64)


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


def _conv_grid(image_shape: Sequence[int]) -> tuple[int, int]:
    """Spatial size after the encoder's two stride-2 convolutions (SAME padding)."""
    h, w = image_shape[0], image_shape[1]
    return math.ceil(math.ceil(h / 2) / 2), math.ceil(math.ceil(w / 2) / 2)


class ResBlock(nn.Module):
    """Pre-activation residual block: ``x + conv3x3(relu(conv3x3(relu(x))))``."""

    features: int
    impl: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = Conv(self.features, (3, 3), impl=self.impl, name="conv_a")(nn.relu(x))
        return x + Conv(self.features, (3, 3), impl=self.impl, name="conv_b")(nn.relu(h))


def _resnet_down(x: jax.Array, impl: str) -> jax.Array:
    """The resnet encoder's convolutions: a residual block at full (32 channels), half and
    quarter resolution (64), 4x4 stride-2 convolutions between them (called inside the
    encoder's compact scope, so the layers are the encoder's)."""
    full, top = CONV_CHANNELS
    x = Conv(full, (3, 3), impl=impl, name="stem")(x)
    for i, ch in enumerate((full, top, top)):
        x = ResBlock(ch, impl, name=f"res_{i}")(x)
        if i < 2:
            x = Conv(top, (4, 4), (2, 2), impl=impl, name=f"down_{i}")(nn.relu(x))
    return nn.relu(x)


def _resnet_up(y: jax.Array, channels: int, impl: str) -> jax.Array:
    """The resnet decoder: the encoder mirrored (residual blocks at quarter, half and full
    resolution, transposed convolutions up), then a 3x3 convolution to the image channels."""
    full, top = CONV_CHANNELS
    for i, ch in enumerate((top, full)):
        y = ResBlock(top, impl, name=f"res_{i}")(y)
        y = ConvTranspose(ch, (4, 4), (2, 2), impl=impl, name=f"up_{i}")(nn.relu(y))
    y = ResBlock(full, impl, name="res_2")(y)
    return Conv(channels, (3, 3), impl=impl, name="head")(nn.relu(y))


class Encoder(nn.Module):
    """``[B, H, W, C]`` images (and an optional ``[B, K]`` condition) -> ``[B, out_dim]``.

    ``mlp``: flatten, then the MLP. ``conv``: two 4x4 stride-2 convolutions, flatten, then the
    MLP. ``resnet``: residual blocks at three resolutions (see :func:`_resnet_down`), then the
    MLP. The condition (e.g. a one-hot label) joins the flattened features.
    """

    hidden_dims: Sequence[int]
    out_dim: int
    arch: str = "mlp"
    conv_impl: str = "auto"
    activation: str = "relu"

    @nn.compact
    def __call__(self, x: jax.Array, cond: jax.Array | None = None) -> jax.Array:
        if self.arch == "conv":
            for i, ch in enumerate(CONV_CHANNELS):
                conv = Conv(ch, (4, 4), (2, 2), impl=self.conv_impl, name=f"conv_{i}")
                x = nn.relu(conv(x))
        elif self.arch == "resnet":
            x = _resnet_down(x, self.conv_impl)
        h = x.reshape(x.shape[0], -1)
        if cond is not None:
            h = jnp.concatenate([h, cond.astype(h.dtype)], axis=-1)
        act = ACTIVATIONS[self.activation]
        return MLP((*self.hidden_dims, self.out_dim), act, name="mlp")(h)


class GaussianEncoder(nn.Module):
    """Encoder whose output is a diagonal Gaussian: ``(mean, logvar)``, each ``[B, latent]``."""

    hidden_dims: Sequence[int]
    latent_dim: int
    arch: str = "mlp"
    conv_impl: str = "auto"
    activation: str = "relu"

    @nn.compact
    def __call__(self, x: jax.Array, cond: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        encoder = Encoder(
            self.hidden_dims,
            2 * self.latent_dim,
            self.arch,
            self.conv_impl,
            self.activation,
            name="encoder",
        )
        h = encoder(x, cond)
        mean, logvar = jnp.split(h, 2, axis=-1)
        return mean, logvar


class Decoder(nn.Module):
    """Maps ``[B, latent]`` codes (and an optional condition) to an image distribution.

    Returns a dict of arrays shaped ``[B, *image_shape]``: ``logits`` and ``mean``
    (= sigmoid(logits)) for a Bernoulli decoder; ``mean`` and ``logvar`` for a Gaussian one
    (one learned scalar with ``obs_logvar=None``, a fixed number, or with
    ``gaussian_pixel`` one per pixel); ``loc`` ([-1, 1] scale), ``log_scale`` and ``mean``
    (= the location in [0, 1]) for the discretized logistic. Two-parameter likelihoods get
    twice the output channels.
    ``conv`` mirrors the conv encoder with two stride-2 transposed convolutions.
    """

    hidden_dims: Sequence[int]
    image_shape: Sequence[int]
    likelihood: str = "bernoulli"
    obs_logvar: float | None = None
    arch: str = "mlp"
    conv_impl: str = "auto"
    activation: str = "relu"

    @nn.compact
    def __call__(self, z: jax.Array, cond: jax.Array | None = None) -> dict[str, jax.Array]:
        if cond is not None:
            z = jnp.concatenate([z, cond.astype(z.dtype)], axis=-1)
        h, w, c_img = self.image_shape
        c = c_img * (2 if self.likelihood in TWO_PARAMETER else 1)
        act = ACTIVATIONS[self.activation]
        if self.arch in ("conv", "resnet"):
            gh, gw = _conv_grid(self.image_shape)
            top = CONV_CHANNELS[-1]
            y = nn.relu(MLP((*self.hidden_dims, gh * gw * top), act, name="mlp")(z))
            y = y.reshape(z.shape[0], gh, gw, top)
            impl = self.conv_impl
            if self.arch == "resnet":
                y = _resnet_up(y, c, impl)
            else:
                y = ConvTranspose(CONV_CHANNELS[0], (4, 4), (2, 2), impl=impl, name="deconv_0")(y)
                y = ConvTranspose(c, (4, 4), (2, 2), impl=impl, name="deconv_1")(nn.relu(y))
            out = y[:, :h, :w, :]  # crop when H or W is not a multiple of 4
        else:
            out = MLP((*self.hidden_dims, h * w * c), act, name="mlp")(z)
            out = out.reshape(z.shape[0], h, w, c)
        if self.likelihood == "bernoulli":
            return {"logits": out, "mean": nn.sigmoid(out)}
        if self.likelihood == "logistic":
            loc, log_scale = out[..., :c_img], out[..., c_img:]
            return {"loc": loc, "log_scale": log_scale, "mean": jnp.clip(0.5 * (loc + 1), 0, 1)}
        if self.likelihood == "gaussian_pixel":
            return {"mean": out[..., :c_img], "logvar": out[..., c_img:]}
        if self.obs_logvar is None:
            logvar = self.param("obs_logvar", nn.initializers.zeros, ())
        else:
            logvar = jnp.asarray(self.obs_logvar, out.dtype)
        return {"mean": out, "logvar": jnp.broadcast_to(logvar, out.shape)}


def reparameterize(rng: jax.Array, mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """Draw ``z = mean + exp(logvar / 2) * eps`` with ``eps ~ N(0, I)`` (differentiable)."""
    eps = jax.random.normal(rng, mean.shape, mean.dtype)
    return mean + jnp.exp(0.5 * logvar) * eps


def make_decoder(config, name: str = "decoder") -> Decoder:
    """The decoder a model config describes (hidden layers mirror the encoder's)."""
    return Decoder(
        tuple(reversed(config.hidden_dims)),
        config.image_shape,
        config.likelihood,
        config.obs_logvar,
        config.arch,
        config.conv_impl,
        config.activation,
        name=name,
    )


def make_encoder(config, out_dim: int, *, gaussian: bool = False) -> Encoder | GaussianEncoder:
    """The encoder a model config describes: ``[B, out_dim]`` features, or with ``gaussian``
    a diagonal Gaussian ``(mean, logvar)`` of ``out_dim`` dimensions."""
    cls = GaussianEncoder if gaussian else Encoder
    return cls(config.hidden_dims, out_dim, config.arch, config.conv_impl, config.activation)
