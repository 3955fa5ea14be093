"""Data fingerprints: what a run was trained and tested on, so that a reader can tell when
the data behind a name has changed (an image added to a folder, an npz replaced).

``config.json`` records, per split of a user source given whole, the rows, the array shape
and dtype and a BLAKE2b hash of the images' and labels' bytes as training saw them;
:func:`check` recomputes it for a split read again and says in one line what changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from aezoo.errors import DataError


def fingerprint(images: Any, labels: Any) -> dict[str, Any]:
    """``{"rows", "shape", "dtype", "hash"}`` of a split (images ``[N, ...]``, labels or
    None)."""
    x = np.ascontiguousarray(np.asarray(images))
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((x.shape, x.dtype.str)).encode())
    h.update(memoryview(x).cast("B"))
    if labels is not None:
        y = np.ascontiguousarray(np.asarray(labels, np.int64))
        h.update(memoryview(y).cast("B"))
    return {
        "rows": int(x.shape[0]),
        "shape": list(x.shape[1:]),
        "dtype": x.dtype.str,
        "hash": h.hexdigest(),
    }


def changed(recorded: Mapping[str, Any], now: Mapping[str, Any]) -> str | None:
    """What differs between two fingerprints of a split, in words (None: nothing)."""
    if recorded["hash"] == now["hash"]:
        return None
    if recorded["rows"] != now["rows"]:
        return f"{recorded['rows']} rows when trained, {now['rows']} now"
    if list(recorded["shape"]) != list(now["shape"]) or recorded["dtype"] != now["dtype"]:
        return (
            f"examples of shape {tuple(recorded['shape'])} {recorded['dtype']} when trained, "
            f"{tuple(now['shape'])} {now['dtype']} now"
        )
    return f"the same {now['rows']} rows and shape, other content"


def check(
    recorded: Mapping[str, Any] | None,
    dataset: str,
    split: str,
    images: Any,
    labels: Any,
    *,
    allow: bool = False,
) -> str | None:
    """One-line :class:`DataError` when ``split`` of ``dataset`` read now differs from the
    fingerprint the run recorded; with ``allow``, the difference in words (None: the same,
    or nothing recorded: runs from before fingerprints)."""
    if not recorded or split not in recorded:
        return None
    why = changed(recorded[split], fingerprint(images, labels))
    if why is not None and not allow:
        raise DataError(
            f"the {split} split of {dataset!r} changed since the run was trained ({why}); "
            "its scores would not be the run's: retrain, or pass --allow-changed-data "
            "(allow_changed_data=True) to score it anyway"
        )
    return why


def load_checked(
    dataset: str,
    split: str,
    recorded: Mapping[str, Any] | None,
    *,
    allow: bool = False,
    **load: Any,
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """``split`` of ``dataset`` (``load``: the keyword arguments of :func:`aezoo.data.load`),
    checked against the fingerprint a run ``recorded`` for its whole split (a slice like
    ``test[:100]`` checks ``test``): ``(images, int32 labels, what changed or None)``; a
    one-line DataError for changed data unless ``allow``."""
    from aezoo.data._sources import load as load_split

    x, y = load_split(dataset, split, **load)
    x, y = np.asarray(x), np.asarray(y, np.int32)
    whole = split.split("[")[0].strip()
    why = None
    if recorded and whole in recorded:
        full = (x, y) if whole == split.strip() else load_split(dataset, whole, **load)
        why = check(recorded, dataset, whole, *full, allow=allow)
    return x, y, why


__all__ = ["changed", "check", "fingerprint", "load_checked"]
