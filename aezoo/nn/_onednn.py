"""Convolutions through oneDNN on the CPU: ``conv_impl="onednn"``.

XLA:CPU computes aezoo's convolutions as matmuls of narrow shapes at 46-153 GFLOP/s; oneDNN's
direct convolutions (what PyTorch runs on the CPU) reach the machine's matmul peak on the same
layers (``benchmarks/conv_layers.py``). This module calls them from jitted code through JAX's
supported extension point for native kernels, the XLA FFI: three handlers in
``_onednn.cc`` (forward, backward-data, backward-weights), each wrapped in a
``jax.custom_vjp`` so the gradients are oneDNN's too; a transposed convolution is the
backward-data primitive of the convolution it transposes.

The handler is compiled on first use (a few seconds, once; a one-line notice) into the user
cache (``$AEZOO_ONEDNN_DIR`` or ``~/.cache/aezoo/onednn``), against the oneDNN of the environment
(``pip install 'aezoo[onednn]'``: the ``onednn-cpu-gomp`` and ``onednn-devel-cpu-gomp``
wheels) and ``jax.ffi.include_dir()``. Without a compiler or the library, :func:`available`
says why in one line and ``conv_impl="auto"`` stays on the matmul formulation.
``AEZOO_ONEDNN=0`` turns it off.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import math
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

SOURCE = pathlib.Path(__file__).with_name("_onednn.cc")
TARGETS = {
    "fwd": ("aezoo_onednn_conv_fwd", "AezooConvForward"),
    "data": ("aezoo_onednn_conv_bwd_data", "AezooConvBackwardData"),
    "weights": ("aezoo_onednn_conv_bwd_weights", "AezooConvBackwardWeights"),
}
Pads = tuple[int, int, int, int]  # top, left, bottom, right


@functools.cache
def status() -> tuple[bool, str]:
    """``(usable, what)``: whether the oneDNN kernel is built, loaded and registered, and
    its oneDNN version or why not (built on the first call; later calls are free)."""
    if os.environ.get("AEZOO_ONEDNN", "1") == "0":
        return False, "turned off by AEZOO_ONEDNN=0"
    if jax.default_backend() != "cpu":
        return False, f"the default backend is {jax.default_backend()}, not the CPU"
    try:
        library = _library()
    except _UnavailableError as e:
        return False, str(e)
    for target, symbol in TARGETS.values():
        capsule = jax.ffi.pycapsule(getattr(library, symbol))
        jax.ffi.register_ffi_target(target, capsule, platform="cpu")
    library.AezooOnednnVersion.restype = ctypes.c_char_p
    return True, f"oneDNN {library.AezooOnednnVersion().decode()}"


def available() -> bool:
    """Whether ``conv_impl="onednn"`` can run here (see :func:`status`)."""
    return status()[0]


@functools.cache
def fall_back_notice() -> None:
    """Say once per process why ``conv_impl="auto"`` runs matmul convolutions on this CPU."""
    print(
        f"aezoo: oneDNN convolutions unavailable ({status()[1]}); using the matmul ones",
        file=sys.stderr,
        flush=True,
    )


class _UnavailableError(Exception):
    """Why the oneDNN kernel cannot be had here, in one line."""


def _library() -> ctypes.CDLL:
    prefix = _onednn_prefix()
    path = _cache_dir() / f"libaezoo_onednn-{_build_key(prefix)}.so"
    if not path.is_file():
        _build(prefix, path)
    try:
        return ctypes.CDLL(str(path))
    except OSError as e:
        raise _UnavailableError(f"cannot load {path}: {e}") from None


def _onednn_prefix() -> pathlib.Path:
    """The environment prefix holding oneDNN's library and headers (the wheels put them in
    ``PREFIX/lib`` and ``PREFIX/include``)."""
    for prefix in dict.fromkeys([sys.prefix, sysconfig.get_config_var("prefix") or sys.prefix]):
        root = pathlib.Path(prefix)
        if (root / "lib" / "libdnnl.so.3").exists() and (
            root / "include" / "oneapi" / "dnnl" / "dnnl.hpp"
        ).exists():
            return root
    raise _UnavailableError(
        "oneDNN is not installed in this environment (pip install 'aezoo[onednn]')"
    )


def _cache_dir() -> pathlib.Path:
    """Where the built kernel is kept: ``$AEZOO_ONEDNN_DIR``, else the user cache
    (``~/.cache/aezoo/onednn``), else a folder of this user's in the temporary directory."""
    if os.environ.get("AEZOO_ONEDNN_DIR"):
        return pathlib.Path(os.environ["AEZOO_ONEDNN_DIR"])
    home = pathlib.Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser()
    root = home / "aezoo" / "onednn"
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=root):
            pass
    except OSError:
        root = pathlib.Path(tempfile.gettempdir()) / f"aezoo-onednn-{os.getuid()}"
    return root


