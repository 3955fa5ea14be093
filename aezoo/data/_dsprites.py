"""dSprites (Matthey et al. 2017), generated in code: no download.

The dataset's published definition: 737,280 binary 64x64 images, every combination of six
factors exactly once, in the order (and with the values) of the original
``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz``:

=========== ====== ==========================================
factor      values grid (``FACTOR_VALUES``)
=========== ====== ==========================================
color       1      white (1.0)
shape       3      square, ellipse, heart (1, 2, 3)
scale       6      ``linspace(0.5, 1, 6)``
orientation 40     ``linspace(0, 2 pi, 40)`` (as in the original: 0 and 2 pi both
                   present, so orientation 0 and 39 draw the same image)
posX        32     ``linspace(0, 1, 32)``
posY        32     ``linspace(0, 1, 32)``
=========== ====== ==========================================

Image ``i`` of the canonical order has factor indices ``unravel_index(i, FACTOR_SIZES)``
(posY fastest). The original was drawn from vector shapes with Love2D; here each shape is an
implicit region sampled at pixel centres (a pixel is on when its centre is inside):
a square of side ``20 s`` pixels, an ellipse with semi-axes ``11 s`` and ``5.5 s`` and the
heart ``(x^2 + y^2 - 1)^3 <= x^2 y^3`` at ``9 s`` pixels per unit (``s`` the scale), rotated
counter-clockwise as displayed about its bounding-box centre, which sits at pixel
``16 + 31 posX`` (column) and ``16 + 31 posY`` (row): one pixel per position step, so
positions are exact translations and every sprite stays inside the frame. The mean pixel is
0.0427 (a figure quoted for the original: 0.043).

aezoo's splits: ``train`` holds all images but a fixed random 10,000 (``test``), both in a
fixed random order (seed 0), so ``train[:N]`` is a uniform sample; labels are the shape index
0..2. The metrics draw images by factors from all 737,280 (:func:`images_from_factors`).
"""

from __future__ import annotations

import threading

import numpy as np

from aezoo.errors import DataError

NAME = "dsprites"
FACTOR_NAMES = ("color", "shape", "scale", "orientation", "posX", "posY")
FACTOR_SIZES = (1, 3, 6, 40, 32, 32)
FACTOR_VALUES = (
    np.ones(1),
    np.arange(1.0, 4.0),
    np.linspace(0.5, 1.0, 6),
    np.linspace(0.0, 2 * np.pi, 40),
    np.linspace(0.0, 1.0, 32),
    np.linspace(0.0, 1.0, 32),
)
SHAPES = ("square", "ellipse", "heart")
NUM_IMAGES = int(np.prod(FACTOR_SIZES))  # 737,280
IMAGE_SHAPE = (64, 64, 1)
NUM_TEST = 10_000
ORDER_SEED = 0
_PATCH = 32  # each sprite is drawn in a 32x32 patch centred on a pixel corner
_LOCK = threading.Lock()
_MEMORY: dict[str, np.ndarray] = {}


