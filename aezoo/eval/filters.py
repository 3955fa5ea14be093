"""The ``filters`` evaluator: what the first layer of an MLP encoder looks for.

Each code (or hidden) unit of an MLP encoder's first layer is a linear filter on the pixels:
a column of its kernel, reshaped to the image. On natural-image patches a sparse autoencoder
learns localized, oriented edge detectors (Olshausen & Field 1996; Ng's sparse-autoencoder
notes); on digits, pen strokes. ``aezoo eval RUN --evaluators filters`` draws them
(``filters.png``) and measures them beside i.i.d. Gaussian filters of the same shape: how
oriented each filter's power spectrum is (:func:`orientation`: 1 for an edge or a grating,
about 0.16 for random 8x8 filters) and how far its energy spreads from its centre
(:func:`spread`: smaller is more localized).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from aezoo import viz
from aezoo._files import record_output
from aezoo.eval._evaluator import Context, Evaluator
from aezoo.rundir.run import LoadedModel

SHOWN = 100  # filters drawn at most
RANDOM_SEED = 0


def first_layer(m: LoadedModel) -> np.ndarray | None:
    """The first-layer filters ``[n, H, W, C]`` of the run's MLP encoder (None: the
    encoder is not an MLP on the pixels). A conditional encoder's label rows are left out."""
    layer = m.params.get("encoder", {}).get("mlp", {}).get("dense_0")
    if m.config.arch != "mlp" or layer is None:
        return None
    kernel = np.asarray(layer["kernel"], np.float32)
    shape = tuple(m.config.image_shape)
    pixels = math.prod(shape)
    if kernel.ndim != 2 or kernel.shape[0] < pixels:
        return None
    return kernel[:pixels].T.reshape(-1, *shape)


def orientation(filters: np.ndarray) -> float:
    """Orientation selectivity of ``[n, H, W, C]`` filters, averaged: the length of the
    mean of ``exp(2i theta)`` over each filter's power spectrum (channels summed, the
    constant term left out), ``theta`` the direction of the spatial frequency. 1: all of a
    filter's power at one orientation (an edge, a bar, a grating); near 0: spread over every
    orientation (i.i.d. Gaussian 8x8 filters give about 0.16)."""
    f = np.asarray(filters, np.float64)
    _, h, w, _ = f.shape
    power = np.sum(np.abs(np.fft.fft2(f, axes=(1, 2))) ** 2, axis=-1)
    ky, kx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    ac = ~((ky == 0) & (kx == 0))
    phase = np.exp(2j * np.arctan2(ky, kx)) * ac
    total = np.maximum(np.sum(power * ac, axis=(1, 2)), 1e-30)
    return float(np.mean(np.abs(np.sum(power * phase, axis=(1, 2))) / total))


def spread(filters: np.ndarray) -> float:
    """Spatial spread of ``[n, H, W, C]`` filters, averaged: the root-mean-square distance
    of each filter's energy (squared weights, channels summed) from its centroid, over the
    side ``sqrt(H W)``. Smaller is more localized; i.i.d. Gaussian filters spread over the
    whole patch (about 0.39 for 8x8)."""
    energy = np.sum(np.square(np.asarray(filters, np.float64)), axis=-1)
    energy = energy / np.maximum(energy.sum(axis=(1, 2), keepdims=True), 1e-30)
    _, h, w = energy.shape
    yy, xx = np.mgrid[:h, :w]
    cy = np.sum(energy * yy, axis=(1, 2))[:, None, None]
    cx = np.sum(energy * xx, axis=(1, 2))[:, None, None]
    second = np.sum(energy * (np.square(yy - cy) + np.square(xx - cx)), axis=(1, 2))
    return float(np.mean(np.sqrt(second)) / math.sqrt(h * w))


def random_filters(shape: tuple[int, ...], seed: int = RANDOM_SEED) -> np.ndarray:
    """I.i.d. Gaussian filters of ``shape`` (fixed seed): the reference for the measures."""
    return np.random.default_rng(seed).standard_normal(shape)


def _check(context: Context) -> str | None:
    if first_layer(context.m) is None:
        return (
            "evaluator filters needs an MLP encoder whose first layer sees the pixels "
            f"(--arch mlp); the run's is {context.m.config.arch}"
        )
    return None


def _run(context: Context) -> dict[str, Any]:
    filters = first_layer(context.m)
    assert filters is not None  # _check refused otherwise
    shown = min(SHOWN, len(filters))
    viz.save_filters(
        context.workdir / "filters.png",
        filters[:shown],
        title=f"{context.m.spec.name}: first-layer filters ({shown} of {len(filters)})",
    )
    record_output(context.workdir, "filters.png")
    reference = random_filters(filters.shape)
    result = {
        "filters/count": len(filters),
        "filters/orientation": orientation(filters),
        "filters/orientation_random": orientation(reference),
        "filters/spread": spread(filters),
        "filters/spread_random": spread(reference),
    }
    context.say(
        f"filters: {len(filters)}; orientation selectivity {result['filters/orientation']:.3f} "
        f"(random filters {result['filters/orientation_random']:.3f}), spatial spread "
        f"{result['filters/spread']:.3f} (random {result['filters/spread_random']:.3f}); "
        "wrote filters.png"
    )
    return result


EVALUATOR = Evaluator(
    "filters",
    "an MLP encoder's first-layer filters drawn (filters.png), their orientation "
    "selectivity and spatial spread beside random filters'",
    _run,
    images=True,
    default=False,
    check=_check,
)

__all__ = ["EVALUATOR", "first_layer", "orientation", "random_filters", "spread"]
