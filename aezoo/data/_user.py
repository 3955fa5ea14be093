"""Your own data: a folder of images (``folder:PATH``) or arrays (``npz:PATH``, ``npy:PATH``).

Each source becomes the same thing as a TFDS dataset: uint8 ``[N, H, W, C]`` images (floats
in [0, 1] stay float32; tabular vectors ``[N, D]`` become ``[N, 1, 1, D]`` float32,
standardized with the training split's mean and std) and int32 labels (-1 = unlabelled),
split once into train and test by a fixed permutation (or by ``train/`` and ``test/`` /
``val/`` subfolders / ``x_train`` and ``x_test`` arrays when the user gives them). Decoded
folders are cached on disk, keyed by the content of the files (a hash of each file's bytes,
read again whenever its size, mtime, inode or ctime changed), their labels and the options.
Every Pillow mode is decoded explicitly (:func:`_pixels`): 16- and 32-bit integers scaled
by their range, transparency composited on ``alpha_background``, EXIF orientation applied.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import pathlib
import re
import tempfile
import warnings
import zipfile
from typing import Any

import numpy as np

from aezoo.data._preprocess import check_labels
from aezoo.errors import DataError

PREFIXES = ("folder", "npz", "npy")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
IMAGE_KEYS = ("image", "images", "x", "X", "data", "arr_0")
LABEL_KEYS = ("label", "labels", "y", "Y", "target", "targets")
SPLIT_SEED = 0  # the fixed permutation that splits a source without its own split
VAL_SEED = 1  # ... and the one that holds out the validation rows of a training split


@dataclasses.dataclass(frozen=True)
class DataOptions:
    """How a user source is read (recorded in config.json with the run).

    Attributes:
      image_size: ``(H, W)`` to resize every image to (``None``: keep; sizes must agree).
      center_crop: crop the largest centred box of the target aspect ratio before resizing.
      alpha_background: ``"black"`` or ``"white"``: what transparent pixels are composited
        on (RGBA, LA, palette images with transparency).
      test_fraction: share of the examples held out as the test split (fixed permutation),
        unless the source has its own split.
      skip_bad_images: skip (and count) unreadable images instead of stopping.
      val_fraction: share of the training split held out as the ``val`` split (fixed
        permutation; any source, named datasets included).
      follow_outside_links: read what symbolic links in a folder lead to outside it
        (default: skipped, counted and named, so a dataset cannot pull in files from
        anywhere on the machine).
    """

    image_size: tuple[int, int] | None = None
    center_crop: bool = False
    alpha_background: str = "black"
    test_fraction: float = 0.1
    skip_bad_images: bool = False
    val_fraction: float = 0.0
    follow_outside_links: bool = False


def is_user_source(name: Any) -> bool:
    """Whether ``name`` is a ``folder:`` / ``npz:`` / ``npy:`` spec."""
    return isinstance(name, str) and name.split(":", 1)[0] in PREFIXES and ":" in name


def absolute_source(name: str) -> str:
    """A user source with its path made absolute (``folder:images`` ->
    ``folder:/home/me/images``), so a run records data it can find from any folder; other
    names unchanged."""
    if not is_user_source(name):
        return name
    kind, _, text = name.partition(":")
    return f"{kind}:{pathlib.Path(text).expanduser().absolute()}" if text.strip() else name


def source_paths(name: Any) -> list[pathlib.Path]:
    """The files or folder a user source reads (none for a named dataset): what outputs must
    never be written into."""
    if not is_user_source(name):
        return []
    kind, _, text = name.partition(":")
    path = pathlib.Path(text).expanduser()
    if kind != "folder" and path.is_dir():  # not a usable source: its reader says so
        return []
    return [path]


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


SPLIT_FOLDERS = {"train": "train", "test": "test", "val": "val", "valid": "val"}
SKIPPED_NAMES = ("__MACOSX",)  # and every name starting with "." (.ipynb_checkpoints, ...)


@dataclasses.dataclass
class _Walk:
    """How a folder is walked: its real root, whether links may lead out of it, and the
    links that did (relative paths, for the warning and the record)."""

    root: pathlib.Path
    follow_outside: bool = False
    outside: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        self.real = os.path.realpath(self.root)

    def allowed(self, path: pathlib.Path) -> bool:
        """Whether ``path`` may be read: not a link, or one that stays inside the root
        (else recorded, unless outside links are followed)."""
        if not os.path.islink(path):
            return True
        real = os.path.realpath(path)
        if real == self.real or real.startswith(self.real + os.sep) or self.follow_outside:
            return True
        rel = os.path.relpath(path, self.root)
        if rel not in self.outside:
            self.outside.append(rel)
        return False


def _scan(
    root: pathlib.Path, walk: _Walk | None = None
) -> tuple[list[tuple[pathlib.Path, int, str]], list[str]]:
    """``[(file, label, split)]`` in a fixed order, and the class names (label order).

    A ``train/`` subfolder gives the split layout: ``train/`` with ``test/`` and / or
    ``val/`` (or ``valid/``, the ImageNet layout; it becomes the validation split); without
    ``test/`` the test rows are drawn from ``train/``. A ``train/`` beside other folders of
    images is a class like them. Below them (or below ``root``), each subfolder holding
    images is a class (sorted names -> 0, 1, ...); images directly in the folder are
    unlabelled (-1). Hidden files and folders and ``__MACOSX`` are skipped; symlinked
    folders are followed (each real folder once) while they stay inside ``root`` (see
    :class:`_Walk`)."""
    walk = walk or _Walk(root)
    tops = _split_tops(root, walk)
    classes = sorted(
        {d.name for top, _ in tops for d in _subfolders(top, walk) if any(_images_below(d, walk))}
    )
    index = {c: i for i, c in enumerate(classes)}
    files = []
    for top, split in tops:
        for f in sorted(_images_below(top, walk)):
            rel = f.relative_to(top).parts
            label = index.get(rel[0], -1) if len(rel) > 1 else -1
            files.append((f, label, split))
    if not files:
        raise DataError(f"folder: no images ({', '.join(IMAGE_SUFFIXES)}) in {root}")
    return files, classes


def _split_tops(root: pathlib.Path, walk: _Walk) -> list[tuple[pathlib.Path, str]]:
    if not (root / "train").is_dir():
        return [(root, "train")]
    classes = [
        d
        for d in _subfolders(root, walk)
        if d.name not in SPLIT_FOLDERS and any(_images_below(d, walk))
    ]
    if classes:  # train/ is one class among others (bicycle/, bus/, train/)
        return [(root, "train")]
    tops = [(root / name, split) for name, split in SPLIT_FOLDERS.items() if (root / name).is_dir()]
    if sum(split == "val" for _, split in tops) > 1:
        raise DataError(f"folder: {root} has both val/ and valid/; keep one validation folder")
    return tops


def _hidden(name: str) -> bool:
    return name.startswith(".") or name in SKIPPED_NAMES


def _subfolders(top: pathlib.Path, walk: _Walk) -> list[pathlib.Path]:
    return [d for d in top.iterdir() if d.is_dir() and not _hidden(d.name) and walk.allowed(d)]


def _images_below(d: pathlib.Path, walk: _Walk):
    """Image files below ``d``, following symlinked folders once each (no loops) while
    ``walk`` allows them, skipping hidden files and folders."""
    seen: set[str] = set()
    for folder, dirs, names in os.walk(d, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(
            x for x in dirs if not _hidden(x) and walk.allowed(pathlib.Path(folder) / x)
        )
        for name in names:
            path = pathlib.Path(folder) / name
            if _hidden(name) or path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if path.is_file() and walk.allowed(path):
                yield path


def _cached_folder(root: pathlib.Path, options: DataOptions, cache_dir) -> dict[str, Any]:
    walk = _Walk(root, options.follow_outside_links)
    files, classes = _scan(root, walk)
    if walk.outside:
        shown = ", ".join(walk.outside[:5]) + (", ..." if len(walk.outside) > 5 else "")
        warnings.warn(
            f"folder: skipped {len(walk.outside)} link(s) leading out of {root}: {shown} "
            "(--follow-outside-links reads them)",
            stacklevel=4,
        )
    cache = cache_root(cache_dir)
    contents = _content_hashes(root, [f for f, *_ in files], cache)
    layout = [(h, label, split) for h, (_, label, split) in zip(contents, files, strict=True)]
    key = json.dumps([layout, dataclasses.asdict(options)])
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    path = cache / f"folder-{digest}.npz"
    if path.is_file():
        try:
            with np.load(path) as z:
                return {**_folder_result(dict(z), classes, options), "outside_links": walk.outside}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # unreadable cache: decode again and overwrite it
    arrays = _decode_all(files, options)
    _atomic_savez(path, arrays)
    return {**_folder_result(arrays, classes, options), "outside_links": walk.outside}


def _content_hashes(root: pathlib.Path, files: list[pathlib.Path], cache: pathlib.Path):
    """A hash of each file's bytes. A file is read again unless its size, mtime, inode and
    ctime all match the index of the last read (``cp -p`` restores the mtime, not the ctime),
    so the cache follows the content, not the timestamps."""
    index_path = (
        cache / f"index-{hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:20]}.json"
    )
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError):
        index = {}
    hashes, fresh = [], {}
    for f in files:
        st = f.stat()
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]
        rel = str(f.relative_to(root))
        known = index.get(rel)
        if isinstance(known, list) and known[:4] == stamp:
            digest = known[4]
        else:
            digest = hashlib.blake2b(f.read_bytes(), digest_size=16).hexdigest()
        fresh[rel] = [*stamp, digest]
        hashes.append([rel, digest])
    if fresh != index:
        with contextlib.suppress(OSError):
            cache.mkdir(parents=True, exist_ok=True)
            tmp = index_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(fresh))
            os.replace(tmp, index_path)
    return hashes


def _folder_result(arrays: dict, classes: list[str], options: DataOptions) -> dict[str, Any]:
    split = arrays["split"]
    test, val = split == SPLIT_CODES["test"], split == SPLIT_CODES["val"]
    if not test.any():  # no own test split: a fixed share of the rest, fixed permutation
        test = np.zeros(len(split), bool)
        test[~val] = _test_mask(int((~val).sum()), options.test_fraction)
    return {
        "images": arrays["images"],
        "labels": arrays["labels"].astype(np.int32),
        "test": test,
        "val": val if val.any() else None,
        "classes": classes,
        "skipped": int(arrays["skipped"]),
        "stats": None,
    }


SPLIT_CODES = {"train": 0, "test": 1, "val": 2}


def _decode_all(files, options: DataOptions) -> dict[str, np.ndarray]:
    images, labels, test, bad = [], [], [], []
    for f, label, split in files:
        try:
            images.append(_decode(f, options))
        except DataError:
            if not options.skip_bad_images:
                raise
            bad.append(f)
            continue
        labels.append(label)
        test.append(SPLIT_CODES[split])
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
        "split": np.asarray(test, np.int8),
        "skipped": np.asarray(len(bad)),
    }


def _two_sizes(images, files):
    first = images[0].shape[:2]
    names = [f for f, *_ in files]
    other = next(i for i, im in enumerate(images) if im.shape[:2] != first)
    return (names[0], first), (names[other], images[other].shape[:2])


def _decode(path: pathlib.Path, options: DataOptions) -> np.ndarray:
    """One image file -> uint8 ``[H, W, 1 | 3]`` (resized / cropped as asked)."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)  # phone photos: the orientation tag applied
            array = _pixels(im, options.alpha_background)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(
            f"folder: cannot decode {path}: {e} (--skip-bad-images skips such files)"
        ) from None
    if options.image_size is not None:
        resized = _resize(Image.fromarray(array), options.image_size, options.center_crop)
        array = np.asarray(resized, np.uint8)
    array = array[..., None] if array.ndim == 2 else array
    if array.shape[0] * array.shape[1] < 2:
        raise DataError(
            f"folder: {path} is a 1x1 image; images of one pixel would read as tabular "
            "features (resize them with --image-size)"
        )
    return array


