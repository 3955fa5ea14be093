"""Figure primitives (matplotlib, PNG): image rows and grids, latent scatter plots, manifolds.

Below models, training and evaluation, which all draw with these; nothing here knows a model.
"""

from __future__ import annotations

import os
import pathlib

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import numpy as np

from aezoo._files import atomic_save


def _save(fig, path: str | os.PathLike, rect=(0.0, 0.0, 1.0, 1.0)) -> pathlib.Path:
    """Lay out (within ``rect`` of the figure), write as PNG and close ``fig``."""
    fig.tight_layout(rect=rect)
    path = pathlib.Path(path)
    try:  # through a temporary file: never torn, never written through a symlink
        atomic_save(path, lambda f: fig.savefig(f, format="png", dpi=100, metadata=_METADATA))
    finally:
        plt.close(fig)
    return path


SOFTWARE = "aezoo figure (matplotlib)"  # the PNG text chunk that marks a figure aezoo drew
_METADATA = {"Software": SOFTWARE}


def drawn_by_aezoo(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a PNG figure aezoo wrote (which a later command may replace)."""
    from PIL import Image

    if pathlib.Path(path).is_symlink():  # a link is never aezoo's own output
        return False
    try:
        with Image.open(path) as im:
            return im.format == "PNG" and im.info.get("Software") == SOFTWARE
    except (OSError, ValueError):
        return False


def _as_display(images: np.ndarray) -> np.ndarray:
    images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
    return images[..., 0] if images.shape[-1] == 1 else images


GAP = 2  # background pixels between the images of a mosaic


def mosaic(rows: list[np.ndarray], gap: int = GAP) -> np.ndarray:
    """Rows of images (each ``[n, H, W, C]`` in [0, 1]) as one canvas ``[R*(H+gap)-gap,
    N*(W+gap)-gap]`` (``[..., 3]`` for colour), white between the images and after a short
    row."""
    shown = [_as_display(r) for r in rows]
    h, w = shown[0].shape[1:3]
    n = max(len(r) for r in shown)
    colour = shown[0].ndim == 4
    canvas = np.ones(
        (len(rows) * (h + gap) - gap, n * (w + gap) - gap, *((3,) if colour else ())),
        np.float32,
    )
    for r, images in enumerate(shown):
        for c, image in enumerate(images):
            canvas[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = image
    return canvas


def save_image_rows(
    path: str | os.PathLike,
    rows: list[np.ndarray],
    row_labels: list[str],
    *,
    title: str = "",
) -> pathlib.Path:
    """Write rows of images (each ``[n, H, W, C]`` in [0, 1]) as one labelled PNG grid: one
    mosaic drawn once (a grid of axes, one per image, took 20x longer to draw)."""
    if len(rows) != len(row_labels):
        raise ValueError(f"{len(rows)} rows but {len(row_labels)} row labels")
    n = max(len(r) for r in rows)
    fig, ax = plt.subplots(figsize=(0.9 * n + 1.2, 0.95 * len(rows) + 0.5))
    canvas = mosaic(rows)
    ax.imshow(canvas, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    h = np.asarray(rows[0]).shape[1]
    ax.set_xticks([])
    ax.set_yticks([r * (h + GAP) + (h - 1) / 2 for r in range(len(rows))], row_labels, fontsize=9)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def save_matrix(
    path: str | os.PathLike,
    matrix: np.ndarray,
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    row_labels: list[str] | None = None,
) -> pathlib.Path:
    """Write ``matrix [rows, cols]`` as a heat map with a colour bar, centred on 0 (e.g.
    standardized tabular examples: one row per example, one column per feature)."""
    matrix = np.asarray(matrix, np.float32)
    bound = float(np.max(np.abs(matrix))) or 1.0
    rows, cols = matrix.shape
    fig, ax = plt.subplots(figsize=(min(2.0 + 0.25 * cols, 14.0), min(1.5 + 0.18 * rows, 12.0)))
    im = ax.imshow(
        matrix, cmap="RdBu_r", vmin=-bound, vmax=bound, aspect="auto", interpolation="nearest"
    )
    fig.colorbar(im, ax=ax, fraction=0.04)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if row_labels is not None:
        ax.set_yticks(range(rows), row_labels, fontsize=7)
    if title:
        ax.set_title(title, fontsize=10)
    return _save(fig, path)


def save_image_grid(
    path: str | os.PathLike, images: np.ndarray, *, ncols: int = 10, title: str = ""
) -> pathlib.Path:
    """Write ``[n, H, W, C]`` images in [0, 1] as a grid of ``ncols`` columns."""
    images = np.asarray(images)
    rows = [images[i : i + ncols] for i in range(0, len(images), ncols)]
    return save_image_rows(path, rows, [""] * len(rows), title=title)


def filter_images(filters: np.ndarray) -> np.ndarray:
    """Filters ``[n, H, W, C]`` (any sign) as images in [0, 1]: each scaled by its own
    largest magnitude, zero at mid-grey."""
    filters = np.asarray(filters, np.float32)
    peak = np.max(np.abs(filters), axis=(1, 2, 3), keepdims=True)
    return 0.5 + 0.5 * filters / np.maximum(peak, 1e-12)


def save_filters(path: str | os.PathLike, filters: np.ndarray, *, title: str = "") -> pathlib.Path:
    """Write first-layer filters ``[n, H, W, C]`` as a grid (mid-grey = 0; see
    :func:`filter_images`), about as many columns as rows."""
    images = filter_images(filters)
    return save_image_grid(path, images, ncols=int(np.ceil(np.sqrt(len(images)))), title=title)


CURVE_SKIP = ("grad_norm", "param_norm")  # optimizer diagnostics, not the model's terms


def curve_terms(history: list[dict]) -> list[str]:
    """The terms a run's history tracks for both splits (``loss`` first), from the
    ``train/NAME`` and ``test/NAME`` (or ``val/NAME``) keys of its epoch records."""
    keys = set().union(*(r.keys() for r in history)) if history else set()
    names = sorted(
        k.split("/", 1)[1]
        for k in keys
        if k.startswith("train/") and k.split("/", 1)[1] not in CURVE_SKIP
    )
    return sorted(names, key=lambda name: name != "loss")


def save_curves(
    path: str | os.PathLike, history: list[dict], *, title: str = "", most: int = 6
) -> pathlib.Path:
    """One panel per term of a run's epoch records (``loss`` first, at most ``most``), the
    training split's values and the held-out split's (test or val) per epoch."""
    terms = curve_terms(history)[:most]
    held = "val" if any(k.startswith("val/") for r in history for k in r) else "test"
    cols = min(3, max(1, len(terms)))
    rows = -(-len(terms) // cols) if terms else 1
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False)
    for ax in axes.flat[len(terms) :]:
        ax.axis("off")
    for ax, term in zip(axes.flat, terms, strict=False):
        for split, style in (("train", "-"), (held, "--")):
            points = [(r["epoch"], r[f"{split}/{term}"]) for r in history if f"{split}/{term}" in r]
            if points:
                ax.plot(*zip(*points, strict=True), style, label=split)
        ax.set_title(term, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path, rect=(0.0, 0.0, 1.0, 0.95 if title else 1.0))


def save_latent_scatter(
    path: str | os.PathLike,
    codes: np.ndarray,
    labels: np.ndarray,
    *,
    background: np.ndarray | None = None,
    background_label: str = "prior samples",
    title: str = "",
    axis_names: tuple[str, str] = ("z[0]", "z[1]"),
) -> pathlib.Path:
    """Scatter 2-D ``codes [N, 2]`` coloured by integer ``labels``, optionally over gray
    ``background [M, 2]`` points (e.g. prior samples)."""
    codes = np.asarray(codes)
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    if background is not None:
        bg = np.asarray(background)
        ax.scatter(bg[:, 0], bg[:, 1], s=2, c="0.8", label=background_label, rasterized=True)
    points = ax.scatter(
        codes[:, 0],
        codes[:, 1],
        s=4,
        c=np.asarray(labels),
        cmap="tab10",
        vmin=-0.5,
        vmax=9.5,
        rasterized=True,
    )
    fig.colorbar(points, ax=ax, ticks=range(10), label="label")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    if background is not None:
        ax.legend(loc="upper right", markerscale=4, fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return _save(fig, path)


def save_manifold(
    path: str | os.PathLike, images: np.ndarray, grid: np.ndarray, *, title: str = ""
) -> pathlib.Path:
    """Decoder outputs ``[n*n, H, W, C]`` laid out on their ``[n]`` latent grid values."""
    n = len(grid)
    images = _as_display(images)
    h, w = images.shape[1:3]
    canvas = np.ones((n * h, n * w, *images.shape[3:]), np.float32)
    for i in range(n):  # rows: z[1] from high (top) to low
        for j in range(n):
            canvas[i * h : (i + 1) * h, j * w : (j + 1) * w] = images[(n - 1 - i) * n + j]
    fig, ax = plt.subplots(figsize=(7 * min(1.0, w / h) + 0.6, 7 * min(1.0, h / w) + 0.4))
    ax.imshow(
        canvas, cmap="gray", vmin=0, vmax=1, extent=(0, n * w, 0, n * h), interpolation="nearest"
    )
    labels = [f"{v:.2g}" for v in grid]
    step = max(1, n // 6)
    ax.set_xticks(((np.arange(n) + 0.5) * w)[::step], labels[::step])
    ax.set_yticks(((np.arange(n) + 0.5) * h)[::step], labels[::step])
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    if title:
        ax.set_title(title, fontsize=10)
    return _save(fig, path)


def save_scatter_grid(
    path: str | os.PathLike,
    panels: list[tuple[str, np.ndarray]],
    labels: np.ndarray,
    *,
    ncols: int = 4,
    title: str = "",
) -> pathlib.Path:
    """Scatter several 2-D embeddings ``(caption, points [N, 2])`` of the same points side
    by side, coloured by the integer ``labels``."""
    nrows = -(-len(panels) // ncols)
    ncols = min(ncols, len(panels))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 3.3 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax, (caption, points) in zip(axes.flat, panels, strict=False):
        points = np.asarray(points)
        ax.scatter(
            points[:, 0],
            points[:, 1],
            s=2,
            c=np.asarray(labels),
            cmap="tab10",
            vmin=-0.5,
            vmax=9.5,
            rasterized=True,
        )
        ax.set_title(caption, fontsize=9)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    cmap = plt.get_cmap("tab10")
    handles = [
        plt.Line2D([], [], ls="", marker="o", color=cmap(int(v) % 10), label=str(v))
        for v in np.unique(labels)
    ]
    fig.legend(handles=handles, loc="center right", title="label", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path, rect=(0.0, 0.0, 0.94, 1.0))
