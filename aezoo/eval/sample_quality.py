"""Sample-quality metrics on features: the Fréchet distance, improved precision and recall
(Kynkäänniemi et al., 2019), density and coverage (Naeem et al., 2020), and a classifier's
Inception-Score analogue with its class histogram (mode coverage).

Each takes feature arrays ``[N, F]`` (real) and ``[M, F]`` (generated), or class logits, and
returns floats; none knows where the features come from (``aezoo.eval.features`` gives the
domain classifier's). The Fréchet distance is computed in float64 with a symmetric matrix
square root (an eigendecomposition, never a general ``sqrtm`` whose round-off makes the
trace complex); the nearest-neighbour metrics read one pass of the generated-to-real
distance matrix in row chunks, so 10,000 x 10,000 needs 40 MB at a time.
"""

from __future__ import annotations

import numpy as np

from aezoo.errors import ConfigError

CHUNK = 1024  # rows of a distance matrix held at once


def sqrtm_psd(a: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix (float64):
    ``V diag(sqrt(max(w, 0))) V^T`` from ``eigh``; tiny negative eigenvalues (round-off)
    count as zero."""
    a = np.asarray(a, np.float64)
    w, v = np.linalg.eigh((a + a.T) / 2.0)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def _check_features(real: np.ndarray, fake: np.ndarray, least: int) -> None:
    for name, f in (("real", real), ("generated", fake)):
        if f.ndim != 2 or len(f) < least:
            raise ConfigError(
                f"{name} features must be [N >= {least}, F]; got shape {tuple(f.shape)}"
            )
        if not np.all(np.isfinite(f)):
            raise ConfigError(f"{name} features hold NaN or inf")
    if real.shape[1] != fake.shape[1]:
        raise ConfigError(f"feature sizes differ: {real.shape[1]} and {fake.shape[1]}")


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[F]`` and covariance ``[F, F]`` (float64, N - 1 normalization)."""
    f = np.asarray(features, np.float64)
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """``|mu_r - mu_g|^2 + tr(S_r + S_g - 2 (S_r^1/2 S_g S_r^1/2)^1/2)``: the Fréchet (2-
    Wasserstein) distance between Gaussians fitted to the two feature sets."""
    _check_features(real, fake, least=2)
    mu_r, s_r = gaussian_stats(real)
    mu_g, s_g = gaussian_stats(fake)
    root_r = sqrtm_psd(s_r)
    cross = np.trace(sqrtm_psd(root_r @ s_g @ root_r))
    value = np.sum(np.square(mu_r - mu_g)) + np.trace(s_r) + np.trace(s_g) - 2.0 * cross
    return float(max(value, 0.0))


def _sq_dists(a: np.ndarray, b: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances ``[len(a), len(b)]`` (float64 accumulation of the norms)."""
    a_sq = np.sum(np.square(a, dtype=np.float64), axis=1)
    d = a_sq[:, None] + b_sq[None, :] - 2.0 * (a @ b.T).astype(np.float64)
    return np.maximum(d, 0.0)


def knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Squared distance of each row to its k-th nearest other row ``[N]``."""
    f = np.asarray(features, np.float32)
    f_sq = np.sum(np.square(f, dtype=np.float64), axis=1)
    radii = np.empty(len(f))
    for start in range(0, len(f), CHUNK):
        d = _sq_dists(f[start : start + CHUNK], f, f_sq)
        radii[start : start + CHUNK] = np.partition(d, k, axis=1)[:, k]  # index 0: itself
    return radii


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> dict[str, float]:
    """Improved precision and recall (k-NN balls of each set as its manifold) and density
    and coverage (the real set's balls only), from one pass over the distances.

    precision: share of generated rows inside some real row's ball; recall: share of real
    rows inside some generated row's ball; density: the mean number of real balls a
    generated row falls in, divided by k (about 1 when the sets match; above 1 when samples
    crowd where data is dense); coverage: share of real balls that hold a generated row.
    """
    _check_features(real, fake, least=k + 1)
    real, fake = np.asarray(real, np.float32), np.asarray(fake, np.float32)
    r_real, r_fake = knn_radii(real, k), knn_radii(fake, k)
    real_sq = np.sum(np.square(real, dtype=np.float64), axis=1)
    in_real = 0
    count = 0
    covered = np.zeros(len(real), bool)
    recalled = np.zeros(len(real), bool)
    for start in range(0, len(fake), CHUNK):
        d = _sq_dists(fake[start : start + CHUNK], real, real_sq)  # [chunk, N]
        inside = d <= r_real[None, :]
        in_real += int(np.sum(inside.any(axis=1)))
        count += int(np.sum(inside))
        covered |= inside.any(axis=0)
        recalled |= (d <= r_fake[start : start + CHUNK, None]).any(axis=0)
    return {
        "precision": in_real / len(fake),
        "recall": float(np.mean(recalled)),
        "density": count / (k * len(fake)),
        "coverage": float(np.mean(covered)),
    }


def class_statistics(logits: np.ndarray, min_share: float = 0.01) -> dict[str, float]:
    """From a classifier's logits ``[M, C]`` on generated images: the Inception-Score
    analogue ``exp E_x KL(p(y|x) || p(y))`` (in [1, C]; high when each sample is one
    confident class and the classes are balanced), the KL of the predicted-class histogram
    to uniform (nats; 0 = every class equally often) and the number of classes predicted for
    at least ``min_share`` of the samples (mode coverage)."""
    z = np.asarray(logits, np.float64)
    if z.ndim != 2 or len(z) == 0:
        raise ConfigError(f"logits must be [M >= 1, C]; got shape {tuple(z.shape)}")
    log_p = z - z.max(axis=1, keepdims=True)
    log_p -= np.log(np.sum(np.exp(log_p), axis=1, keepdims=True))
    p = np.exp(log_p)
    marginal = p.mean(axis=0)
    kl = np.sum(p * (log_p - np.log(np.maximum(marginal, 1e-300))[None]), axis=1)
    classes = z.shape[1]
    hist = np.bincount(np.argmax(z, axis=1), minlength=classes) / len(z)
    nonzero = hist > 0
    return {
        "class_score": float(np.exp(np.mean(kl))),
        "class_kl_uniform": float(np.sum(hist[nonzero] * np.log(hist[nonzero] * classes))),
        "modes": int(np.sum(hist >= min_share)),
    }


def mean_std(draws: list[dict[str, float]]) -> dict[str, float]:
    """``{key: mean, key_std: std}`` over repeated draws (sample std; 0 for one draw)."""
    out: dict[str, float] = {}
    for key in draws[0]:
        values = np.asarray([d[key] for d in draws], np.float64)
        out[key] = float(values.mean())
        out[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return out
