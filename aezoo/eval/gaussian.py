"""The ``gaussian`` evaluator: the strongest classical density on the run's own pixels.

A full-covariance Gaussian fitted to the training split (PCA whitening's density: the
best model of the pixels' first and second moments) is scored on the evaluated split, on
the 0..255 scale with uniform dequantization (a fixed draw): ``E_u[-log p(x + u)]`` is an
upper bound on the discrete negative log-likelihood of the 8-bit pixels, in nats per image
and in bits/dim, so it stands beside a discretized-logistic decoder's IS NLL as the number
a learned model must beat. 8-bit data only (no binarization; not tabular vectors).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from aezoo.eval._evaluator import Context, Evaluator
from aezoo.eval.run import load_split
from aezoo.samplers import gmm

DEQUANTIZE_SEED = 0
RIDGE = 1e-6  # added to the covariance's diagonal (relative to its mean variance)


def dequantized(pixels: np.ndarray, seed: int) -> np.ndarray:
    """``[N, ...]`` 8-bit pixels as ``[N, D]`` float64 on 0..256 with ``U(0, 1)`` added."""
    x = np.asarray(pixels, np.float64).reshape(len(pixels), -1)
    return x + np.random.default_rng(seed).uniform(size=x.shape)


def gaussian_nll(train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Per-image negative log-density (nats) of ``test`` under the full-covariance Gaussian
    fitted (maximum likelihood) to ``train``; both ``[N, D]`` float. The density is the GMM
    sampler's with one component (:func:`aezoo.samplers.gmm.log_prob`), on centred data."""
    mean = train.mean(axis=0)
    centred = train - mean
    cov = centred.T @ centred / len(train)
    cov[np.diag_indices_from(cov)] += RIDGE * float(np.mean(np.diag(cov)))
    one = {
        "chol": np.linalg.cholesky(cov)[None],
        "means": np.zeros((1, train.shape[1])),
        "log_weights": np.zeros(1),
    }
    return -np.asarray(gmm.log_prob(one, test - mean), np.float64)


def _check(context: Context) -> str | None:
    binarize = context.m.record.binarize
    if binarize != "none":
        return f"evaluator gaussian scores 8-bit pixels; the run binarizes ({binarize})"
    if context.x.dtype != np.uint8:
        return f"evaluator gaussian scores 8-bit pixels; the run's data are {context.x.dtype}"
    return None


def _run(context: Context) -> dict[str, Any]:
    train, _ = load_split(context.m, "train", context.source)
    fitted = dequantized(train, DEQUANTIZE_SEED)
    scored = dequantized(context.x, DEQUANTIZE_SEED + 1)
    nll = gaussian_nll(fitted, scored)
    dims = fitted.shape[1]
    result = {
        f"{context.prefix}gaussian_nll": float(np.mean(nll)),
        f"{context.prefix}gaussian_bits_per_dim": float(np.mean(nll)) / (dims * math.log(2.0)),
        "gaussian/train_examples": len(fitted),
    }
    context.say(
        f"gaussian: full-covariance Gaussian fitted to {len(fitted)} training images: "
        f"{result[f'{context.prefix}gaussian_bits_per_dim']:.3f} bits/dim on {context.split}"
    )
    return result


EVALUATOR = Evaluator(
    "gaussian",
    "a full-covariance Gaussian fitted to the training pixels (PCA whitening's density): "
    "its bits/dim on 8-bit pixels, the classical number to beat",
    _run,
    images=True,
    default=False,
    check=_check,
)

__all__ = ["EVALUATOR", "dequantized", "gaussian_nll"]
