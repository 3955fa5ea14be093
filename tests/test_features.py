"""The feature network of the sample-quality metrics: accurate, deterministic, cached by
content; its features separate real images from corrupted ones in the right order."""

from __future__ import annotations

import dataclasses

import flax.serialization
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

import aezoo
from aezoo.eval import features
from aezoo.eval import sample_quality as sq
from tests.conftest import xla_optimized


def test_it_learns_the_classes_and_reports_its_progress(digits_net):
    net, _, lines = digits_net
    assert net.test_accuracy >= 0.97
    assert net.name == "digits_cnn" and net.path.is_file()
    assert 2 <= len(lines) <= 12 and "test accuracy" in lines[-1]  # throttled progress


@pytest.mark.optax
@pytest.mark.slow
def test_training_is_deterministic_and_the_cache_is_keyed_by_content(digits, digits_net):
    net, cache, _ = digits_net
    with xla_optimized():  # the compiler the fixture trained with
        again = features.train("digits", *digits, say=lambda _: None)
    assert flax.serialization.to_bytes(again.params) == flax.serialization.to_bytes(net.params)
    said = []
    cached = features.load("digits", *digits, cache_dir=cache, say=said.append)
    assert said == [] and cached.test_accuracy == net.test_accuracy  # read, not trained
    # Other data (or another recipe) is another key; an unreadable file is retrained.
    x, y = digits[0]
    other = features.cache_key("digits", (x[:-1], y[:-1]), features.RECIPE)
    assert other != features.cache_key("digits", digits[0], features.RECIPE)
    seed1 = dataclasses.replace(features.RECIPE, seed=1)
    assert features.cache_key("digits", digits[0], seed1) != other
    for damaged in (net.path, net.path.with_suffix(".json")):
        damaged.write_bytes(b"not msgpack, not json")
        said.clear()
        with xla_optimized():
            rebuilt = features.load("digits", *digits, cache_dir=cache, say=said.append)
        assert any("epoch" in line for line in said)
        params = flax.serialization.to_bytes(rebuilt.params)
        assert params == flax.serialization.to_bytes(net.params)


def test_features_rank_corruptions_of_real_images(digits, digits_net):
    """FD(train, test) is small; Gaussian blur and pixel noise raise the FD to the clean
    images monotonically with their strength; uniform noise images are far; precision and
    recall of train vs test are high and of noise near zero."""
    net, _, _ = digits_net
    (train_x, _), (test_x, _) = digits
    real = net.features(test_x)
    floor = sq.frechet_distance(real, net.features(train_x[: len(test_x)]))
    grey = test_x.astype(np.float32) / 255.0
    rng = np.random.default_rng(0)
    blurred = [
        sq.frechet_distance(real, net.features(gaussian_filter(grey, (0, s, s, 0))))
        for s in (0.5, 0.9, 1.2)
    ]
    noisy = [
        sq.frechet_distance(
            real, net.features(np.clip(grey + rng.normal(0, s, grey.shape), 0, 1).astype("f4"))
        )
        for s in (0.1, 0.3, 0.6)
    ]
    noise_images = rng.uniform(size=grey.shape).astype(np.float32)
    far = sq.frechet_distance(real, net.features(noise_images))
    # Mild corruptions of the same images can sit below the floor (other images): only the
    # order within each kind, and where the strong ones and noise stand, are the claims.
    assert blurred[0] < blurred[1] < blurred[2] and noisy[0] < noisy[1] < noisy[2]
    assert floor < min(blurred[1], noisy[1]) and far > 20 * floor
    matched = sq.precision_recall(real, net.features(train_x[: len(test_x)]))
    assert matched["precision"] > 0.85 and matched["recall"] > 0.85
    # A few noise images land in the wide balls of outlying real images (360 of them here).
    assert sq.precision_recall(real, net.features(noise_images))["precision"] < 0.15


def test_a_dataset_without_labels_is_one_line(digits):
    x, y = digits[0]
    with pytest.raises(aezoo.ConfigError, match="needs labels of at least two classes"):
        features.load("mine", (x, np.full_like(y, -1)), digits[1], say=lambda _: None)


def test_the_sample_quality_evaluator_scores_a_runs_samples(vae_run_copy, digits_net):
    _, cache, _ = digits_net
    kw = {"cache_dir": str(cache), "progress": False, "quality_samples": 200}
    r = aezoo.evaluate(vae_run_copy, evaluators=["sample_quality"], quality_draws=2, **kw)
    assert r["evaluators"] == ["sample_quality"] and r["test/quality_samples"] == 200
    # Two epochs of a tiny VAE: its samples are far from the data, farther than other data.
    assert r["test/fd_digits_cnn"] > 2 * r["test/fd_digits_cnn_train"] > 0
    assert r["test/fd_digits_cnn_std"] > 0  # two draws differ
    for key in ("precision", "recall", "coverage"):
        assert 0.0 <= r[f"test/{key}_digits_cnn"] <= 1.0
    assert r["test/density_digits_cnn"] >= 0.0 and r["test/modes_of_digits_cnn"] == 10
    assert 1 <= r["test/modes_digits_cnn"] <= 10
    assert 1.0 <= r["test/class_score_digits_cnn"] <= 10.0
    assert r["test/features_digits_cnn_test_accuracy"] >= 0.97
    for bad, message in (
        ({"quality_k": 0}, "--quality-k must be a positive integer; got 0"),
        ({"quality_samples": 3}, "--quality-samples must be an integer >= 4"),
        ({"quality_samples": 5, "quality_k": 5}, "--quality-k must be smaller"),
    ):
        with pytest.raises(aezoo.ConfigError, match=message):
            aezoo.evaluate(vae_run_copy, evaluators=["sample_quality"], **{**kw, **bad})


def test_cli_features_reads_the_cache_and_eval_takes_the_quality_flags(
    digits_net, vae_run_copy, capsys
):
    from aezoo.cli import main

    _, cache, _ = digits_net
    assert main(["features", "digits", "--cache-dir", str(cache)]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("digits_cnn: test accuracy 0.9") and "epoch" not in out.err
    argv = ["eval", str(vae_run_copy), "--evaluators", "sample_quality", "--no-progress"]
    argv += ["--cache-dir", str(cache), "--quality-samples", "100", "--quality-draws", "1"]
    assert main(argv) == 0
    assert "test/fd_digits_cnn" in capsys.readouterr().out
    assert main([*argv[:-2], "--quality-draws", "0"]) == 2
    assert capsys.readouterr().err.strip() == (
        "aezoo: error: --quality-draws must be a positive integer; got 0"
    )