def _pixels(im, background: str) -> np.ndarray:
    """The image as uint8 ``[H, W]`` (grey) or ``[H, W, 3]``, by mode: ``1`` and ``L`` as
    they are; ``I;16*`` scaled from 0..65535; ``I`` (32-bit) from 0..65535 when it fits (16-bit
    PNGs), else from its full range; ``F`` from [0, 1] (clipped); ``LA`` / ``RGBA`` / palette
    images with transparency composited on ``background``; anything else through RGB."""
    mode = im.mode
    if mode in ("1", "L"):
        return np.asarray(im.convert("L"), np.uint8)
    if mode.startswith("I;16") or mode == "I":
        return _scaled_integers(np.asarray(im).astype(np.int64))
    if mode == "F":
        values = np.nan_to_num(np.asarray(im, np.float64), nan=0.0)
        return np.round(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8)
    if mode == "P" and "transparency" in im.info:
        im, mode = im.convert("RGBA"), "RGBA"
    if mode in ("LA", "La", "RGBA", "RGBa", "PA"):
        return _composited(im.convert("RGBA"), background, grey=mode in ("LA", "La"))
    return np.asarray(im.convert("RGB"), np.uint8)


def _composited(rgba, background: str, *, grey: bool) -> np.ndarray:
    """``rgba`` over an opaque ``background`` (black or white), as grey or RGB uint8."""
    from PIL import Image

    colour = (255, 255, 255, 255) if background == "white" else (0, 0, 0, 255)
    flat = Image.alpha_composite(Image.new("RGBA", rgba.size, colour), rgba)
    return np.asarray(flat.convert("L" if grey else "RGB"), np.uint8)