def _build_key(prefix: pathlib.Path) -> str:
    """What the built library depends on: the source, JAX's FFI headers, oneDNN's library."""
    h = hashlib.sha256(SOURCE.read_bytes())
    h.update(jax.ffi.include_dir().encode() + jax.__version__.encode())
    lib = prefix / "lib" / "libdnnl.so.3"
    h.update(f"{lib.resolve()}:{lib.stat().st_size}".encode())
    return h.hexdigest()[:16]


def _build(prefix: pathlib.Path, path: pathlib.Path) -> None:
    compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        raise _UnavailableError("no C++ compiler (g++ or $CXX) to build the oneDNN kernel")
    print(
        f"aezoo: building the oneDNN convolution kernel (once) into {path.parent}",
        file=sys.stderr,
        flush=True,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        out = pathlib.Path(tmp) / path.name
        command = [
            compiler,
            "-O2",
            "-std=c++17",
            "-shared",
            "-fPIC",
            "-w",  # JAX's FFI headers warn under g++ 12; the source itself compiles clean
            f"-I{jax.ffi.include_dir()}",
            f"-I{prefix / 'include'}",
            str(SOURCE),
            f"-L{prefix / 'lib'}",
            "-l:libdnnl.so.3",
            f"-Wl,-rpath,{prefix / 'lib'}",
            "-o",
            str(out),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            first = (done.stderr.strip().splitlines() or ["no output"])[0]
            raise _UnavailableError(f"building the oneDNN kernel failed: {first}")
        os.replace(out, path)


# --- the operations ------------------------------------------------------------------------


def same_pads(size: Sequence[int], kernel: Sequence[int], strides: Sequence[int]) -> Pads:
    """XLA's SAME padding of a convolution (output ``ceil(size / s)``) as top, left, bottom,
    right."""
    (h, w), (kh, kw), (sy, sx) = size, kernel, strides
    ty = max((math.ceil(h / sy) - 1) * sy + kh - h, 0)
    tx = max((math.ceil(w / sx) - 1) * sx + kw - w, 0)
    return ty // 2, tx // 2, ty - ty // 2, tx - tx // 2


def transposed_pads(kernel: Sequence[int], strides: Sequence[int]) -> Pads:
    """The padding of the convolution that ``lax.conv_transpose(..., "SAME")`` transposes:
    the transposed convolution pads its dilated input by ``(a, b)`` (lax's rule), which is
    the backward-data of a convolution padded ``(k - 1 - a, k - 1 - b)``."""
    pads = []
    for k, s in zip(kernel, strides, strict=True):
        total = k + s - 2
        a = k - 1 if s > k - 1 else math.ceil(total / 2)
        pads.append((k - 1 - a, k - 1 - (total - a)))
    (top, bottom), (left, right) = pads
    return top, left, bottom, right


def _call(which: str, out_shape, *args, strides: Sequence[int], pads: Pads) -> jax.Array:
    attrs = dict(zip(("pt", "pl", "pb", "pr"), (np.int64(p) for p in pads), strict=True))
    call = jax.ffi.ffi_call(
        TARGETS[which][0],
        jax.ShapeDtypeStruct(tuple(out_shape), jnp.float32),
        vmap_method="sequential",
    )
    return call(*args, sy=np.int64(strides[0]), sx=np.int64(strides[1]), **attrs)


def _forward_shape(x_shape, k_shape, strides, pads) -> tuple[int, ...]:
    (b, h, w, _), (kh, kw, _, cout) = x_shape, k_shape
    oh = (h + pads[0] + pads[2] - kh) // strides[0] + 1
    ow = (w + pads[1] + pads[3] - kw) // strides[1] + 1
    return b, oh, ow, cout


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv(x: jax.Array, kernel: jax.Array, strides: tuple[int, int], pads: Pads) -> jax.Array:
    """``[B, H, W, C_in]`` * ``[kh, kw, C_in, C_out]`` -> ``[B, OH, OW, C_out]``: oneDNN's
    forward convolution with explicit padding (gradients: its backward primitives)."""
    shape = _forward_shape(x.shape, kernel.shape, strides, pads)
    return _call("fwd", shape, x, kernel, strides=strides, pads=pads)


def _conv_fwd(x, kernel, strides, pads):
    return conv(x, kernel, strides, pads), (x, kernel)


def _conv_bwd(strides, pads, residuals, g):
    x, kernel = residuals
    return conv_data(g, kernel, x.shape, strides, pads), conv_weights(
        x, g, kernel.shape, strides, pads
    )


conv.defvjp(_conv_fwd, _conv_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def conv_data(
    dy: jax.Array, kernel: jax.Array, x_shape: tuple[int, ...], strides, pads: Pads
) -> jax.Array:
    """The input gradient of :func:`conv` (its input of shape ``x_shape``) for output
    gradient ``dy``: oneDNN's backward-data, linear in ``dy`` and ``kernel``."""
    return _call("data", x_shape, dy, kernel, strides=strides, pads=pads)


def _data_fwd(dy, kernel, x_shape, strides, pads):
    return conv_data(dy, kernel, x_shape, strides, pads), (dy, kernel)


def _data_bwd(x_shape, strides, pads, residuals, g):
    dy, kernel = residuals
    return conv(g, kernel, strides, pads), conv_weights(g, dy, kernel.shape, strides, pads)


conv_data.defvjp(_data_fwd, _data_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def conv_weights(
    x: jax.Array, dy: jax.Array, k_shape: tuple[int, ...], strides, pads: Pads
) -> jax.Array:
    """The kernel gradient of :func:`conv`: oneDNN's backward-weights (HWIO), linear in
    ``x`` and ``dy`` (differentiable again: a contractive penalty's gradient needs it)."""
    return _call("weights", k_shape, x, dy, strides=strides, pads=pads)


def _weights_fwd(x, dy, k_shape, strides, pads):
    return conv_weights(x, dy, k_shape, strides, pads), (x, dy)


def _weights_bwd(k_shape, strides, pads, residuals, g):
    x, dy = residuals
    return conv_data(dy, g, x.shape, strides, pads), conv(x, g, strides, pads)


conv_weights.defvjp(_weights_fwd, _weights_bwd)


def conv2d(x: jax.Array, kernel: jax.Array, strides: Sequence[int]) -> jax.Array:
    """SAME convolution, as ``lax.conv_general_dilated(x, kernel, strides, "SAME")`` with
    NHWC / HWIO."""
    strides = tuple(int(s) for s in strides)
    pads = same_pads(x.shape[1:3], kernel.shape[:2], strides)
    return conv(x.astype(jnp.float32), kernel.astype(jnp.float32), strides, pads).astype(x.dtype)


def conv_transpose2d(x: jax.Array, kernel: jax.Array, strides: Sequence[int]) -> jax.Array:
    """SAME transposed convolution, as ``lax.conv_transpose(x, kernel, strides, "SAME")``
    (kernel not flipped): the backward-data of the convolution it transposes, whose kernel
    is this one flipped in space with its channel axes swapped."""
    strides = tuple(int(s) for s in strides)
    (b, h, w, _), (kh, kw, _, cout) = x.shape, kernel.shape
    flipped = jnp.flip(kernel.astype(jnp.float32), (0, 1)).transpose(0, 1, 3, 2)
    pads = transposed_pads((kh, kw), strides)
    shape = (b, h * strides[0], w * strides[1], cout)
    return conv_data(x.astype(jnp.float32), flipped, shape, strides, pads).astype(x.dtype)


__all__ = ["available", "conv", "conv2d", "conv_data", "conv_transpose2d", "status"]
