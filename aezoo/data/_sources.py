"""Datasets as host uint8 arrays: TFDS through ``tfds.data_source`` and the embedded digits."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import pathlib
import re
import tempfile
import threading
from typing import Any

import numpy as np

from aezoo.data import _tfds_sets
from aezoo.data._spec import DATASETS, DatasetSpec, spec_of
from aezoo.data._user import DataOptions, is_user_source, load_source, val_mask
from aezoo.errors import DataError

# A split, optionally sliced the TFDS way: [a:b] with integers or percentages; a step
# ([::2]) is refused (TFDS has none, and a cache or a fingerprint would take it for [:2]).
_SPLIT_RE = re.compile(r"^(train|test|val)(\[(-?\d+%?)?:(-?\d+%?)?\])?$")
_MEMORY: dict[tuple, Any] = {}
_LOCK = threading.Lock()


def load(
    name: str,
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    rows: tuple[int, int] | None = None,
    options: DataOptions | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load a whole split (or only its ``rows``) as host arrays.

    Args:
      name: a registered dataset (:data:`aezoo.data.DATASETS`: ``"digits"``, scikit-learn's
        bundled 8x8 digits, no network; ``"dsprites"``, drawn in code, 64x64 binary, labels =
        shape; a plug-in's), a TFDS image-classification dataset name (``mnist``,
        ``fashion_mnist``, ``cifar10``, ...), or your own data: ``folder:PATH`` (images;
        class subfolders give labels),
        ``npz:PATH`` / ``npy:PATH`` (arrays; see :mod:`aezoo.data._user`).
      split: ``"train"`` or ``"test"``, optionally sliced the TFDS way (``"train[:1000]"``).
      data_dir: TFDS data directory; defaults to ``$TFDS_DATA_DIR`` or TFDS's default.
      cache_dir: if given (or ``$AEZOO_CACHE_DIR`` is set), decoded arrays are also kept
        there as ``.npy`` so the next process skips decoding.
      rows: ``(start, stop)``: read only these examples of the split (one process's share
        in a multi-host run; see :func:`aezoo.train.sharding.row_layout`).
      options: how a ``folder:`` / ``npz:`` / ``npy:`` source is read (:class:`DataOptions`:
        image size, crop, test fraction, bad images); a user source is cached on disk.

    Returns:
      ``(images, labels)``: uint8 ``[N, H, W, C]`` (float32 for float arrays and tabular
      vectors ``[N, 1, 1, D]``) and int32 ``[N]`` (-1 = unlabelled). Arrays are cached in
      memory per process and returned read-only.

    Raises:
      DataError: unknown dataset or split, dataset not prepared, or not an image dataset.
    """
    data_dir = _check_request(name, split, data_dir, rows)
    options = options or DataOptions()
    if is_user_source(name) and _own_val(name, options, cache_dir):
        return _load_user(name, split, options, cache_dir, rows)
    if split.startswith("val") or (split.startswith("train") and options.val_fraction > 0):
        return _load_val_split(name, split, data_dir, cache_dir, rows, options)
    if is_user_source(name):
        return _load_user(name, split, options or DataOptions(), cache_dir, rows)
    spec = spec_of(name)
    _check_options(name, options, tfds=spec is None or spec.loader is None)
    if spec is not None and spec.loader is not None:
        images, labels = _whole_split(spec, split.split("[")[0])
        return _take_range(images, labels, split, rows, name)
    sizing = (options.image_size, options.center_crop)
    key = (name, split, data_dir, rows, sizing)
    with _LOCK:
        if key in _MEMORY:
            return _MEMORY[key]
    images, labels = _read(name, split, data_dir, cache_dir, rows, options)
    images.setflags(write=False)
    labels.setflags(write=False)
    with _LOCK:
        _MEMORY[key] = (images, labels)
    return images, labels


def _check_options(name: str, options: DataOptions, *, tfds: bool) -> None:
    """Data options a named dataset cannot take: one line."""
    sizing = {"image_size": None, "center_crop": False} if tfds else {}
    if dataclasses.replace(options, val_fraction=0.0, **sizing) != DataOptions():
        applies = "TFDS sets and " if tfds else ""
        raise DataError(
            f"data options (image size, crop, test fraction) apply to {applies}folder:, "
            f"npz: and npy: sources; {name!r} takes "
            + ("--image-size and --center-crop only" if tfds else "none")
        )


def _whole_split(spec: DatasetSpec, split: str) -> tuple[np.ndarray, np.ndarray]:
    """A registered dataset's whole ``train`` or ``test`` split from its loader, checked
    once and kept read-only in memory."""
    key = ("spec", spec.name, split)
    with _LOCK:
        if key in _MEMORY:
            return _MEMORY[key]
    images, labels = spec.loader(split)
    images, labels = _checked(spec.name, split, images, labels)
    with _LOCK:
        _MEMORY[key] = (images, labels)
    return images, labels


