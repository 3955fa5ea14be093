"""Frey faces: Brendan Frey's 1,965 grey images (28 x 20) of one face under changing pose and
expression, the data of Kingma & Welling's VAE paper (its Fig. 4a is the 2-D face manifold).

No package ships them and aezoo fetches nothing: the file is one the user has, found in
``$AEZOO_DATASETS`` (a folder; default ``~/.cache/aezoo/datasets``) as ``frey_faces.npz``
(key ``images``, uint8 ``[1965, 28, 20, 1]``) or as ``frey_rawface.mat`` from Sam Roweis's
data page (key ``ff``, uint8 ``[560, 1965]``, one image per column). Whichever it is, the
images are checked against the sha256 of the known data before use: another file is one
line, never trained on. Splits: a fixed permutation (seed 0), 1,765 train and 200 test; no
labels (``--val-fraction`` holds out validation rows from train).
"""

from __future__ import annotations

import hashlib
import os
import pathlib

import numpy as np

from aezoo.errors import DataError

NAME = "frey_faces"
SHAPE = (1965, 28, 20, 1)
SHA256 = "2438ba4f0d2a6bd8bac43de756141eaa33c8d248dd613d464bdb1210d9b7af78"
FILES = ("frey_faces.npz", "frey_rawface.mat")
NUM_TEST = 200
WHERE = "https://cs.nyu.edu/~roweis/data.html"


def folder() -> pathlib.Path:
    """Where the file is looked for: ``$AEZOO_DATASETS`` or ``~/.cache/aezoo/datasets``."""
    given = os.environ.get("AEZOO_DATASETS")
    if given:
        return pathlib.Path(given).expanduser()
    cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser()
    return cache / "aezoo" / "datasets"


def images() -> np.ndarray:
    """All 1,965 images, uint8 ``[1965, 28, 20, 1]``, checked against the known sha256."""
    where = folder()
    found = [where / name for name in FILES if (where / name).is_file()]
    if not found:
        raise DataError(
            f"dataset {NAME!r} is a file you provide: put frey_faces.npz or frey_rawface.mat "
            f"(from {WHERE}) in {where} (or set $AEZOO_DATASETS to its folder)"
        )
    faces = _read(found[0])
    if faces.shape != SHAPE or faces.dtype != np.uint8:
        raise DataError(
            f"{found[0]} holds {faces.dtype} {faces.shape}, not the Frey faces (uint8 {SHAPE})"
        )
    digest = hashlib.sha256(np.ascontiguousarray(faces).tobytes()).hexdigest()
    if digest != SHA256:
        raise DataError(
            f"{found[0]} is not the Frey faces aezoo knows (sha256 of its images {digest[:12]}..., "
            f"expected {SHA256[:12]}...); get frey_rawface.mat from {WHERE}"
        )
    return faces


def _read(path: pathlib.Path) -> np.ndarray:
    """The images in an .npz (key ``images``, no pickles) or Roweis's .mat (key ``ff``)."""
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                return np.asarray(f["images"])
        from scipy.io import loadmat

        ff = np.asarray(loadmat(path)["ff"])  # [560, 1965]: one 28 x 20 image per column
        return np.ascontiguousarray(ff.T.reshape(-1, 28, 20, 1))
    except (OSError, ValueError, KeyError, NotImplementedError) as e:
        raise DataError(f"cannot read the Frey faces from {path}: {e}") from None


def load_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """``train`` (1,765 images) or ``test`` (200), from a fixed permutation; labels -1."""
    faces = images()
    order = np.random.default_rng(0).permutation(len(faces))
    rows = order[:NUM_TEST] if split == "test" else order[NUM_TEST:]
    return np.ascontiguousarray(faces[rows]), np.full(len(rows), -1, np.int32)


__all__ = ["FILES", "NAME", "SHA256", "folder", "images", "load_split"]
