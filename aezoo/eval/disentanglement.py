"""Disentanglement metrics with the definitions and defaults of disentanglement_lib
(Locatello et al., 2019): BetaVAE score, FactorVAE score, MIG, SAP, DCI, modularity and
explicitness.

Each metric takes a representation function (images -> codes ``[N, D]``; for the VAE family
the posterior mean), a :class:`~aezoo.data.GroundTruth` (factor sizes and images by factors)
and a ``numpy.random.Generator``; it draws its own samples, so two calls with the same seed
give the same number. The ``*_from`` functions compute a metric from codes and factors
already in hand (what the known-answer tests check).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import joblib
import numpy as np
import scipy.stats
from sklearn import ensemble, linear_model, metrics, preprocessing, svm

from aezoo.data import GroundTruth

Represent = Callable[[np.ndarray], np.ndarray]
# A code whose posterior means vary less than this (standard deviation) has collapsed.
PRUNE_STD = 0.05
METRICS = ("beta_vae", "factor_vae", "mig", "sap", "dci", "modularity")
_CHUNK = 4096  # images encoded per call


def encode_factors(represent: Represent, truth: GroundTruth, factors: np.ndarray) -> np.ndarray:
    """Codes ``[N, D]`` (float64) of the images with factor indices ``factors`` ``[N, K]``,
    drawn and encoded in chunks."""
    out = [
        np.asarray(represent(truth.observe(factors[i : i + _CHUNK])), np.float64)
        for i in range(0, len(factors), _CHUNK)
    ]
    return np.concatenate(out, axis=0)


def sample_codes(
    represent: Represent, truth: GroundTruth, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images with uniformly drawn factors: ``(codes [n, D], factors [n, K])``."""
    factors = truth.sample_factors(n, rng)
    return encode_factors(represent, truth, factors), factors


# ----------------------------------------------------------------- information-based (MIG, ...)