def _checked(name: str, split: str, images, labels) -> tuple[np.ndarray, np.ndarray]:
    """A loader's arrays as aezoo holds them (a one-line error for what it cannot use)."""
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 4 or images.dtype not in (np.uint8, np.float32) or not len(images):
        raise DataError(
            f"dataset {name!r} split {split!r}: the loader must return images uint8 or "
            f"float32 [N, H, W, C] with N >= 1; got {images.dtype} {images.shape}"
        )
    if labels.shape != images.shape[:1] or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(
            f"dataset {name!r} split {split!r}: labels must be integers [N] beside images "
            f"[N, ...]; got {labels.dtype} {labels.shape} beside {images.shape}"
        )
    labels = labels.astype(np.int32)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def _load_val_split(name, split, data_dir, cache_dir, rows, options):
    """``train`` without its validation rows, or ``val``: those rows (``val_fraction``)."""
    if options.val_fraction <= 0:
        raise DataError(f"split {split!r} needs a validation fraction > 0 (--val-fraction)")
    whole = dataclasses.replace(options, val_fraction=0.0)
    images, labels = load(name, "train", data_dir=data_dir, cache_dir=cache_dir, options=whole)
    mask = val_mask(len(images), options.val_fraction)
    return _take(images, labels, mask if split.startswith("val") else ~mask, name, split, rows)


def has_own_val(name: str, *, data_dir=None, cache_dir=None, options=None) -> bool:
    """Whether dataset ``name`` is a user source with its own validation folder."""
    del data_dir  # a named dataset has no own validation split here
    return is_user_source(name) and _own_val(name, options or DataOptions(), cache_dir)


def _own_val(name: str, options: DataOptions, cache_dir) -> bool:
    """Whether a user source has its own validation rows (a ``val/`` or ``valid/`` folder);
    then ``--val-fraction`` does not apply."""
    if describe_source(name, options, cache_dir, arrays=True).get("val") is None:
        return False
    if options.val_fraction > 0:
        raise DataError(
            f"{name} has its own validation folder (val/ or valid/); --val-fraction does not "
            "apply to it"
        )
    return True


def _load_user(name, split, options, cache_dir, rows) -> tuple[np.ndarray, np.ndarray]:
    source = describe_source(name, options, cache_dir, arrays=True)
    test, val = source["test"], source.get("val")
    if val is None:
        val = np.zeros_like(test)
    if split.startswith("test"):
        mask = test
    elif split.startswith("val"):
        mask = val
    else:
        mask = ~test & ~val
    return _take(source["images"], source["labels"], mask, name, split, rows)


def _take(images, labels, mask, name, split, rows) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``mask``, then the split's TFDS-style slice, then ``rows``; read-only."""
    idx = _slice_indices(np.flatnonzero(mask), split)
    if rows is not None:
        _check_rows(rows, len(idx), name, split)
        idx = idx[rows[0] : rows[1]]
    images, labels = images[idx], labels[idx]
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def _take_range(images, labels, split, rows, name) -> tuple[np.ndarray, np.ndarray]:
    """The split's TFDS-style slice, then ``rows``, as views (no copy of a large split)."""
    idx = _slice_indices(np.arange(len(images)), split)
    if rows is not None:
        _check_rows(rows, len(idx), name, split)
        idx = idx[rows[0] : rows[1]]
    start = int(idx[0]) if len(idx) else 0
    view = slice(start, start + len(idx))
    return images[view], labels[view]


def describe_source(
    name: str,
    options: DataOptions | None = None,
    cache_dir: str | os.PathLike | None = None,
    *,
    arrays: bool = False,
) -> dict:
    """What a ``folder:`` / ``npz:`` / ``npy:`` source holds, as recorded in config.json:
    its path, class names (label order), split sizes, skipped files and, for tabular data,
    the train split's mean and std. ``arrays=True`` adds every example and the test mask."""
    options = options or DataOptions()
    key = (name, options)  # the disk cache only saves time: its place is not part of the key
    with _LOCK:
        source = _MEMORY.get(key)
    if source is None:
        source = load_source(name, options, cache_dir)
        with _LOCK:
            _MEMORY[key] = source
    if arrays:
        return source
    test, val = source["test"], source.get("val")
    held = test if val is None else test | val
    record = {
        "source": name.split(":", 1)[0],
        "path": str(pathlib.Path(name.split(":", 1)[1]).expanduser().resolve()),
        "classes": source["classes"],
        "num_train": int((~held).sum()),
        "num_test": int(test.sum()),
        "image_shape": list(source["images"].shape[1:]),
        "dtype": str(source["images"].dtype),
        "skipped": source["skipped"],
    }
    if val is not None:
        record["num_val"] = int(val.sum())
    if source.get("outside_links"):
        record["outside_links"] = source["outside_links"]
    if source["stats"] is not None:
        record["standardization"] = source["stats"]
    return record


