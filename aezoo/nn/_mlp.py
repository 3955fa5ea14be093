"""Encoder/decoder blocks shared by every model: MLP or convolutional, optionally conditioned."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from aezoo.errors import ShapeError
from aezoo.losses import TWO_PARAMETER
from aezoo.nn._conv import Conv, ConvTranspose

ARCHS = ("mlp", "conv", "resnet")


def gated(x: jax.Array) -> jax.Array:
    """Tomczak & Welling's gated dense unit: the layer computes twice its width, and the
    second half, through a sigmoid, gates the first (``h * sigmoid(g)``, a GLU)."""
    return nn.glu(x, axis=-1)


# Activations of the dense hidden layers (``--activation``); conv blocks keep ReLU.
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu,
    "tanh": jnp.tanh,
    "elu": nn.elu,
    "softplus": nn.softplus,
    "gelu": nn.gelu,
    "gated": gated,
}
# Activations that consume more features than they return: their layer is that many
# times wider (its kernel ``[in, 2 * width]`` for ``gated``).
WIDENING: dict[Callable[[jax.Array], jax.Array], int] = {gated: 2}
# ``--compute-dtype``: the dtype of the matmuls and convolutions of encoder and decoder; the
# parameters, the network's outputs and the loss stay float32.
COMPUTE_DTYPES: dict[str, Any] = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
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
    """Dense layers with an activation between them (and after the last if asked); a layer
    followed by a widening activation (``gated``) computes that many times its width."""

    features: Sequence[int]
    activation: Callable[[jax.Array], jax.Array] = nn.relu
    activate_final: bool = False
    dtype: Any = None  # of the computation (Flax's ``dtype``); the parameters stay float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        widen = WIDENING.get(self.activation, 1)
        for i, width in enumerate(self.features):
            activated = i < len(self.features) - 1 or self.activate_final
            x = nn.Dense(width * (widen if activated else 1), dtype=self.dtype, name=f"dense_{i}")(
                x
            )
            if activated:
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
    dtype: Any = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        conv = {"impl": self.impl, "dtype": self.dtype}
        h = Conv(self.features, (3, 3), **conv, name="conv_a")(nn.relu(x))
        return x + Conv(self.features, (3, 3), **conv, name="conv_b")(nn.relu(h))


def _resnet_down(x: jax.Array, conv: dict[str, Any]) -> jax.Array:
    """The resnet encoder's convolutions: a residual block at full (32 channels), half and
    quarter resolution (64), 4x4 stride-2 convolutions between them (called inside the
    encoder's compact scope, so the layers are the encoder's)."""
    full, top = CONV_CHANNELS
    x = Conv(full, (3, 3), **conv, name="stem")(x)
    for i, ch in enumerate((full, top, top)):
        x = ResBlock(ch, **conv, name=f"res_{i}")(x)
        if i < 2:
            x = Conv(top, (4, 4), (2, 2), **conv, name=f"down_{i}")(nn.relu(x))
    return nn.relu(x)


def _resnet_up(y: jax.Array, channels: int, conv: dict[str, Any]) -> jax.Array:
    """The resnet decoder: the encoder mirrored (residual blocks at quarter, half and full
    resolution, transposed convolutions up), then a 3x3 convolution to the image channels."""
    full, top = CONV_CHANNELS
    for i, ch in enumerate((top, full)):
        y = ResBlock(top, **conv, name=f"res_{i}")(y)
        y = ConvTranspose(ch, (4, 4), (2, 2), **conv, name=f"up_{i}")(nn.relu(y))
    y = ResBlock(full, **conv, name="res_2")(y)
    return Conv(channels, (3, 3), **conv, name="head")(nn.relu(y))


def _conv_up(y: jax.Array, channels: int, arch: str, conv: dict[str, Any]) -> jax.Array:
    """The conv decoders' upsampling from the quarter-resolution grid: the resnet's
    (:func:`_resnet_up`) or the conv arch's two 4x4 stride-2 transposed convolutions."""
    if arch == "resnet":
        return _resnet_up(y, channels, conv)
    y = ConvTranspose(CONV_CHANNELS[0], (4, 4), (2, 2), **conv, name="deconv_0")(y)
    return ConvTranspose(channels, (4, 4), (2, 2), **conv, name="deconv_1")(nn.relu(y))


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
    compute_dtype: str = "float32"

    @nn.compact
    def __call__(self, x: jax.Array, cond: jax.Array | None = None) -> jax.Array:
        dtype = COMPUTE_DTYPES[self.compute_dtype]
        conv = {"impl": self.conv_impl, "dtype": dtype}
        if self.arch == "conv":
            for i, ch in enumerate(CONV_CHANNELS):
                x = nn.relu(Conv(ch, (4, 4), (2, 2), **conv, name=f"conv_{i}")(x))
        elif self.arch == "resnet":
            x = _resnet_down(x, conv)
        h = x.reshape(x.shape[0], -1)
        if cond is not None:
            h = jnp.concatenate([h, cond.astype(h.dtype)], axis=-1)
        act = ACTIVATIONS[self.activation]
        out = MLP((*self.hidden_dims, self.out_dim), act, dtype=dtype, name="mlp")(h)
        return out.astype(jnp.float32)