def _scaled_integers(values: np.ndarray) -> np.ndarray:
    """Integer pixels to 0..255 by their type's range: 16-bit when they fit in 0..65535."""
    if values.size and values.min() >= 0 and values.max() <= 65535:
        low, top = 0.0, 65535.0
    else:
        low, top = float(np.iinfo(np.int32).min), float(np.iinfo(np.int32).max)
    return np.round((values - low) / (top - low) * 255.0).astype(np.uint8)


def resize_image(image: np.ndarray, size: tuple[int, int], crop: bool) -> np.ndarray:
    """One uint8 ``[H, W, C]`` image resized to ``size`` (bilinear; ``crop``: the largest
    centred box of the target's aspect ratio first), ``[h, w, C]``."""
    from PIL import Image

    grey = image.shape[-1] == 1
    im = Image.fromarray(image[..., 0] if grey else image)
    out = np.asarray(_resize(im, size, crop), np.uint8)
    return out[..., None] if grey else out


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
    found = _read_arrays(path, kind)
    if not isinstance(found, dict) or not found:
        raise DataError(f"{kind}: {path} holds no arrays")
    if "x_train" in found and "x_test" in found:
        a, b = found["x_train"], found["x_test"]
        if a.shape[1:] != b.shape[1:] or a.dtype != b.dtype:
            raise DataError(
                f"{kind}: {path}: x_train {a.dtype} {a.shape[1:]} and x_test {b.dtype} "
                f"{b.shape[1:]} differ; one dataset needs one example shape and dtype"
            )
        if ("y_train" in found) != ("y_test" in found):
            given = "y_train" if "y_train" in found else "y_test"
            raise DataError(f"{kind}: {path}: {given} without its partner; give both or neither")
        x = np.concatenate([a, b])
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