def num_examples(name: str, split: str = "train", *, data_dir=None, options=None) -> int:
    """Number of examples in a split, without decoding it (TFDS reads the record count)."""
    spec = spec_of(name)
    local = (spec is not None and spec.loader is not None) or is_user_source(name)
    if local or (options and options.val_fraction > 0):
        return len(load(name, split, data_dir=data_dir, options=options)[0])
    if data_dir is None:
        data_dir = os.environ.get("TFDS_DATA_DIR") or None
    return len(_tfds_source(name, split, data_dir)[0])


def _check_request(name, split, data_dir, rows) -> str | None:
    """One-line errors for a bad name, split or row range; returns the TFDS data dir."""
    if not isinstance(name, str) or not name:
        raise DataError(f"dataset name must be a non-empty string; got {name!r}")
    if not isinstance(split, str) or not _SPLIT_RE.match(split):
        raise DataError(
            f"unknown split {split!r}; expected 'train', 'test' or 'val', optionally sliced "
            "like 'train[:1000]' or 'test[:10%]' (no step)"
        )
    if rows is not None:
        ok = isinstance(rows, tuple) and len(rows) == 2 and all(type(r) is int for r in rows)
        if not ok or not 0 <= rows[0] <= rows[1]:
            raise DataError(f"rows must be (start, stop) with 0 <= start <= stop; got {rows!r}")
    if data_dir is None:
        data_dir = os.environ.get("TFDS_DATA_DIR") or None
    return os.fspath(data_dir) if data_dir is not None else None


def _read(name, split, data_dir, cache_dir, rows, options) -> tuple[np.ndarray, np.ndarray]:
    """Decoded arrays from the disk cache, or from the source (then cached on disk)."""
    cache_dir = cache_dir if cache_dir is not None else os.environ.get("AEZOO_CACHE_DIR")
    sizing = (options.image_size, options.center_crop)
    cache_name = _cache_key(name, split, data_dir, rows, sizing)
    arrays = _read_disk_cache(cache_dir, name, cache_name) if cache_dir else None
    if arrays is None:
        arrays = _load_tfds(name, split, data_dir, rows, options)
        if cache_dir:
            _write_disk_cache(cache_dir, name, cache_name, arrays)
    return arrays


def _check_rows(rows: tuple[int, int], n: int, name: str, split: str) -> None:
    if rows[1] > n:
        raise DataError(
            f"rows {rows[0]}:{rows[1]} lie outside split {split!r} of {name!r} ({n} examples)"
        )


def clear_cache() -> None:
    """Forget the in-memory copies kept by :func:`load` (the disk cache is untouched)."""
    with _LOCK:
        _MEMORY.clear()


def _slice_indices(idx: np.ndarray, split: str) -> np.ndarray:
    """Apply a TFDS-style slice (``[a:b]``, ``[a%:b%]``) to an index array."""
    m = re.search(r"\[(.*)\]$", split)
    if not m:
        return idx
    parts = m.group(1).split(":")
    if len(parts) != 2:
        raise DataError(f"bad split slice {split!r}; expected e.g. 'train[:1000]'")

    def bound(s: str) -> int | None:
        if not s:
            return None
        if s.endswith("%"):
            return round(len(idx) * int(s[:-1]) / 100)
        return int(s)

    return idx[bound(parts[0]) : bound(parts[1])]


@functools.cache
def _tfds_names() -> frozenset[str]:
    import tensorflow_datasets as tfds

    return frozenset(tfds.list_builders(with_community_datasets=False))


