"""On-device preprocessing: uint8 -> [0, 1] floats, Bernoulli targets by binarization."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from aezoo._validate import INT32_MAX
from aezoo.data._spec import is_binary
from aezoo.errors import DataError, ShapeError

BINARIZE_MODES = ("dynamic", "static", "none")
# The test set's dynamic binarization is drawn once with this key, so every evaluation of
# every run sees the same binary test images.
TEST_BINARIZATION_SEED = 1234


# Datasets whose pixels are 0 or 255 already: drawing Bernoulli targets would change nothing.


def default_binarize(likelihood: str, dataset: str | None = None) -> str:
    """The binarization every entry point (``fit``, the CLI, the step builders) uses unless
    told otherwise: fresh Bernoulli draws for a Bernoulli decoder, none for the others and
    for datasets that are binary already (dsprites)."""
    if is_binary(dataset):
        return "none"
    return "dynamic" if likelihood == "bernoulli" else "none"


def to_float(images: jax.Array) -> jax.Array:
    """uint8 ``[..., H, W, C]`` in 0..255 -> float32 in [0, 1] (floats pass through)."""
    if images.dtype == jnp.uint8:
        return images.astype(jnp.float32) * (1.0 / 255.0)
    return images.astype(jnp.float32)


def binarize(x: jax.Array, rng: jax.Array | None, mode: str, *, exact: bool = False) -> jax.Array:
    """Bernoulli targets from intensities ``x`` in [0, 1] (``[B, ...]``).

    ``dynamic`` draws ``x_bin ~ Bernoulli(x)`` with ``rng`` (a fresh draw every step);
    ``static`` thresholds at 0.5; ``none`` returns ``x`` unchanged.

    ``dynamic`` compares 16-bit uniforms with ``x``, two per 32-bit draw of the PRNG: the
    probability is ``ceil(65536 x) / 65536`` (within 1.6e-5 of ``x``; exactly 0 and 1 at the
    ends), at half the threefry cost of ``jax.random.bernoulli`` (which ``exact=True`` uses;
    the fixed binarization of test sets keeps it). Each example's bits come from its own row
    of draws, so a batch sharded over devices draws the same numbers as on one device.
    """
    if mode == "none":
        return x
    if mode == "static":
        return (x > 0.5).astype(x.dtype)
    if mode == "dynamic":
        if rng is None:
            raise ValueError("dynamic binarization needs an rng key")
        if exact or x.ndim == 0:
            return jax.random.bernoulli(rng, x).astype(x.dtype)
        flat = x.reshape(x.shape[0], -1)
        d = flat.shape[1]
        words = jax.random.bits(rng, (flat.shape[0], (d + 1) // 2), jnp.uint32)
        u16 = jnp.concatenate([words & 0xFFFF, words >> 16], axis=1)[:, :d]
        return (u16.astype(jnp.float32) < flat * 65536.0).astype(x.dtype).reshape(x.shape)
    raise ValueError(f"unknown binarize mode {mode!r}; expected one of {BINARIZE_MODES}")


def binarize_once(images, mode: str, *, seed: int = TEST_BINARIZATION_SEED):
    """Binarize uint8 images once with a fixed key (for test sets): uint8 0/255.

    A numpy input gives a numpy result; a ``jax.Array`` (e.g. rows sharded over devices,
    inside or outside ``jit``) stays one, with the same bits: the counter-based PRNG does not
    depend on the sharding, nor on rows padded at the end.
    """
    if mode == "none":
        return images
    x = to_float(jnp.asarray(images))
    xb = (binarize(x, jax.random.key(seed), mode, exact=True) * 255).astype(jnp.uint8)
    return np.asarray(xb) if isinstance(images, np.ndarray) else xb


def model_input(images, image_shape=None, *, what: str = "images") -> jax.Array:
    """The one image rule of every entry point (``fit``, ``aezoo.load(...)`` helpers, eval):
    uint8 ``[B, H, W, C]`` is scaled to [0, 1], floats must already lie in [0, 1], anything
    else (other integer types, values out of range, NaN, the wrong rank or image shape) is a
    one-line :class:`ShapeError` / :class:`DataError`. Returns float32 on the device."""
    if not hasattr(images, "dtype"):
        images = np.asarray(images)  # lists: ints become int64 and are refused below
    check_dataset(images, what=what)
    if image_shape is not None and tuple(images.shape[1:]) != tuple(image_shape):
        raise ShapeError(
            f"{what} must have shape [B, {', '.join(map(str, image_shape))}] for this model; "
            f"got {tuple(images.shape)}"
        )
    return to_float(jnp.asarray(images))


def is_vectors(shape) -> bool:
    """Whether examples of ``shape`` (``[N, 1, 1, D]`` or one example's ``[1, 1, D]``) are
    tabular vectors (any finite float, e.g. standardized), not images (in [0, 1])."""
    return len(shape) in (3, 4) and tuple(shape[-3:-1]) == (1, 1) and shape[-1] > 1


def check_dataset(images, labels=None, *, what: str = "images") -> None:
    """One-line errors for data that the trainer cannot use: images must be uint8 or floats
    in [0, 1]; tabular vectors ``[N, 1, 1, D]`` any finite floats."""
    shape = getattr(images, "shape", None)
    dtype = getattr(images, "dtype", None)
    if shape is None:
        raise ShapeError(
            f"{what} must be an array [N, H, W, C] (NumPy or JAX); got {type(images).__name__} "
            "(np.asarray(x) makes one)"
        )
    if len(shape) != 4:
        raise ShapeError(f"{what} must have rank 4 [N, H, W, C]; got shape {shape}")
    if shape[0] == 0:
        raise DataError(f"{what} hold no examples (shape {tuple(shape)})")
    if dtype == np.uint8:
        pass
    elif dtype is not None and np.issubdtype(dtype, np.floating):
        arr = np.asarray(images)
        if not np.all(np.isfinite(arr)):
            raise DataError(f"{what} contain NaN or infinite values")
        lo, hi = float(arr.min()), float(arr.max())
        if (lo < 0.0 or hi > 1.0) and not is_vectors(shape):
            raise DataError(f"float {what} must lie in [0, 1]; got values in [{lo:g}, {hi:g}]")
    else:
        raise ShapeError(
            f"{what} must be uint8 (0..255) or float in [0, 1]; got dtype {dtype} "
            "(convert with np.asarray(x, np.uint8) or scale to floats in [0, 1])"
        )
    if labels is not None:
        lshape = getattr(labels, "shape", None)
        if lshape != (shape[0],):
            raise ShapeError(f"labels must have shape [{shape[0]}] to match {what}; got {lshape}")
        check_labels(labels, what=f"labels of the {what}")


def check_labels(labels: Any, *, what: str = "labels") -> None:
    """One-line errors for labels that are not class indices: text, fractional floats, or
    values outside -1 (unlabelled) .. 2^31 - 1 (they are kept as int32). Integer-like
    objects (a pandas column of ints) are accepted."""
    y = np.asarray(labels)
    if y.dtype.kind == "O":
        y = _integers_of(y, what)
    if y.dtype.kind in "US":
        raise DataError(_text_labels(what, y))
    if y.dtype.kind not in "iufb":
        raise DataError(f"{what} must be integer class indices; got dtype {y.dtype}")
    if y.size == 0:
        return
    if y.dtype.kind == "f":
        bad = y[~np.isfinite(y) | (y != np.round(y))]
        if bad.size:
            raise DataError(f"{what} must be integer class indices; got {bad.ravel()[0].item()!r}")
    lo, hi = y.min().item(), y.max().item()
    if lo < -1:
        raise DataError(f"{what} must be class indices 0..K-1, or -1 for unlabelled; got {lo}")
    if hi > INT32_MAX:
        raise DataError(f"{what} must be at most {INT32_MAX} (kept as int32); got {hi}")


def _integers_of(y: np.ndarray, what: str) -> np.ndarray:
    """Object labels as int64 when every one is an integer (Python's, NumPy's or a float
    with no fraction), else a one-line error naming the first that is not."""
    for value in y.ravel():
        if isinstance(value, str | bytes):
            raise DataError(_text_labels(what, y))
        integral = isinstance(value, int | np.integer) and not isinstance(value, bool)
        if not integral and not (isinstance(value, float) and value.is_integer()):
            raise DataError(f"{what} must be integer class indices; got {value!r}")
    return np.asarray(y.tolist(), np.int64).reshape(y.shape) if y.size else np.zeros(0, np.int64)


def _text_labels(what: str, y: np.ndarray) -> str:
    text = (v for v in y.ravel() if isinstance(v, str | bytes))
    first = next(text, y.ravel()[0] if y.size else "")
    return (
        f"{what} must be integer class indices; got text ({str(first)!r}): map the names to "
        "0..K-1 first"
    )


def for_device(images: Any) -> np.ndarray:
    """Images in the form they are kept on the device: uint8 (floats in [0, 1] are scaled
    and rounded), or float32 for tabular vectors ``[N, 1, 1, D]`` (not 8-bit intensities)."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    if is_vectors(images.shape):
        return images.astype(np.float32)
    return np.round(images * 255.0).astype(np.uint8)