def _shape_mask(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside-test of shape ``shape`` at sprite coordinates ``(u, v)`` in pixels at scale 1
    (``u`` right, ``v`` up, origin at the bounding-box centre)."""
    if shape == 0:
        return (np.abs(u) <= 10.0) & (np.abs(v) <= 10.0)
    if shape == 1:
        return (u / 11.0) ** 2 + (v / 5.5) ** 2 <= 1.0
    x, y = u / 9.0, v / 9.0 + 0.118  # the heart's bounding box spans y in [-1, 1.236]
    return (x**2 + y**2 - 1.0) ** 3 - x**2 * y**3 <= 0.0


def sprites() -> np.ndarray:
    """Every (shape, scale, orientation) sprite: bool ``[3, 6, 40, 32, 32]`` (rows, columns),
    centred on the patch's middle pixel corner."""
    rel = np.arange(_PATCH) - (_PATCH / 2 - 0.5)  # pixel centres: -15.5 .. 15.5
    col, row = np.meshgrid(rel, rel)  # [32, 32] each: x to the right, y down
    x, y = col, -row  # y up, so positive angles turn counter-clockwise on screen
    angle = FACTOR_VALUES[3][:, None, None]
    cos, sin = np.cos(angle), np.sin(angle)
    out = np.empty((3, 6, 40, _PATCH, _PATCH), bool)
    for k, scale in enumerate(FACTOR_VALUES[2]):
        # Rotate the pixel grid by -angle and shrink by the scale: the sprite turns by +angle.
        u = (cos * x + sin * y) / scale
        v = (-sin * x + cos * y) / scale
        for shape in range(3):
            out[shape, k] = _shape_mask(shape, u, v)
    return out


def order() -> np.ndarray:
    """The fixed random order of aezoo's copy: row ``j`` holds canonical image ``order()[j]``."""
    return np.random.default_rng(ORDER_SEED).permutation(NUM_IMAGES)


def factor_indices(canonical: np.ndarray) -> np.ndarray:
    """Canonical image indices ``[N]`` -> factor class indices int32 ``[N, 6]``."""
    return np.stack(np.unravel_index(canonical, FACTOR_SIZES), axis=1).astype(np.int32)


def _render(rows: np.ndarray) -> np.ndarray:
    """uint8 ``[N, 64, 64, 1]`` (0 or 255) images of the canonical indices ``rows``."""
    patches = sprites().reshape(-1, _PATCH, _PATCH).astype(np.uint8) * 255
    f = factor_indices(rows)
    sprite_id = np.ravel_multi_index((f[:, 1], f[:, 2], f[:, 3]), FACTOR_SIZES[1:4])
    position = f[:, 4] * 32 + f[:, 5]
    by_position = np.argsort(position, kind="stable")
    starts = np.searchsorted(position[by_position], np.arange(32 * 32 + 1))
    images = np.zeros((len(rows), 64, 64), np.uint8)
    for p in range(32 * 32):  # one pixel per position step: column/row offset = index
        px, py = divmod(p, 32)
        at = by_position[starts[p] : starts[p + 1]]
        images[at, py : py + _PATCH, px : px + _PATCH] = patches[sprite_id[at]]
    return images[..., None]


def all_images() -> np.ndarray:
    """All 737,280 images in aezoo's fixed order (uint8 ``[N, 64, 64, 1]``, read-only),
    drawn once per process and kept in memory (3 GB).

    No disk cache: reading the set back as compressed packed bits was slower than drawing it
    again.
    """
    with _LOCK:
        if "images" not in _MEMORY:
            images = _render(order())
            images.setflags(write=False)
            _MEMORY["images"] = images
        return _MEMORY["images"]


def split_rows(split: str) -> slice:
    """Rows of :func:`all_images` in ``split`` (``train`` or ``test``, unsliced)."""
    if split.startswith("test"):
        return slice(0, NUM_TEST)
    if split.startswith("train"):
        return slice(NUM_TEST, NUM_IMAGES)
    raise DataError(f"dsprites has the splits train and test; got {split!r}")


def load_split(split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(images, labels, factors)`` of a split: uint8 ``[N, 64, 64, 1]``, the shape index
    int32 ``[N]`` and the factor class indices int32 ``[N, 6]``."""
    rows = split_rows(split)
    factors = factor_indices(order()[rows])
    return all_images()[rows], factors[:, 1].copy(), factors


def images_from_factors(factors: np.ndarray) -> np.ndarray:
    """The images (uint8 ``[N, 64, 64, 1]``) with the given factor class indices
    ``[N, 6]`` (``observations_from_factors`` of disentanglement_lib)."""
    factors = np.asarray(factors)
    if factors.ndim != 2 or factors.shape[1] != len(FACTOR_SIZES):
        raise DataError(f"factors must be [N, {len(FACTOR_SIZES)}]; got {factors.shape}")
    if (factors < 0).any() or (factors >= np.asarray(FACTOR_SIZES)).any():
        raise DataError(f"factor indices must lie below the sizes {FACTOR_SIZES}")
    canonical = np.ravel_multi_index(tuple(factors.T), FACTOR_SIZES)
    return all_images()[_inverse_order()[canonical]]


def _inverse_order() -> np.ndarray:
    with _LOCK:
        if "inverse" not in _MEMORY:
            inverse = np.empty(NUM_IMAGES, np.int64)
            inverse[order()] = np.arange(NUM_IMAGES)
            _MEMORY["inverse"] = inverse
        return _MEMORY["inverse"]
