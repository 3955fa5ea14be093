"""Few labels: which training rows keep theirs, and the semi-supervised training split.

Semi-supervised learning (``aezoo train m2 --labels 100``) sees every training image but
only ``n`` labels, the same number per class, drawn with a seed; the other rows carry -1
(the batch contract's "unlabelled"). The labelled rows are repeated so that they make up a
set share of the epoch, hence of each batch on average (100 of 60,000 would otherwise
appear in one batch in six).
"""

from __future__ import annotations

import numpy as np

from aezoo.errors import DataError


def draw_labels(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of ``n`` rows, ``n / classes`` of each class, drawn with ``seed``
    (the same indices for the same labels, ``n`` and seed)."""
    y = np.asarray(y)
    classes = np.unique(y[y >= 0])
    if len(classes) == 0:
        raise DataError("the training split has no labels to draw from")
    if n % len(classes):
        raise DataError(f"labels must be a multiple of the {len(classes)} classes; got {n}")
    per = n // len(classes)
    r = np.random.default_rng(seed)
    picks = []
    for c in classes:
        rows = np.flatnonzero(y == c)
        if len(rows) < per:
            raise DataError(f"class {c} has {len(rows)} training images; {per} asked for")
        picks.append(r.choice(rows, per, replace=False))
    return np.sort(np.concatenate(picks))


def repeats_for_share(num_rows: int, num_labelled: int, share: float) -> int:
    """How many times each labelled row appears so that labelled rows are about ``share``
    of the epoch (at least once)."""
    wanted = share * (num_rows - num_labelled) / (1.0 - share)
    return max(1, round(wanted / num_labelled))


def few_labels(
    images: np.ndarray, labels: np.ndarray, n: int, seed: int, share: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The semi-supervised training split: every image, the labels of ``n`` drawn rows
    (:func:`draw_labels`; none for ``n = 0``) and -1 for the rest, the labelled rows
    repeated (appended) so that they are about ``share`` of the rows.
    Returns ``(images, labels, drawn indices)``."""
    labels = np.asarray(labels)
    if n == 0:  # unsupervised: every label hidden
        return images, np.full(len(labels), -1, np.int32), np.zeros(0, np.int64)
    idx = draw_labels(labels, n, seed)
    hidden = np.full(len(labels), -1, np.int32)
    hidden[idx] = labels[idx]
    extra = np.tile(idx, repeats_for_share(len(labels), n, share) - 1)
    return (
        np.concatenate([images, images[extra]]),
        np.concatenate([hidden, hidden[extra]]),
        idx,
    )
