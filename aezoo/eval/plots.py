"""Figures: image grids of reconstructions and prior samples (matplotlib, PNG)."""

from __future__ import annotations

import os
import pathlib

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import numpy as np


def _as_display(images: np.ndarray) -> np.ndarray:
    images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
    return images[..., 0] if images.shape[-1] == 1 else images


def save_image_rows(
    path: str | os.PathLike,
    rows: list[np.ndarray],
    row_labels: list[str],
    *,
    title: str = "",
) -> pathlib.Path:
    """Write rows of images (each ``[n, H, W, C]`` in [0, 1]) as one labelled PNG grid."""
    n = max(len(r) for r in rows)
    fig, axes = plt.subplots(
        len(rows), n, figsize=(0.9 * n + 1.2, 0.95 * len(rows) + 0.5), squeeze=False
    )
    for r, (images, label) in enumerate(zip(rows, row_labels, strict=True)):
        images = _as_display(images)
        for c in range(n):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(images):
                ax.imshow(images[c], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = pathlib.Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def save_image_grid(
    path: str | os.PathLike, images: np.ndarray, *, ncols: int = 10, title: str = ""
) -> pathlib.Path:
    """Write ``[n, H, W, C]`` images in [0, 1] as a grid of ``ncols`` columns."""
    images = np.asarray(images)
    rows = [images[i : i + ncols] for i in range(0, len(images), ncols)]
    return save_image_rows(path, rows, [""] * len(rows), title=title)
