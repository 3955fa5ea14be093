"""Sample-quality metrics against known answers: the matrix square root against SciPy, the
Fréchet distance against its closed form, precision/recall/density/coverage at their
extremes, the class statistics of balanced, collapsed and uncertain classifiers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import aezoo
from aezoo.eval import sample_quality as sq

pytestmark = pytest.mark.unit


def _spd(rng: np.random.Generator, n: int) -> np.ndarray:
    a = rng.normal(size=(n, n))
    return a @ a.T + 1e-3 * np.eye(n)


def test_sqrtm_psd_matches_scipy_on_random_spd_matrices():
    rng = np.random.default_rng(0)
    for n in (1, 3, 16, 64):
        a = _spd(rng, n)
        root = sq.sqrtm_psd(a)
        np.testing.assert_allclose(root, np.real(scipy.linalg.sqrtm(a)), rtol=1e-7, atol=1e-8)
        np.testing.assert_allclose(root @ root, a, rtol=1e-8, atol=1e-8)


def test_frechet_distance_closed_form_and_extremes():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4000, 8))
    assert sq.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    # Two Gaussians with known parameters: |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^1/2).
    s1, s2 = _spd(rng, 8) / 8, _spd(rng, 8) / 8
    mu = np.full(8, 0.5)
    expected = np.sum(mu**2) + np.trace(s1 + s2 - 2 * np.real(scipy.linalg.sqrtm(s1 @ s2)))
    x = rng.multivariate_normal(np.zeros(8), s1, size=200_000)
    y = rng.multivariate_normal(mu, s2, size=200_000)
    assert sq.frechet_distance(x, y) == pytest.approx(expected, rel=0.03)
    # Two draws of one distribution are close; a shift grows the distance monotonically.
    b = rng.normal(size=(4000, 8))
    shifts = [sq.frechet_distance(a, b + s) for s in (0.0, 0.25, 0.5, 1.0, 2.0)]
    assert shifts[0] < 0.05 and all(np.diff(shifts) > 0)
    assert shifts[-1] == pytest.approx(8 * 4.0, rel=0.05)


def test_precision_recall_density_coverage_at_their_extremes():
    rng = np.random.default_rng(2)
    # Two draws of one distribution (4-D: in high dimensions k-NN balls cover less of the
    # support at this size, and both numbers drop for matched sets too).
    real, same = rng.normal(size=(1500, 4)), rng.normal(size=(1500, 4))
    matched = sq.precision_recall(real, same)
    assert matched["precision"] > 0.9 and matched["recall"] > 0.9
    assert 0.9 < matched["density"] < 1.1 and matched["coverage"] > 0.85
    noise = sq.precision_recall(real, rng.normal(size=(1500, 4)) * 0.01 + 20.0)
    assert noise["precision"] == 0.0 and noise["density"] == 0.0 and noise["coverage"] == 0.0
    # One sample repeated (with a hair of jitter so its k-NN radius is not zero): it lies
    # on the data, so it is precise, but it recalls almost nothing of the data.
    one = real[:1] + rng.normal(size=(1500, 4)) * 1e-3
    collapsed = sq.precision_recall(real, one)
    assert collapsed["precision"] == 1.0 and collapsed["recall"] < 0.01
    assert collapsed["coverage"] < 0.01


def test_knn_radii_are_the_kth_neighbour_excluding_itself():
    x = np.array([[0.0], [1.0], [3.0], [7.0]])
    np.testing.assert_allclose(sq.knn_radii(x, 1), [1.0, 1.0, 4.0, 16.0])
    np.testing.assert_allclose(sq.knn_radii(x, 2), [9.0, 4.0, 9.0, 36.0])


def test_class_statistics_of_balanced_collapsed_and_uncertain_classifiers():
    confident = np.eye(10)[np.arange(1000) % 10] * 50.0
    balanced = sq.class_statistics(confident)
    assert balanced["class_score"] == pytest.approx(10.0, rel=1e-6)
    assert balanced["class_kl_uniform"] == pytest.approx(0.0, abs=1e-12)
    assert balanced["modes"] == 10
    collapsed = sq.class_statistics(np.eye(10)[np.zeros(1000, int)] * 50.0)
    assert collapsed["class_score"] == pytest.approx(1.0, rel=1e-6)
    assert collapsed["class_kl_uniform"] == pytest.approx(np.log(10))
    assert collapsed["modes"] == 1
    uncertain = sq.class_statistics(np.zeros((1000, 10)))
    assert uncertain["class_score"] == pytest.approx(1.0)


def test_bad_features_are_one_line_errors():
    good = np.zeros((10, 4))
    for bad, message in (
        (np.zeros((10,)), r"real features must be \[N >= 2, F\]"),
        (np.full((10, 4), np.nan), "real features hold NaN"),
        (np.zeros((10, 3)), "feature sizes differ: 3 and 4"),
    ):
        with pytest.raises(aezoo.ConfigError, match=message):
            sq.frechet_distance(bad, good)


def test_mean_std_over_draws():
    out = sq.mean_std([{"fd": 1.0}, {"fd": 3.0}])
    assert out == {"fd": 2.0, "fd_std": pytest.approx(np.sqrt(2.0))}


def test_the_summary_line_names_each_samplers_distance():
    from aezoo.eval.run import summary_line

    results = {"split": "test", "test/fd_mnist_cnn": 1.0, "test/fd_mnist_cnn_std": 2.0}
    results.update({"test/fd_mnist_cnn_gmm": 3.0, "test/fd_mnist_cnn_train": 4.0})
    assert summary_line(results) == "test/fd_mnist_cnn 1.000, test/fd_mnist_cnn_gmm 3.000"