def _read_arrays(path: pathlib.Path, kind: str) -> dict[str, np.ndarray]:
    """The arrays of an ``.npy`` (``{"x": array}``) or ``.npz`` file; never pickles; a
    one-line DataError for anything else (an npz given as npy and the reverse, a truncated
    archive, a member that is not an array, a file without a NumPy header)."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e):
            raise DataError(
                f"{kind}: cannot read {path}: not a NumPy array file (no .npy header, or "
                "pickled objects, which aezoo never loads)"
            ) from None
        raise DataError(f"{kind}: cannot read {path}: {e}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{kind}: cannot read {path}: {e}") from None
    if kind == "npy":
        if not isinstance(loaded, np.ndarray):
            loaded.close()
            raise DataError(f"npy: {path} is an .npz archive; read it as npz:{path}")
        return {"x": loaded}
    if isinstance(loaded, np.ndarray):
        raise DataError(f"npz: {path} is a single .npy array; read it as npy:{path}")
    with loaded as z:
        try:
            found = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise DataError(
                f"npz: cannot read {path}: a member is not a NumPy array ({e})"
            ) from None
    odd = [k for k, v in found.items() if not isinstance(v, np.ndarray)]
    if odd:
        raise DataError(f"npz: cannot read {path}: a member is not a NumPy array ({odd[0]})")
    return found


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
    if x.dtype == np.uint8 and x.ndim != 2:  # 8-bit images; uint8 tables are vectors
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
    check_labels(y, what=f"{what}: labels")
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


def cache_root(cache_dir=None) -> pathlib.Path:
    """Where aezoo keeps what it can rebuild: ``cache_dir``, ``$AEZOO_CACHE_DIR`` or
    ``~/.cache/aezoo``."""
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
