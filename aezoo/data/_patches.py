"""Patches of real photographs: the ones scikit-image ships inside its wheel (no network).

``patches`` is a family of datasets named ``patches[N][_grey][_white]``:

- ``N``: the patch side, 8 to 32 (``patches`` alone is ``patches8``);
- ``_grey``: luminance (ITU-R 601) instead of colour;
- ``_white``: ZCA-whitened grey patches, normalized as in Ng's sparse-autoencoder notes (each
  patch's mean removed, clipped at 3 standard deviations, mapped to [0.1, 0.9]): float32, the
  input of the sparse-autoencoder filter experiment (Olshausen & Field 1996).

Train and test patches come from **different photographs** (:data:`TRAIN_PHOTOS`,
:data:`TEST_PHOTOS`): a test score is a score on scenes the model never saw. Positions are
drawn uniformly over every valid position of the split's photographs (a photograph's share is
its number of positions) with a fixed seed per split, so a name always means the same arrays.
Labels are -1 (a patch has no class). Colour and grey patches are uint8 (8-bit: the
discretized-logistic likelihood gives bits/dim).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import pathlib
import re

import numpy as np

from aezoo.errors import DataError

NAME = "patches"
PATTERN = re.compile(r"patches(\d+)?(_grey)?(_white)?")
SIZES = (8, 32)  # smallest and largest side
NUM = {"train": 50_000, "test": 10_000}
# The natural photographs in scikit-image 0.26's wheel (skimage/data/), by file name. The
# stereo pair of one motorcycle stays on one side of the split.
TRAIN_PHOTOS = (
    "astronaut.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "motorcycle_right.png",
)
TEST_PHOTOS = ("chelsea.png",)
LUMA = np.array([0.299, 0.587, 0.114])
WHITEN_EPS = 1.0  # ZCA regularizer: the mean eigenvalue (smaller: noise-like filters)
CLIP_STDS = 3.0


@dataclasses.dataclass(frozen=True)
class Family:
    """One member of the family: patch side, grey or colour, whitened or not."""

    size: int = 8
    grey: bool = False
    white: bool = False

    @property
    def name(self) -> str:
        grey = "_grey" if self.grey and not self.white else ""
        return f"{NAME}{self.size}{grey}{'_white' if self.white else ''}"

    def describe(self) -> str:
        kind = "ZCA-whitened grey" if self.white else ("grey" if self.grey else "colour")
        return (
            f"{kind} {self.size}x{self.size} patches of scikit-image's photographs (train and "
            "test from different photographs)"
        )


def parse(name: str) -> Family | None:
    """The family member called ``name`` (None: not a patches name); a size outside 8..32
    is a one-line error."""
    match = PATTERN.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        return None
    size = int(match.group(1) or 8)
    if not SIZES[0] <= size <= SIZES[1]:
        raise DataError(f"dataset {name!r}: the patch side must be {SIZES[0]} to {SIZES[1]}")
    white = match.group(3) is not None
    return Family(size, grey=white or match.group(2) is not None, white=white)


def photo_folder() -> pathlib.Path:
    """scikit-image's bundled data folder (one line when scikit-image is not installed)."""
    found = importlib.util.find_spec("skimage")
    if found is None or not found.submodule_search_locations:
        raise DataError(
            "dataset 'patches' cuts the photographs bundled in scikit-image's wheel: "
            "pip install scikit-image (or pip install 'aezoo[photos]')"
        )
    return pathlib.Path(next(iter(found.submodule_search_locations))) / "data"


@functools.cache
def photograph(file: str) -> np.ndarray:
    """One bundled photograph, uint8 ``[H, W, 3]`` (read-only)."""
    from PIL import Image

    path = photo_folder() / file
    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"), np.uint8)
    except OSError as e:
        raise DataError(f"cannot read scikit-image's photograph {path}: {e}") from None
    pixels.setflags(write=False)
    return pixels


def cut(photos: tuple[str, ...], size: int, num: int, seed: int) -> np.ndarray:
    """``num`` colour ``size x size`` patches, uint8 ``[num, size, size, 3]``, at positions
    drawn uniformly over every valid position of ``photos`` (fixed ``seed``)."""
    images = [photograph(file) for file in photos]
    counts = np.array([(h - size + 1) * (w - size + 1) for h, w, _ in map(np.shape, images)])
    rng = np.random.default_rng(seed)
    flat = rng.integers(0, counts.sum(), size=num)
    which = np.searchsorted(np.cumsum(counts), flat, side="right")
    out = np.empty((num, size, size, 3), np.uint8)
    for i, image in enumerate(images):
        rows = np.flatnonzero(which == i)
        local = flat[rows] - (counts[:i].sum() if i else 0)
        top, left = np.divmod(local, image.shape[1] - size + 1)
        for row, y, x in zip(rows, top, left, strict=True):
            out[row] = image[y : y + size, x : x + size]
    return out


def _grey(patches: np.ndarray) -> np.ndarray:
    return np.round(patches @ LUMA).astype(np.uint8)[..., None]


@functools.cache
def _whitening(size: int) -> tuple[np.ndarray, float]:
    """The ZCA matrix fitted to the grey training patches (means removed) and the clip
    level (3 standard deviations of the whitened training pixels)."""
    x = _centred(_grey(cut(TRAIN_PHOTOS, size, NUM["train"], seed=0)))
    cov = x.T @ x / len(x)
    eigval, eigvec = np.linalg.eigh(cov)
    eps = WHITEN_EPS * float(eigval.mean())
    zca = (eigvec / np.sqrt(eigval + eps)) @ eigvec.T
    return zca, CLIP_STDS * float(np.std(x @ zca))


def _centred(grey: np.ndarray) -> np.ndarray:
    x = grey.reshape(len(grey), -1).astype(np.float64) / 255.0
    return x - x.mean(axis=1, keepdims=True)


def _white(grey: np.ndarray, size: int) -> np.ndarray:
    zca, clip = _whitening(size)
    x = _centred(grey) @ zca
    x -= x.mean(axis=1, keepdims=True)
    x = np.clip(x, -clip, clip) / clip  # [-1, 1]
    return (0.4 * x + 0.5).astype(np.float32).reshape(len(grey), size, size, 1)


def load(family: Family, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The ``train`` (50,000) or ``test`` (10,000) patches of ``family``; labels -1."""
    photos = TRAIN_PHOTOS if split == "train" else TEST_PHOTOS
    patches = cut(photos, family.size, NUM[split], seed=0 if split == "train" else 1)
    if family.grey:
        patches = _grey(patches)
    if family.white:
        patches = _white(patches, family.size)
    return patches, np.full(len(patches), -1, np.int32)


__all__ = ["NAME", "TEST_PHOTOS", "TRAIN_PHOTOS", "Family", "cut", "load", "parse", "photograph"]
