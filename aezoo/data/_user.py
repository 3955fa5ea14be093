"""Your own data: a folder of images (``folder:PATH``) or arrays (``npz:PATH``, ``npy:PATH``).

Each source becomes the same thing as a TFDS dataset: uint8 ``[N, H, W, C]`` images (floats
in [0, 1] stay float32; tabular vectors ``[N, D]`` become ``[N, 1, 1, D]`` float32,
standardized with the training split's mean and std) and int32 labels (-1 = unlabelled),
split once into train and test by a fixed permutation (or by ``train/`` and ``test/``
subfolders / ``x_train`` and ``x_test`` arrays when the user gives them). Decoded folders are
cached on disk, keyed by the folder, its files' sizes and mtimes and the options.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import re
import tempfile
import warnings
from typing import Any

import numpy as np

from aezoo.errors import DataError

PREFIXES = ("folder", "npz", "npy")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
IMAGE_KEYS = ("image", "images", "x", "X", "data", "arr_0")
LABEL_KEYS = ("label", "labels", "y", "Y", "target", "targets")
SPLIT_SEED = 0  # the fixed permutation that splits a source without its own split
VAL_SEED = 1  # ... and the one that holds out the validation rows of a training split
_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")


@dataclasses.dataclass(frozen=True)
class DataOptions:
    """How a user source is read (recorded in config.json with the run).

    Attributes:
      image_size: ``(H, W)`` to resize every image to (``None``: keep; sizes must agree).
      center_crop: crop the largest centred box of the target aspect ratio before resizing.
      test_fraction: share of the examples held out as the test split (fixed permutation),
        unless the source has its own split.
      skip_bad_images: skip (and count) unreadable images instead of stopping.
      val_fraction: share of the training split held out as the ``val`` split (fixed
        permutation; any source, named datasets included).
    """

    image_size: tuple[int, int] | None = None
    center_crop: bool = False
    test_fraction: float = 0.1
    skip_bad_images: bool = False
    val_fraction: float = 0.0


def is_user_source(name: Any) -> bool:
    """Whether ``name`` is a ``folder:`` / ``npz:`` / ``npy:`` spec."""
    return isinstance(name, str) and name.split(":", 1)[0] in PREFIXES and ":" in name


def source_paths(name: Any) -> list[pathlib.Path]:
    """The files or folder a user source reads (none for a named dataset): what outputs must
    never be written into."""
    if not is_user_source(name):
        return []
    return [pathlib.Path(name.partition(":")[2]).expanduser()]


def parse_image_size(text: str | None) -> tuple[int, int] | None:
    """``"32"`` -> ``(32, 32)``, ``"28x32"`` -> ``(28, 32)``; one-line error otherwise."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+))?\s*", str(text))
    size = (int(m.group(1)), int(m.group(2) or m.group(1))) if m else None
    if size is None or min(size) < 1 or max(size) > 4096:
        raise DataError(f"image size must be H or HxW with 1 <= H, W <= 4096; got {text!r}")
    return size


def load_source(
    name: str, options: DataOptions, cache_dir: str | os.PathLike | None
) -> dict[str, Any]:
    """Every example of a user source and how it splits: ``{"images", "labels", "test"
    (bool [N]), "classes", "skipped", "stats"}``."""
    kind, _, path_text = name.partition(":")
    path = pathlib.Path(path_text).expanduser()
    if not path_text or not path.exists():
        raise DataError(f"{kind}: path {str(path)!r} does not exist")
    if not os.access(path, os.R_OK):
        raise DataError(f"{kind}: cannot read {path}: permission denied")
    if not 0.0 < options.test_fraction < 1.0:
        raise DataError(f"test fraction must lie in (0, 1); got {options.test_fraction}")
    if kind == "folder":
        if not path.is_dir():
            raise DataError(f"folder: {path} is not a directory")
        return _cached_folder(path, options, cache_dir)
    if path.is_dir():
        raise DataError(f"{kind}: {path} is a directory, not a .{kind} file")
    if options.image_size is not None or options.center_crop:
        raise DataError("--image-size and --center-crop apply to folder: sources only")
    return _arrays(path, kind, options)


# --- folders -------------------------------------------------------------------------------


def _scan(root: pathlib.Path) -> tuple[list[tuple[pathlib.Path, int, bool]], list[str]]:
    """``[(file, label, is_test)]`` in a fixed order, and the class names (label order).

    ``train/`` + ``test/`` subfolders give the split; below them (or below ``root``), each
    subfolder holding images is a class (sorted names -> 0, 1, ...); images directly in
    the folder are unlabelled (-1)."""
    own_split = (root / "train").is_dir() and (root / "test").is_dir()
    tops = [(root / "train", False), (root / "test", True)] if own_split else [(root, False)]
    classes = sorted(
        {d.name for top, _ in tops for d in top.iterdir() if d.is_dir() and any(_images_below(d))}
    )
    index = {c: i for i, c in enumerate(classes)}
    files = []
    for top, is_test in tops:
        for f in sorted(_images_below(top)):
            rel = f.relative_to(top).parts
            label = index.get(rel[0], -1) if len(rel) > 1 else -1
            files.append((f, label, is_test))
    if not files:
        raise DataError(f"folder: no images ({', '.join(IMAGE_SUFFIXES)}) in {root}")
    return files, classes


