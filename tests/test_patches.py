"""Real photographs: the patches family, the filters measures and evaluator, and the
full-covariance Gaussian baseline of 8-bit pixels."""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pytest

import aezoo
from aezoo import data
from aezoo.cli import main
from aezoo.data import _patches
from aezoo.eval.filters import orientation, random_filters, spread
from aezoo.eval.gaussian import dequantized, gaussian_nll

needs_skimage = pytest.mark.skipif(
    importlib.util.find_spec("skimage") is None, reason="scikit-image is not installed"
)


@pytest.mark.unit
def test_names_of_the_family():
    assert _patches.parse("patches") == _patches.Family(8)
    assert _patches.parse("patches16_grey") == _patches.Family(16, grey=True)
    assert _patches.parse("patches12_white") == _patches.Family(12, grey=True, white=True)
    assert _patches.parse("mnist") is None
    with pytest.raises(aezoo.DataError, match="patch side must be 8 to 32"):
        _patches.parse("patches64")
    assert not set(_patches.TRAIN_PHOTOS) & set(_patches.TEST_PHOTOS)


@pytest.mark.unit
def test_without_scikit_image_one_line_says_what_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(aezoo.DataError, match="pip install scikit-image"):
        _patches.photo_folder()


@needs_skimage
@pytest.mark.unit
def test_patches_are_deterministic_8_bit_cuts_of_the_photographs():
    x, y = data.load("patches", "train")
    t, _ = data.load("patches", "test")
    assert x.shape == (50_000, 8, 8, 3) and x.dtype == np.uint8 and np.all(y == -1)
    assert t.shape == (10_000, 8, 8, 3)
    again = _patches.cut(_patches.TRAIN_PHOTOS, 8, 50_000, seed=0)
    np.testing.assert_array_equal(x, again)  # a name always means the same arrays
    photo = _patches.photograph(_patches.TEST_PHOTOS[0])
    windows = np.lib.stride_tricks.sliding_window_view(photo, (8, 8, 3))
    first = t[0].reshape(-1)  # the first test patch is a window of the test photograph
    flat = windows.reshape(-1, 192)
    assert np.any(np.all(flat == first, axis=1))


@needs_skimage
@pytest.mark.unit
def test_whitened_patches_are_normalized_as_in_ngs_notes():
    x, _ = data.load("patches8_white", "train")
    grey, _ = data.load("patches8_grey", "test")
    assert x.dtype == np.float32 and x.shape == (50_000, 8, 8, 1)
    assert x.min() >= 0.1 - 1e-6 and x.max() <= 0.9 + 1e-6
    assert abs(float(x.mean()) - 0.5) < 0.01
    flat = x.reshape(len(x), -1).astype(np.float64) - 0.5
    cov = flat.T @ flat / len(flat)
    off = cov - np.diag(np.diag(cov))  # whitening: neighbouring pixels nearly uncorrelated
    raw = grey.reshape(len(grey), -1).astype(np.float64)
    raw_cov = np.corrcoef(raw.T)
    assert np.abs(off).mean() / np.diag(cov).mean() < 0.25 < np.abs(raw_cov).mean()


@pytest.mark.unit
def test_orientation_and_spread_known_answers():
    xx = np.mgrid[:8, :8][1]
    grating = np.cos(2 * np.pi * xx / 4.0)[None, :, :, None]  # vertical bars: one orientation
    assert orientation(grating) == pytest.approx(1.0, abs=1e-9)
    delta = np.zeros((1, 8, 8, 1))
    delta[0, 3, 4, 0] = 1.0  # all energy in one pixel
    assert spread(delta) == pytest.approx(0.0, abs=1e-12)
    noise = random_filters((500, 8, 8, 1))
    assert orientation(noise) < 0.25 and 0.35 < spread(noise) < 0.45
    assert spread(np.ones((1, 8, 8, 1))) == pytest.approx(math.sqrt(2 * 63 / 12) / 8)


@pytest.mark.unit
def test_gaussian_baseline_recovers_a_known_density():
    rng = np.random.default_rng(0)
    dims = 6
    a = rng.standard_normal((dims, dims))
    cov = a @ a.T + dims * np.eye(dims)
    draws = rng.multivariate_normal(np.zeros(dims), cov, size=200_000)
    entropy = 0.5 * (dims * math.log(2 * math.pi * math.e) + np.linalg.slogdet(cov)[1])
    nll = gaussian_nll(draws[:100_000], draws[100_000:])
    assert float(np.mean(nll)) == pytest.approx(entropy, rel=2e-3)
    pixels = np.full((3, 2, 2, 1), 7, np.uint8)
    deq = dequantized(pixels, 0)
    assert deq.shape == (3, 4) and np.all((deq >= 7) & (deq < 8))


@needs_skimage
@pytest.mark.optax
@pytest.mark.slow
def test_sparse_autoencoder_on_whitened_patches_learns_oriented_filters(tmp_path, capsys):
    """Done-when of the photographs: the filters are oriented edge detectors, measurably
    (random filters: about 0.16)."""
    run = tmp_path / "sparse"
    argv = "train sparse_ae --dataset patches8_white --hidden-dims none --latent-dim 25 "
    argv += "--penalty kl --rho 0.01 --kl-weight 3 --likelihood gaussian --obs-logvar 0 "
    argv += "--optimizer adamw --lr 3e-3 --weight-decay 0.5 --epochs 10 --no-progress"
    assert main([*argv.split(), "--workdir", str(run)]) == 0
    assert main(["eval", str(run), "--evaluators", "filters", "--no-progress"]) == 0
    result = json.loads((run / "eval.json").read_text())
    assert result["filters/count"] == 25
    assert result["filters/orientation"] > result["filters/orientation_random"] + 0.3
    assert (run / "filters.png").is_file()


@pytest.mark.optax
def test_gaussian_evaluator_scores_8_bit_pixels_and_refuses_binarized_runs(
    digits, vae_run_copy, tmp_path, capsys
):
    run = tmp_path / "logistic"
    aezoo.fit(
        "vae",
        *digits,
        workdir=run,
        epochs=1,
        dataset="digits",
        model_config={"hidden_dims": (16,), "latent_dim": 2, "likelihood": "logistic"},
        progress=False,
    )
    assert main(["eval", str(run), "--evaluators", "gaussian", "--no-progress"]) == 0
    result = json.loads((run / "eval.json").read_text())
    assert 0.0 < result["test/gaussian_bits_per_dim"] < 8.0
    assert result["gaussian/train_examples"] == len(digits[0][1])
    code = main(["eval", str(vae_run_copy), "--evaluators", "gaussian", "--no-progress"])
    assert code == 2 and "the run binarizes" in capsys.readouterr().err
