"""Convolution layers that stay fast inside ``lax.scan`` on every backend.

XLA:CPU runs a native convolution inside a while loop (the fused epoch's ``lax.scan``) 10-20x
slower than in a plain ``jit`` (jax-ml/jax#12868). Written as matmuls, the same layers run at
matmul speed everywhere:

- :func:`conv2d_matmul` (im2col): the ``kh * kw`` strided slices of the padded input, one
  concatenate, one matmul with the kernel reshaped to ``[kh * kw * C_in, C_out]``.
- :func:`conv_transpose2d_matmul` (sub-pixel): each output phase ``(r_y, r_x)`` of a stride-s
  transposed convolution reads a small neighbourhood of input pixels through its own kernel
  taps, so one matmul per phase computes it, and a depth-to-space puts the phases in place.

:class:`Conv` and :class:`ConvTranspose` hold the same parameters as ``flax.linen.Conv`` /
``ConvTranspose`` (``kernel [kh, kw, C_in, C_out]``, ``bias [C_out]``, same initializers, so
the same draws for the same key) and compute the same function (SAME padding; tested to float
tolerance, forward and gradients). ``impl``: ``"onednn"`` (oneDNN's direct convolutions
through the XLA FFI, :mod:`aezoo.nn._onednn`), ``"matmul"``, ``"xla"`` (``lax``
convolutions, cuDNN on GPU), or ``"auto"``: oneDNN on CPU where it is built and loadable,
else matmul; XLA elsewhere. Checkpoints load across impls (the same parameters).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from aezoo.errors import ConfigError
from aezoo.nn import _onednn

CONV_IMPLS = ("auto", "onednn", "matmul", "xla")
_DIMS = ("NHWC", "HWIO", "NHWC")


def resolve_impl(impl: str) -> str:
    """``"auto"`` -> ``"onednn"`` on CPU when its kernel is available, else ``"matmul"``
    (XLA:CPU convolutions are slow inside loops); ``"xla"`` on GPU/TPU (cuDNN / the TPU
    convolution units). ``"onednn"`` where it cannot run is one line saying why."""
    if impl not in CONV_IMPLS:
        raise ConfigError(f"unknown conv_impl {impl!r}; expected one of {', '.join(CONV_IMPLS)}")
    if impl == "auto":
        if jax.default_backend() != "cpu":
            return "xla"
        if _onednn.available():
            return "onednn"
        _onednn.fall_back_notice()
        return "matmul"
    if impl == "onednn" and not _onednn.available():
        raise ConfigError(f"conv_impl onednn cannot run here: {_onednn.status()[1]}")
    return impl


def _same_padding(size: int, k: int, s: int) -> tuple[int, int]:
    """XLA's SAME padding of one spatial axis: output ``ceil(size / s)``."""
    total = max((math.ceil(size / s) - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def conv2d_matmul(x: jax.Array, kernel: jax.Array, strides: Sequence[int]) -> jax.Array:
    """SAME convolution ``[B, H, W, C_in]`` -> ``[B, ceil(H/s), ceil(W/s), C_out]`` as im2col
    + one matmul; equals ``lax.conv_general_dilated(x, kernel, strides, "SAME")``.

    When the stride divides the kernel (a 4x4 stride-2 layer), the padded input is first
    rearranged space-to-depth, so the im2col gathers ``(k/s)^2`` contiguous slices instead
    of ``k^2`` strided ones (same matmul; 27% faster forward + backward on XLA:CPU).
    """
    kh, kw, cin, cout = kernel.shape
    (sy, sx), (b, h, w, _) = strides, x.shape
    oh, ow = math.ceil(h / sy), math.ceil(w / sx)
    xp = jnp.pad(x, [(0, 0), _same_padding(h, kh, sy), _same_padding(w, kw, sx), (0, 0)])
    if (sy, sx) != (1, 1) and kh % sy == 0 and kw % sx == 0:
        # SAME padding makes the padded size oh*s + k - s: a whole number of s-blocks.
        hb, wb = xp.shape[1] // sy, xp.shape[2] // sx
        xp = xp.reshape(b, hb, sy, wb, sx, cin).transpose(0, 1, 3, 2, 4, 5)
        xp = xp.reshape(b, hb, wb, sy * sx * cin)
        kernel = kernel.reshape(kh // sy, sy, kw // sx, sx, cin, cout).transpose(0, 2, 1, 3, 4, 5)
        kh, kw, cin, sy, sx = kh // sy, kw // sx, sy * sx * cin, 1, 1
    patches = [
        xp[:, i : i + sy * (oh - 1) + 1 : sy, j : j + sx * (ow - 1) + 1 : sx, :]
        for i in range(kh)
        for j in range(kw)
    ]
    cols = jnp.concatenate(patches, axis=-1)  # [B, oh, ow, kh*kw*cin], (i, j, c) order
    return jnp.dot(cols, kernel.reshape(kh * kw * cin, cout))


def _phase_taps(k: int, s: int) -> tuple[np.ndarray, np.ndarray, int]:
    """For one axis of a SAME transposed convolution (``lax.conv_transpose``, kernel not
    flipped): output ``s*m + r`` = sum over input offsets ``d`` of ``x[m + d] * K[i]``.

    Returns ``taps[t, r]`` (kernel index for neighbourhood slot ``t`` = offset ``d_min + t``
    and phase ``r``; clipped), ``valid[t, r]`` and ``d_min``.
    """
    pad_len = k + s - 2
    pad_a = k - 1 if s > k - 1 else math.ceil(pad_len / 2)
    pairs = [(r, i, (r + i - pad_a) // s) for r in range(s) for i in range(k)]
    pairs = [(r, i, d) for r, i, d in pairs if (r + i - pad_a) % s == 0]
    d_min = min(d for _, _, d in pairs)
    n = max(d for _, _, d in pairs) - d_min + 1
    taps, valid = np.zeros((n, s), np.int32), np.zeros((n, s), bool)
    for r, i, d in pairs:
        taps[d - d_min, r], valid[d - d_min, r] = i, True
    return taps, valid, d_min


def conv_transpose2d_matmul(x: jax.Array, kernel: jax.Array, strides: Sequence[int]) -> jax.Array:
    """SAME transposed convolution ``[B, H, W, C_in]`` -> ``[B, H*s, W*s, C_out]``: for each
    output phase ``(r_y, r_x)`` one matmul over the input neighbourhood it reads (only its
    own kernel taps), then depth-to-space; equals
    ``lax.conv_transpose(x, kernel, strides, "SAME")``."""
    kh, kw, cin, cout = kernel.shape
    (sy, sx), (b, h, w, _) = strides, x.shape
    ty, vy, dy = _phase_taps(kh, sy)
    tx, vx, dx = _phase_taps(kw, sx)
    lo_y, lo_x = max(-dy, 0), max(-dx, 0)
    pads = [(0, 0), (lo_y, max(dy + len(ty) - 1, 0)), (lo_x, max(dx + len(tx) - 1, 0)), (0, 0)]
    xp = jnp.pad(x, pads)
    phases = []
    for ry in range(sy):
        row = []
        for rx in range(sx):
            slots = [
                (t, u) for t in range(len(ty)) if vy[t, ry] for u in range(len(tx)) if vx[u, rx]
            ]
            if not slots:  # a phase no tap reaches (stride > kernel): zeros
                row.append(jnp.zeros((b, h, w, cout), x.dtype))
                continue
            cols = jnp.concatenate(
                [
                    xp[:, dy + t + lo_y : dy + t + lo_y + h, dx + u + lo_x : dx + u + lo_x + w, :]
                    for t, u in slots
                ],
                axis=-1,
            )
            taps = jnp.stack([kernel[ty[t, ry], tx[u, rx]] for t, u in slots])
            row.append(jnp.dot(cols, taps.reshape(len(slots) * cin, cout)))
        phases.append(jnp.stack(row, axis=3))  # [B, H, W, sx, C_out]
    y = jnp.stack(phases, axis=3)  # [B, H, W, sy, sx, C_out]
    return y.transpose(0, 1, 3, 2, 4, 5).reshape(b, h * sy, w * sx, cout)


def _xla_conv(x: jax.Array, kernel: jax.Array, strides: Sequence[int]) -> jax.Array:
    return lax.conv_general_dilated(x, kernel, strides, "SAME", dimension_numbers=_DIMS)


def _xla_conv_transpose(x: jax.Array, kernel: jax.Array, strides: Sequence[int]) -> jax.Array:
    return lax.conv_transpose(x, kernel, strides, "SAME", dimension_numbers=_DIMS)


class _ConvLayer(nn.Module):
    """Flax's conv parameters (``kernel [kh, kw, C_in, C_out]``, ``bias``, same initializers)
    and an operation per implementation (``OPS``)."""

    features: int
    kernel_size: Sequence[int]
    strides: Sequence[int] = (1, 1)
    impl: str = "auto"
    dtype: Any = None  # of the computation (Flax's ``dtype``); the parameters stay float32
    OPS: ClassVar[dict[str, Callable[..., jax.Array]]] = {}

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        shape = (*self.kernel_size, x.shape[-1], self.features)
        kernel = self.param("kernel", nn.initializers.lecun_normal(), shape)
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        if self.dtype is not None:
            x, kernel, bias = (a.astype(self.dtype) for a in (x, kernel, bias))
        y = self.OPS[resolve_impl(self.impl)](x, kernel, self.strides)
        return y + bias.reshape(1, 1, 1, -1)  # explicit rank: no implicit promotion


class Conv(_ConvLayer):
    """``flax.linen.Conv`` (SAME padding, bias) with a choice of implementation."""

    OPS: ClassVar[dict[str, Callable[..., jax.Array]]] = {
        "onednn": _onednn.conv2d,
        "matmul": conv2d_matmul,
        "xla": _xla_conv,
    }


class ConvTranspose(_ConvLayer):
    """``flax.linen.ConvTranspose`` (SAME padding, bias) with a choice of implementation."""

    OPS: ClassVar[dict[str, Callable[..., jax.Array]]] = {
        "onednn": _onednn.conv_transpose2d,
        "matmul": conv_transpose2d_matmul,
        "xla": _xla_conv_transpose,
    }


__all__ = [
    "CONV_IMPLS",
    "Conv",
    "ConvTranspose",
    "conv2d_matmul",
    "conv_transpose2d_matmul",
    "resolve_impl",
]
