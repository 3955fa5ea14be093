"""``aezoo data NAME_OR_SPEC``: what a model will see, before training on it."""

from __future__ import annotations

import os
import pathlib
from typing import Any

import numpy as np

from aezoo import viz
from aezoo.data._preprocess import is_vectors
from aezoo.data._sources import describe_source, load
from aezoo.data._spec import ground_truth, with_factors
from aezoo.data._user import DataOptions, is_user_source


def summarize(
    name: str,
    *,
    options: DataOptions | None = None,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Per split: examples, shape, dtype, value range and label counts (``-1`` =
    unlabelled); for a user source also its description (classes, path, standardization)."""
    out: dict[str, Any] = {"dataset": name}
    if is_user_source(name):
        out["source"] = describe_source(name, options, cache_dir)
    for split in ("train", "test"):
        x, y = load(name, split, data_dir=data_dir, cache_dir=cache_dir, options=options)
        values, counts = np.unique(y, return_counts=True)
        out[split] = {
            "examples": len(x),
            "shape": list(x.shape[1:]),
            "dtype": str(x.dtype),
            "min": float(x.min()),
            "max": float(x.max()),
            "labels": {int(v): int(c) for v, c in zip(values, counts, strict=True)},
        }
    return out


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as the lines ``aezoo data`` prints."""
    lines = [f"dataset {summary['dataset']}"]
    source = summary.get("source")
    if source:
        lines.append(f"  source: {source['source']} {source['path']}")
        if source.get("classes"):
            names = ", ".join(f"{i}={c}" for i, c in enumerate(source["classes"]))
            lines.append(f"  classes (label=name): {names}")
        if source.get("skipped"):
            lines.append(f"  skipped unreadable files: {source['skipped']}")
        if "standardization" in source:
            lines.append("  tabular: standardized with the train split's mean and std")
    for split in ("train", "test"):
        s = summary[split]
        labels = s["labels"]
        shown = ", ".join(f"{k}: {v}" for k, v in list(labels.items())[:12])
        more = f", ... ({len(labels)} labels)" if len(labels) > 12 else ""
        lines.append(
            f"  {split}: {s['examples']} examples of shape {tuple(s['shape'])} {s['dtype']}, "
            f"values {s['min']:g}..{s['max']:g}; labels {{{shown}{more}}}"
        )
    return "\n".join(lines)


def write_preview(
    path: str | os.PathLike,
    name: str,
    *,
    options: DataOptions | None = None,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    n: int = 50,
) -> pathlib.Path:
    """A grid of ``n`` training images drawn at random (fixed seed) as the model sees them
    (in [0, 1]), titled with the labels of the first row; tabular vectors as a heat map
    (examples x features, standardized values); a dataset with ground-truth factors
    (dsprites) as one row per factor, that factor swept over its values."""
    if name in with_factors():
        return _factor_preview(path, name)
    x, y = load(name, "train", data_dir=data_dir, cache_dir=cache_dir, options=options)
    idx = np.sort(np.random.default_rng(0).choice(len(x), min(n, len(x)), replace=False))
    x, y = np.asarray(x)[idx], np.asarray(y)[idx]
    if is_vectors(x.shape):  # tabular: a heat map of the standardized values
        return viz.save_matrix(
            path,
            x[:, 0, 0, :],
            title=f"{name}: {len(x)} random training examples",
            xlabel="feature",
            ylabel="example (label)",
            row_labels=[str(int(v)) for v in y],
        )
    images = x / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    labels = " ".join(str(int(v)) for v in y[:10])
    return viz.save_image_grid(
        path, images, title=f"{name}: {len(images)} random training examples (top row: {labels})"
    )


def _factor_preview(path, name: str) -> pathlib.Path:
    """One row per factor: a fixed base image with that factor at up to 10 of its values."""
    truth = ground_truth(name)
    base = np.array([size // 3 for size in truth.factor_sizes])
    rows, labels = [], []
    for j, (factor, size) in enumerate(zip(truth.factor_names, truth.factor_sizes, strict=True)):
        values = np.unique(np.linspace(0, size - 1, min(size, 10)).round().astype(int))
        factors = np.repeat(base[None], len(values), axis=0)
        factors[:, j] = values
        rows.append(truth.observe(factors) / 255.0)
        labels.append(f"{factor} ({size} values)")
    return viz.save_image_rows(
        path, rows, labels, title=f"{name}: each factor swept from a fixed image"
    )


__all__ = ["format_summary", "summarize", "write_preview"]