class GaussianEncoder(nn.Module):
    """Encoder whose output is a diagonal Gaussian: ``(mean, logvar)``, each ``[B, latent]``."""

    hidden_dims: Sequence[int]
    latent_dim: int
    arch: str = "mlp"
    conv_impl: str = "auto"
    activation: str = "relu"
    compute_dtype: str = "float32"

    @nn.compact
    def __call__(self, x: jax.Array, cond: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        encoder = Encoder(
            self.hidden_dims,
            2 * self.latent_dim,
            self.arch,
            self.conv_impl,
            self.activation,
            self.compute_dtype,
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
    compute_dtype: str = "float32"

    @nn.compact
    def __call__(self, z: jax.Array, cond: jax.Array | None = None) -> dict[str, jax.Array]:
        if cond is not None:
            z = jnp.concatenate([z, cond.astype(z.dtype)], axis=-1)
        h, w, c_img = self.image_shape
        c = c_img * (2 if self.likelihood in TWO_PARAMETER else 1)
        act = ACTIVATIONS[self.activation]
        dtype = COMPUTE_DTYPES[self.compute_dtype]
        if self.arch in ("conv", "resnet"):
            gh, gw = _conv_grid(self.image_shape)
            top = CONV_CHANNELS[-1]
            y = MLP((*self.hidden_dims, gh * gw * top), act, dtype=dtype, name="mlp")(z)
            y = nn.relu(y).reshape(z.shape[0], gh, gw, top)
            out = _conv_up(y, c, self.arch, {"impl": self.conv_impl, "dtype": dtype})
            out = out[:, :h, :w, :]  # crop when H or W is not a multiple of 4
        else:
            out = MLP((*self.hidden_dims, h * w * c), act, dtype=dtype, name="mlp")(z)
            out = out.reshape(z.shape[0], h, w, c)
        return self._distribution(out.astype(jnp.float32))

    def _distribution(self, out: jax.Array) -> dict[str, jax.Array]:
        """The network's float32 output -> the likelihood's parameters."""
        c_img = self.image_shape[-1]
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
        config.compute_dtype,
        name=name,
    )


def make_encoder(config, out_dim: int, *, gaussian: bool = False) -> Encoder | GaussianEncoder:
    """The encoder a model config describes: ``[B, out_dim]`` features, or with ``gaussian``
    a diagonal Gaussian ``(mean, logvar)`` of ``out_dim`` dimensions."""
    cls = GaussianEncoder if gaussian else Encoder
    return cls(
        config.hidden_dims,
        out_dim,
        config.arch,
        config.conv_impl,
        config.activation,
        config.compute_dtype,
    )