def _load_tfds(
    name: str,
    split: str,
    data_dir: str | None,
    rows: tuple[int, int] | None = None,
    options: DataOptions | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A TFDS split read in chunks, each image made uniform as it is read (the set's own
    crop and channels, then --image-size / --center-crop; :mod:`aezoo.data._tfds_sets`)."""
    source, features = _tfds_source(name, split, data_dir)
    n = len(source)
    if n == 0:
        raise DataError(f"split {split!r} of dataset {name!r} is empty")
    if rows is not None:
        _check_rows(rows, n, name, split)
    lo, hi = rows if rows is not None else (0, n)
    shape, apply = _tfds_sets.transform(name, features["image"].shape, options or DataOptions())
    label = _tfds_sets.info(name).label
    images = np.empty((hi - lo, *shape), np.uint8)
    labels = np.full((hi - lo,), -1, np.int32)
    chunk = 4096
    for start in range(lo, hi, chunk):
        stop = min(start + chunk, hi)
        for i, ex in enumerate(_read_range(source, start, stop)):
            images[start - lo + i] = ex["image"] if apply is None else apply(ex["image"])
            if label is not None:
                labels[start - lo + i] = ex[label]
    return images, labels


def _tfds_source(name: str, split: str, data_dir: str | None):
    """``(data_source, features)`` of a prepared TFDS image dataset (one-line errors)."""
    import logging

    import tensorflow_datasets as tfds

    # TFDS logs through absl at WARNING for routine things (e.g. "OpenCV is not installed,
    # defaulting to PIL"); aezoo reports real problems itself, in one line.
    logging.getLogger("absl").setLevel(logging.ERROR)

    base = name.split(":")[0].split("/")[0]
    if base not in _tfds_names():
        raise DataError(
            f"{DATASETS.unknown(name)} (or any TFDS image-classification dataset, "
            "folder:PATH, npz:PATH, npy:PATH)"
        )
    builder = tfds.builder(name, data_dir=data_dir)
    features = builder.info.features
    label = _tfds_sets.info(name).label
    if "image" not in features or (label is not None and label not in features):
        raise DataError(
            f"dataset {name!r} is not an image-classification dataset "
            f"(needs 'image' and 'label' features; has {', '.join(features)})"
        )
    try:
        source = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
    except Exception as e:  # TFDS raises several types here; translate them to one line
        if builder.is_prepared():
            raise DataError(
                f"cannot read split {split!r} of dataset {name!r} from {builder.data_dir}: "
                f"{str(e).splitlines()[0]} (aezoo reads the array_record format)"
            ) from None
        _prepare_or_explain(builder, name, data_dir)
        source = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
    return source, features


def _read_range(source, start: int, stop: int) -> list:
    """Records ``start..stop``: one batched read (3x faster than indexing one by one)."""
    try:
        return source.__getitems__(list(range(start, stop)))
    except TypeError:  # sources without batched reads (e.g. tfds.testing.mock_data)
        return [source[i] for i in range(start, stop)]


def _prepare_or_explain(builder, name: str, data_dir: str | None) -> None:
    import tensorflow_datasets as tfds

    where = builder.data_dir_root if hasattr(builder, "data_dir_root") else data_dir
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        raise DataError(
            f"dataset {name!r} is not prepared in {where}; point TFDS_DATA_DIR (or "
            f"--data-dir) at a directory that holds it, or prepare it: "
            f"{_tfds_sets.prepare_line(name)}"
        ) from None
    try:
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(),
            file_format="array_record",
        )
    except Exception as e:  # network or disk problems: one line, not a deep trace
        raise DataError(f"preparing dataset {name!r} in {where} failed: {e}") from None


def _cache_key(
    name: str, split: str, data_dir: str | None, rows, sizing: tuple = (None, False)
) -> str:
    """The exact request, hashed: split strings that flatten alike (``test[:5]`` and
    ``test[5:]``) never share a cache file; the data directory is part of it."""
    where = None if data_dir is None else str(pathlib.Path(data_dir).resolve())
    size = list(sizing[0]) if sizing[0] is not None else None
    parts = [name, split, where, list(rows) if rows is not None else None]
    if sizing != (None, False):  # a resized read is another file (plain reads keep their key)
        parts += [size, sizing[1]]
    request = json.dumps(parts)
    return hashlib.sha256(request.encode()).hexdigest()[:20]


def _cache_paths(cache_dir, name: str, key: str) -> tuple[pathlib.Path, pathlib.Path]:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{name}-{key}")
    root = pathlib.Path(cache_dir)
    return root / f"{safe}-images.npy", root / f"{safe}-labels.npy"


def _read_disk_cache(cache_dir, name: str, split: str):
    img_path, lbl_path = _cache_paths(cache_dir, name, split)
    if not (img_path.exists() and lbl_path.exists()):
        return None
    try:
        images, labels = np.load(img_path), np.load(lbl_path)
    except (OSError, ValueError):
        return None  # unreadable cache: decode again and overwrite
    if images.dtype != np.uint8 or images.ndim != 4 or labels.shape != images.shape[:1]:
        return None
    return images, labels.astype(np.int32)


def _write_disk_cache(cache_dir, name: str, split: str, arrays) -> None:
    img_path, lbl_path = _cache_paths(cache_dir, name, split)
    img_path.parent.mkdir(parents=True, exist_ok=True)
    for path, array in zip((img_path, lbl_path), arrays, strict=True):
        # Write next to the target and rename: a reader never sees a half-written file.
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npy", delete=False) as f:
            np.save(f, array)
        os.replace(f.name, path)