def discretize(codes: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Each code dimension binned into ``num_bins`` equal-width bins over its range: int
    ``[N, D]`` (disentanglement_lib's histogram discretizer)."""
    out = np.empty(codes.shape, np.int64)
    for d in range(codes.shape[1]):
        edges = np.histogram(codes[:, d], num_bins)[1]
        out[:, d] = np.digitize(codes[:, d], edges[:-1])
    return out


def mutual_info_matrix(discrete_codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """``[D, K]`` mutual information (nats) between each binned code and each factor."""
    d, k = discrete_codes.shape[1], factors.shape[1]
    return np.array(
        [
            [metrics.mutual_info_score(factors[:, j], discrete_codes[:, i]) for j in range(k)]
            for i in range(d)
        ]
    ).reshape(d, k)


def factor_entropy(factors: np.ndarray) -> np.ndarray:
    """``[K]`` entropy (nats) of each factor's empirical distribution."""
    return np.array([metrics.mutual_info_score(f, f) for f in factors.T])


def mig_from(codes: np.ndarray, factors: np.ndarray, *, num_bins: int = 20) -> float:
    """Mutual information gap (Chen et al. 2018): per factor, the gap between the two codes
    most informative about it, over the factor's entropy; mean over factors."""
    mi = np.sort(mutual_info_matrix(discretize(codes, num_bins), factors), axis=0)[::-1]
    if mi.shape[0] < 2:
        return float(np.mean(mi[0] / factor_entropy(factors)))
    return float(np.mean((mi[0] - mi[1]) / factor_entropy(factors)))


def mig(
    represent: Represent,
    truth: GroundTruth,
    rng: np.random.Generator,
    *,
    num_train: int = 10_000,
    num_bins: int = 20,
) -> dict[str, float]:
    """MIG on ``num_train`` random images (disentanglement_lib: 10,000, 20 bins)."""
    codes, factors = sample_codes(represent, truth, num_train, rng)
    return {"mig": mig_from(codes, factors, num_bins=num_bins)}


def modularity_from(mi: np.ndarray) -> float:
    """Modularity (Ridgeway & Zemel 2018) of a ``[D, K]`` mutual information matrix: 1 when
    each code carries information about one factor only; codes with none count 0."""
    squared = np.square(mi)
    top = squared.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = (squared.sum(axis=1) - top) / (top * (mi.shape[1] - 1.0))
    score = np.where(top == 0.0, 0.0, 1.0 - delta)
    return float(np.mean(score))


def explicitness_from(train: tuple, test: tuple) -> tuple[float, float]:
    """Explicitness: per factor, the macro one-vs-rest ROC AUC of a logistic regression on the
    standardized codes; mean over factors, on the training and the test sample."""
    (c_train, f_train), (c_test, f_test) = train, test
    scaler = preprocessing.StandardScaler().fit(c_train)
    x_train, x_test = scaler.transform(c_train), scaler.transform(c_test)
    aucs = []
    for j in range(f_train.shape[1]):
        clf = linear_model.LogisticRegression(max_iter=1000).fit(x_train, f_train[:, j])
        aucs.append([_auc(clf, x, f[:, j]) for x, f in ((x_train, f_train), (x_test, f_test))])
    return tuple(float(v) for v in np.mean(aucs, axis=0))


def _auc(clf, x: np.ndarray, y: np.ndarray) -> float:
    proba = clf.predict_proba(x)
    if len(clf.classes_) == 2:
        return metrics.roc_auc_score(y == clf.classes_[1], proba[:, 1])
    onehot = preprocessing.label_binarize(y, classes=clf.classes_)
    present = onehot.any(axis=0) & ~onehot.all(axis=0)  # AUC needs both kinds of rows
    return metrics.roc_auc_score(onehot[:, present], proba[:, present])


def modularity(
    represent: Represent,
    truth: GroundTruth,
    rng: np.random.Generator,
    *,
    num_train: int = 10_000,
    num_test: int = 5_000,
    num_bins: int = 20,
) -> dict[str, float]:
    """Modularity and explicitness (disentanglement_lib: 10,000 / 5,000 images, 20 bins)."""
    train = sample_codes(represent, truth, num_train, rng)
    test = sample_codes(represent, truth, num_test, rng)
    mi = mutual_info_matrix(discretize(train[0], num_bins), train[1])
    explicit_train, explicit_test = explicitness_from(train, test)
    return {
        "modularity": modularity_from(mi),
        "explicitness_train": explicit_train,
        "explicitness": explicit_test,
    }


# ------------------------------------------------------------------ predictor-based (SAP, DCI)


def sap_from(train: tuple, test: tuple) -> float:
    """Separated attribute predictability (Kumar et al. 2018): a linear SVM (C=0.01,
    balanced) predicts each factor from each single code; per factor, the gap between the
    two best codes' test accuracy; mean over factors."""
    d = train[0].shape[1]
    rows = joblib.Parallel(n_jobs=_jobs(d))(
        joblib.delayed(_sap_row)(train, test, i) for i in range(d)
    )
    ranked = np.sort(np.stack(rows), axis=0)
    return float(np.mean(ranked[-1] - ranked[-2])) if d > 1 else float(np.mean(ranked[-1]))


def _sap_row(train: tuple, test: tuple, i: int) -> np.ndarray:
    """Test accuracy of a linear SVM on code ``i`` alone, for every factor: ``[K]``."""
    (c_train, f_train), (c_test, f_test) = train, test
    row = np.zeros(f_train.shape[1])
    for j in range(f_train.shape[1]):
        clf = svm.LinearSVC(C=0.01, class_weight="balanced")
        clf.fit(c_train[:, i : i + 1], f_train[:, j])
        row[j] = np.mean(clf.predict(c_test[:, i : i + 1]) == f_test[:, j])
    return row


def sap(
    represent: Represent,
    truth: GroundTruth,
    rng: np.random.Generator,
    *,
    num_train: int = 10_000,
    num_test: int = 5_000,
) -> dict[str, float]:
    """SAP score (disentanglement_lib: 10,000 / 5,000 images, discrete factors)."""
    train = sample_codes(represent, truth, num_train, rng)
    test = sample_codes(represent, truth, num_test, rng)
    return {"sap": sap_from(train, test)}


def dci_importance(train: tuple, test: tuple, seed: int = 0) -> tuple[np.ndarray, float, float]:
    """``[D, K]`` feature importances of one gradient-boosted tree classifier per factor
    (scikit-learn defaults, as disentanglement_lib), with its mean train and test accuracy.
    The factors' classifiers are fitted in parallel processes (the slowest part of DCI)."""
    fitted = joblib.Parallel(n_jobs=_jobs(train[1].shape[1]))(
        joblib.delayed(_fit_trees)(train, test, j, seed) for j in range(train[1].shape[1])
    )
    importance = np.stack([f[0] for f in fitted], axis=1)
    acc_train, acc_test = np.mean([f[1:] for f in fitted], axis=0)
    return importance, float(acc_train), float(acc_test)


def _fit_trees(train: tuple, test: tuple, j: int, seed: int) -> tuple[np.ndarray, float, float]:
    (c_train, f_train), (c_test, f_test) = train, test
    model = ensemble.GradientBoostingClassifier(random_state=seed).fit(c_train, f_train[:, j])
    return (
        np.abs(model.feature_importances_),
        float(np.mean(model.predict(c_train) == f_train[:, j])),
        float(np.mean(model.predict(c_test) == f_test[:, j])),
    )


def _jobs(tasks: int) -> int:
    return max(1, min(tasks, os.cpu_count() or 1))


def dci_from_importance(importance: np.ndarray) -> tuple[float, float]:
    """Disentanglement and completeness (Eastwood & Williams 2018) of a ``[D, K]`` importance
    matrix: 1 - entropy of each code's (factor's) importances in base K (D), weighted by the
    code's (factor's) share of the total importance."""
    d, k = importance.shape
    if importance.sum() == 0.0:
        importance = np.ones_like(importance)
    per_code = 1.0 - scipy.stats.entropy(importance.T + 1e-11, base=k) if k > 1 else np.ones(d)
    per_factor = 1.0 - scipy.stats.entropy(importance + 1e-11, base=d) if d > 1 else np.ones(k)
    total = importance.sum()
    disentanglement = np.sum(per_code * importance.sum(axis=1) / total)
    completeness = np.sum(per_factor * importance.sum(axis=0) / total)
    return float(disentanglement), float(completeness)


def dci(
    represent: Represent,
    truth: GroundTruth,
    rng: np.random.Generator,
    *,
    num_train: int = 10_000,
    num_test: int = 5_000,
) -> dict[str, float]:
    """DCI disentanglement, completeness and informativeness (test accuracy of the trees;
    disentanglement_lib: 10,000 / 5,000 images)."""
    train = sample_codes(represent, truth, num_train, rng)
    test = sample_codes(represent, truth, num_test, rng)
    importance, acc_train, acc_test = dci_importance(train, test, int(rng.integers(2**31)))
    disentanglement, completeness = dci_from_importance(importance)
    return {
        "dci_disentanglement": disentanglement,
        "dci_completeness": completeness,
        "dci_informativeness_train": acc_train,
        "dci_informativeness": acc_test,
    }


# ------------------------------------------------ intervention-based (BetaVAE, FactorVAE scores)


def _fixed_factor_batches(
    truth: GroundTruth, points: int, batch_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each point a factor ``k`` and two batches of factors agreeing on factor ``k``
    (and a third that holds ``k`` at the first row's value): ``k [P]``, ``[P, B, K]`` x 2."""
    num = len(truth.factor_sizes)
    k = rng.integers(num, size=points)
    first = truth.sample_factors(points * batch_size, rng).reshape(points, batch_size, num)
    second = truth.sample_factors(points * batch_size, rng).reshape(points, batch_size, num)
    rows = np.arange(points)[:, None]
    second[rows, :, k[:, None]] = first[rows, :, k[:, None]]
    return k, first, second


def beta_vae_features(
    represent: Represent, truth: GroundTruth, points: int, batch_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """BetaVAE-score training points: per point, the mean absolute code difference
    ``[D]`` of ``batch_size`` image pairs that share one factor, labelled with that factor."""
    k, first, second = _fixed_factor_batches(truth, points, batch_size, rng)
    num = first.shape[-1]
    r1 = encode_factors(represent, truth, first.reshape(-1, num))
    r2 = encode_factors(represent, truth, second.reshape(-1, num))
    return np.abs(r1 - r2).reshape(points, batch_size, -1).mean(axis=1), k


def beta_vae_score(
    represent: Represent,
    truth: GroundTruth,
    rng: np.random.Generator,
    *,
    batch_size: int = 64,
    num_train: int = 10_000,
    num_eval: int = 5_000,
) -> dict[str, float]:
    """BetaVAE score (Higgins et al. 2017): accuracy of a logistic regression that tells
    which factor a batch of pairs shared from their mean absolute code difference
    (disentanglement_lib: batches of 64, 10,000 training and 5,000 evaluation points)."""
    x_train, y_train = beta_vae_features(represent, truth, num_train, batch_size, rng)
    x_eval, y_eval = beta_vae_features(represent, truth, num_eval, batch_size, rng)
    model = linear_model.LogisticRegression(max_iter=1000).fit(x_train, y_train)
    return {
        "beta_vae_score_train": float(model.score(x_train, y_train)),
        "beta_vae_score": float(model.score(x_eval, y_eval)),
    }


def active_codes(codes: np.ndarray, threshold: float = PRUNE_STD) -> np.ndarray:
    """``[D]`` mask of the codes that have not collapsed: the standard deviation of ``[N, D]``
    posterior means is at least ``threshold`` (disentanglement_lib's ``prune_dims``)."""
    return codes.std(axis=0, ddof=1) >= threshold


def factor_vae_votes(
    represent: Represent,
    truth: GroundTruth,
    points: int,
    batch_size: int,
    rng: np.random.Generator,
    scale: np.ndarray,
    active: np.ndarray,
) -> np.ndarray:
    """``[K, D]`` votes: per point, the held factor votes for the active code with the least
    variance (divided by its global variance ``scale``) over a batch holding that factor."""
    k, first, _ = _fixed_factor_batches(truth, points, batch_size, rng)
    held = np.arange(first.shape[-1]) == k[:, None, None]  # [P, 1, K]
    first = np.where(held, first[:, :1, :], first)
    codes = encode_factors(represent, truth, first.reshape(-1, first.shape[-1]))
    local = codes.reshape(points, batch_size, -1).var(axis=1, ddof=1)
    argmin = np.argmin(local[:, active] / scale[active], axis=1)
    votes = np.zeros((first.shape[-1], codes.shape[1]), np.int64)
    np.add.at(votes, (k, np.flatnonzero(active)[argmin]), 1)
    return votes


def factor_vae_score(
    represent: Represent,
    truth: GroundTruth,
    rng: np.random.Generator,
    *,
    batch_size: int = 64,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    num_variance_estimate: int = 10_000,
    prune_threshold: float = PRUNE_STD,
) -> dict[str, float]:
    """FactorVAE score (Kim & Mnih 2018): accuracy of the majority-vote classifier that
    names the held factor from the index of the code with the least normalized variance.
    Codes whose global standard deviation is below ``prune_threshold`` (collapsed) do not
    vote (disentanglement_lib's ``prune_dims``: ``sqrt(variance) >= 0.05`` in its study's
    configs; batches of 64, 10,000 / 5,000 points, variances from 10,000)."""
    codes, _ = sample_codes(represent, truth, num_variance_estimate, rng)
    scale = codes.var(axis=0, ddof=1)
    active = active_codes(codes, prune_threshold)
    if not active.any():
        none = {f"factor_vae_accuracy_{name}": 0.0 for name in truth.factor_names}
        return {"factor_vae_score_train": 0.0, "factor_vae_score": 0.0, "active_dims": 0, **none}
    train = factor_vae_votes(represent, truth, num_train, batch_size, rng, scale, active)
    evals = factor_vae_votes(represent, truth, num_eval, batch_size, rng, scale, active)
    classifier = np.argmax(train, axis=0)  # each code dimension -> the factor it names
    cols = np.arange(train.shape[1])
    return {
        "factor_vae_score_train": float(train[classifier, cols].sum() / train.sum()),
        "factor_vae_score": float(evals[classifier, cols].sum() / evals.sum()),
        "active_dims": int(active.sum()),
        **factor_vae_accuracies(evals, classifier, truth.factor_names),
    }


def factor_vae_accuracies(
    votes: np.ndarray, classifier: np.ndarray, names: tuple[str, ...]
) -> dict[str, float]:
    """Per held factor, the share of its ``[K, D]`` ``votes`` that the majority-vote
    ``classifier`` (code dimension -> factor) names right: which factors the score misses."""
    right = np.where(classifier[None, :] == np.arange(len(names))[:, None], votes, 0)
    share = right.sum(axis=1) / np.maximum(votes.sum(axis=1), 1)
    return {f"factor_vae_accuracy_{name}": float(a) for name, a in zip(names, share, strict=True)}


_FUNCTIONS = {
    "beta_vae": beta_vae_score,
    "factor_vae": factor_vae_score,
    "mig": mig,
    "sap": sap,
    "dci": dci,
    "modularity": modularity,
}


def evaluate(
    represent: Represent,
    truth: GroundTruth,
    *,
    seed: int = 0,
    which: tuple[str, ...] = METRICS,
    sizes: dict[str, int] | None = None,
) -> dict[str, float]:
    """Every metric in ``which`` (each with its own generator, seeded ``seed`` + its index in
    :data:`METRICS`), flat: ``mig``, ``factor_vae_score``, ``dci_disentanglement``, ...
    ``sizes`` overrides sample counts by keyword (``num_train``, ``num_eval``, ``num_test``)
    where a metric takes them."""
    out: dict[str, float] = {}
    for name in which:
        fn = _FUNCTIONS[name]
        accepted = fn.__kwdefaults__ or {}
        kwargs = {k: v for k, v in (sizes or {}).items() if k in accepted}
        rng = np.random.default_rng([seed, METRICS.index(name)])
        out.update(fn(represent, truth, rng, **kwargs))
    return out