def _images_below(d: pathlib.Path):
    return (p for p in d.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _cached_folder(root: pathlib.Path, options: DataOptions, cache_dir) -> dict[str, Any]:
    files, classes = _scan(root)
    stamp = [(str(f.relative_to(root)), f.stat().st_mtime_ns, f.stat().st_size) for f, *_ in files]
    key = json.dumps([str(root.resolve()), stamp, dataclasses.asdict(options)])
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    cache = _cache_root(cache_dir) / f"folder-{digest}.npz"
    if cache.is_file():
        try:
            with np.load(cache) as z:
                return _folder_result(dict(z), classes, options)
        except (OSError, ValueError, KeyError):
            pass  # unreadable cache: decode again and overwrite it
    arrays = _decode_all(files, options)
    _atomic_savez(cache, arrays)
    return _folder_result(arrays, classes, options)


def _folder_result(arrays: dict, classes: list[str], options: DataOptions) -> dict[str, Any]:
    test = arrays["test"].astype(bool)
    if not test.any():  # no own split: a fixed share of the examples, fixed permutation
        test = _test_mask(len(test), options.test_fraction)
    return {
        "images": arrays["images"],
        "labels": arrays["labels"].astype(np.int32),
        "test": test,
        "classes": classes,
        "skipped": int(arrays["skipped"]),
        "stats": None,
    }


def _decode_all(files, options: DataOptions) -> dict[str, np.ndarray]:
    images, labels, test, bad = [], [], [], []
    for f, label, is_test in files:
        try:
            images.append(_decode(f, options))
        except DataError:
            if not options.skip_bad_images:
                raise
            bad.append(f)
            continue
        labels.append(label)
        test.append(is_test)
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable images (first: {bad[0]})", stacklevel=3)
    if not images:
        raise DataError("folder: every image was unreadable")
    shapes = {im.shape[:2] for im in images}
    if len(shapes) > 1:
        (a, sa), (b, sb) = _two_sizes(images, files)
        raise DataError(
            f"folder: images differ in size ({a} is {sa[0]}x{sa[1]}, {b} is {sb[0]}x{sb[1]}); "
            "pass --image-size H[xW] to resize them on load"
        )
    if len({im.shape[2] for im in images}) > 1:  # gray and colour mixed: all colour
        images = [np.repeat(im, 3, axis=2) if im.shape[2] == 1 else im for im in images]
    return {
        "images": np.stack(images),
        "labels": np.asarray(labels, np.int32),
        "test": np.asarray(test, bool),
        "skipped": np.asarray(len(bad)),
    }


def _two_sizes(images, files):
    first = images[0].shape[:2]
    names = [f for f, *_ in files]
    other = next(i for i, im in enumerate(images) if im.shape[:2] != first)
    return (names[0], first), (names[other], images[other].shape[:2])


def _decode(path: pathlib.Path, options: DataOptions) -> np.ndarray:
    """One image file -> uint8 ``[H, W, 1 | 3]`` (resized / cropped as asked)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert("L" if im.mode in _GRAY_MODES else "RGB")
            if options.image_size is not None:
                im = _resize(im, options.image_size, options.center_crop)
            array = np.asarray(im, np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(
            f"folder: cannot decode {path}: {e} (--skip-bad-images skips such files)"
        ) from None
    return array[..., None] if array.ndim == 2 else array


def _resize(im, size: tuple[int, int], crop: bool):
    from PIL import Image

    h, w = size
    if crop:  # the largest centred box with the target's aspect ratio
        scale = min(im.width / w, im.height / h)
        cw, ch = round(w * scale), round(h * scale)
        left, top = (im.width - cw) // 2, (im.height - ch) // 2
        im = im.crop((left, top, left + cw, top + ch))
    return im.resize((w, h), Image.Resampling.BILINEAR, reducing_gap=3.0)


# --- arrays ---------------------------------------------------------------------------------


def _arrays(path: pathlib.Path, kind: str, options: DataOptions) -> dict[str, Any]:
    """An ``.npz`` (images under one of ``IMAGE_KEYS``, optional labels under
    ``LABEL_KEYS``; or ``x_train`` / ``x_test`` [+ ``y_train`` / ``y_test``]) or ``.npy``."""
    try:
        if kind == "npy":
            found = {"x": np.load(path, allow_pickle=False)}
        else:
            with np.load(path, allow_pickle=False) as z:
                found = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"{kind}: cannot read {path}: {e}") from None
    if not isinstance(found, dict) or not found:
        raise DataError(f"{kind}: {path} holds no arrays")
    if "x_train" in found and "x_test" in found:
        x = np.concatenate([found["x_train"], found["x_test"]])
        test = np.arange(len(x)) >= len(found["x_train"])
        y = _own_split_labels(found, path)
    else:
        key = next((k for k in IMAGE_KEYS if k in found), None)
        if key is None:
            raise DataError(
                f"{kind}: {path} has no image array; name it one of {', '.join(IMAGE_KEYS)} "
                f"(found {', '.join(sorted(found))})"
            )
        x = found[key]
        y = next((found[k] for k in LABEL_KEYS if k in found), None)
        test = _test_mask(len(x), options.test_fraction) if x.ndim else None
    images, stats = _as_examples(x, test, f"{kind}: {path}")
    labels = _as_labels(y, len(images), f"{kind}: {path}")
    return {
        "images": images,
        "labels": labels,
        "test": test,
        "classes": None,
        "skipped": 0,
        "stats": stats,
    }


def _own_split_labels(found: dict, path) -> np.ndarray | None:
    if "y_train" in found and "y_test" in found:
        return np.concatenate([found["y_train"], found["y_test"]])
    return None


def _as_examples(x: np.ndarray, test, what: str) -> tuple[np.ndarray, dict | None]:
    """Images as uint8 / float32 ``[N, H, W, C]``; vectors ``[N, D]`` standardized with the
    train rows' statistics as float32 ``[N, 1, 1, D]`` (the statistics are returned)."""
    if x.ndim not in (2, 3, 4) or x.shape[0] == 0:
        raise DataError(
            f"{what}: expected images [N, H, W] / [N, H, W, C] or vectors [N, D]; "
            f"got shape {x.shape}"
        )
    if x.dtype == np.uint8:
        return (x[..., None] if x.ndim == 3 else x), None
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise DataError(f"{what}: unsupported dtype {x.dtype} (use uint8 or float)")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise DataError(f"{what}: the array holds NaN or infinite values")
    if x.ndim == 2:
        train = x[~test]
        mean, std = train.mean(axis=0), train.std(axis=0)
        std = np.where(std > 0, std, 1.0).astype(np.float32)
        stats = {"mean": mean.tolist(), "std": std.tolist()}
        return ((x - mean) / std)[:, None, None, :], stats
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        raise DataError(
            f"{what}: float images must lie in [0, 1] (or be uint8 0..255); got [{lo:g}, {hi:g}]"
        )
    return (x[..., None] if x.ndim == 3 else x), None


def _as_labels(y, n: int, what: str) -> np.ndarray:
    if y is None:
        return np.full((n,), -1, np.int32)
    y = np.asarray(y)
    if y.shape != (n,):
        raise DataError(
            f"{what}: labels must have shape [{n}] to match the examples; got {y.shape}"
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{what}: labels must be integers; got dtype {y.dtype}")
    return y.astype(np.int32)


# --- shared ---------------------------------------------------------------------------------


def _test_mask(n: int, fraction: float, seed: int = SPLIT_SEED) -> np.ndarray:
    """The fixed held-out rows (test, or ``val`` with ``VAL_SEED``): the first ``round(n *
    fraction)`` of a permutation drawn with ``seed`` (at least one row on each side)."""
    n_test = min(max(round(n * fraction), 1), n - 1) if n > 1 else 0
    if n_test == 0:
        raise DataError(f"a source needs at least 2 examples to split; got {n}")
    mask = np.zeros(n, bool)
    mask[np.random.default_rng(seed).permutation(n)[:n_test]] = True
    return mask


def val_mask(n: int, fraction: float) -> np.ndarray:
    """The validation rows among ``n`` training rows (fixed for every run)."""
    return _test_mask(n, fraction, VAL_SEED)


def _cache_root(cache_dir) -> pathlib.Path:
    if cache_dir is None:
        cache_dir = os.environ.get("AEZOO_CACHE_DIR") or (
            pathlib.Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "aezoo"
        )
    return pathlib.Path(cache_dir)


def _atomic_savez(path: pathlib.Path, arrays: dict[str, np.ndarray]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as f:
            np.savez(f, **arrays)
        os.replace(f.name, path)
    except OSError as e:  # a cache that cannot be written only costs time
        warnings.warn(f"cannot cache decoded images in {path.parent}: {e}", stacklevel=3)


__all__ = ["DataOptions", "is_user_source", "load_source", "parse_image_size", "val_mask"]
