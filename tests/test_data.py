"""Data loading (digits, TFDS via data_source) and on-device preprocessing."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds

import aezoo
from aezoo import data
from tests.conftest import has_mnist


@pytest.mark.unit
def test_digits_splits_are_fixed_disjoint_and_rescaled():
    (xtr, ytr), (xte, yte) = data.load("digits", "train"), data.load("digits", "test")
    assert xtr.shape == (1437, 8, 8, 1) and xte.shape == (360, 8, 8, 1)
    assert xtr.dtype == np.uint8 and ytr.dtype == np.int32
    assert xtr.max() == 255 and xtr.min() == 0
    # 0..16 levels map onto 0..255: only 17 distinct values.
    assert len(np.unique(np.concatenate([xtr.ravel(), xte.ravel()]))) == 17
    assert set(np.unique(ytr)) == set(range(10))
    # Disjoint, covering all 1797, and identical in a fresh load (no global RNG involved).
    all_rows = {r.tobytes() for r in np.concatenate([xtr, xte]).reshape(1797, -1)}
    assert len(all_rows) >= 1790  # digits has a handful of exact duplicates
    data.clear_cache()
    again = data.load("digits", "test")
    np.testing.assert_array_equal(again[0], xte)
    np.testing.assert_array_equal(again[1], yte)


@pytest.mark.unit
def test_digits_slices_and_read_only_arrays():
    x, y = data.load("digits", "train[:100]")
    assert x.shape == (100, 8, 8, 1) and y.shape == (100,)
    np.testing.assert_array_equal(x, data.load("digits", "train")[0][:100])
    assert data.load("digits", "test[:10%]")[0].shape[0] == 36
    with pytest.raises(ValueError):
        x[0, 0, 0, 0] = 1


@pytest.mark.unit
def test_tfds_loading_under_mock_data():
    data.clear_cache()
    try:
        with tfds.testing.mock_data(num_examples=40):
            x, y = data.load("mnist", "train")
            assert x.shape == (40, 28, 28, 1) and x.dtype == np.uint8
            assert y.dtype == np.int32 and y.min() >= 0 and y.max() < 10
            c, _ = data.load("cifar10", "test")
            assert c.shape == (40, 32, 32, 3)
    finally:
        data.clear_cache()  # never let mock arrays answer a later real load


@pytest.mark.optax
@pytest.mark.slow
def test_fit_runs_on_mock_mnist():
    data.clear_cache()
    try:
        with tfds.testing.mock_data(num_examples=64):
            train, test = data.load("mnist", "train"), data.load("mnist", "test")
        result = aezoo.fit(
            "vae",
            train,
            test,
            model_config={"hidden_dims": (32,)},
            epochs=1,
            batch_size=32,
            progress=False,
        )
        assert np.isfinite(result.history[-1]["test/loss"])
    finally:
        data.clear_cache()


@pytest.mark.unit
@pytest.mark.skipif(not has_mnist(), reason="TFDS_DATA_DIR does not hold prepared mnist")
def test_real_mnist_loads_whole_splits():
    x, y = data.load("mnist", "test")
    assert x.shape == (10000, 28, 28, 1) and x.dtype == np.uint8
    assert np.bincount(y).tolist()[:2] == [980, 1135]  # the well-known test label counts
    xs, _ = data.load("mnist", "train[:1000]")
    assert xs.shape == (1000, 28, 28, 1)
    assert 30 < xs.mean() < 40  # MNIST's mean intensity is about 33/255


@pytest.mark.unit
def test_unknown_dataset_is_a_clear_error():
    expected = r"unknown dataset 'mnsit'; did you mean 'mnist'\? available: celeb_a, cifar10,"
    with pytest.raises(aezoo.DataError, match=expected):
        data.load("mnsit", "train")


@pytest.mark.unit
def test_unknown_split_is_a_clear_error():
    with pytest.raises(aezoo.DataError, match="unknown split 'validation'"):
        data.load("digits", "validation")


def test_unprepared_dataset_says_what_to_install(tmp_path):
    with pytest.raises(aezoo.DataError) as info:
        data.load("fashion_mnist", "train", data_dir=tmp_path)
    msg = str(info.value)
    assert "not prepared" in msg and "TFDS_DATA_DIR" in msg and "aezoo[prepare]" in msg
    assert "\n" not in msg


@pytest.mark.unit
def test_non_image_dataset_is_refused():
    with pytest.raises(aezoo.DataError, match="not an image-classification dataset"):
        data.load("imdb_reviews", "train")


@pytest.mark.skipif(not has_mnist(), reason="TFDS_DATA_DIR does not hold prepared mnist")
def test_disk_cache_round_trip(tmp_path):
    data.clear_cache()
    a = data.load("mnist", "test[:500]", cache_dir=tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 and files[0].endswith("-images.npy")
    assert files[1] == files[0].replace("-images", "-labels")
    data.clear_cache()
    b = data.load("mnist", "test[:500]", cache_dir=tmp_path)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    data.clear_cache()


@pytest.mark.unit
def test_to_float_scales_uint8_into_unit_interval():
    x = jnp.array([0, 128, 255], jnp.uint8)
    np.testing.assert_allclose(data.to_float(x), [0.0, 128 / 255, 1.0], rtol=1e-6)
    assert data.to_float(x).dtype == jnp.float32


@pytest.mark.unit
def test_binarize_modes():
    x = jnp.linspace(0.0, 1.0, 10_000).reshape(100, 10, 10, 1)
    static = data.binarize(x, None, "static")
    np.testing.assert_array_equal(static, (x > 0.5).astype(jnp.float32))
    assert data.binarize(x, None, "none") is x
    d1 = data.binarize(x, jax.random.key(0), "dynamic")
    d2 = data.binarize(x, jax.random.key(1), "dynamic")
    assert set(np.unique(d1).tolist()) <= {0.0, 1.0}
    assert not np.array_equal(d1, d2)  # resampled with each key
    # E[x_bin] = x: the dynamic targets are unbiased.
    assert float(jnp.mean(d1)) == pytest.approx(0.5, abs=0.02)
    with pytest.raises(ValueError, match="unknown binarize mode"):
        data.binarize(x, None, "fuzzy")


@pytest.mark.unit
@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("p", [0.0, 1 / 255, 0.3, 128 / 255, 254 / 255, 1.0])
def test_dynamic_binarization_is_bernoulli_x(p, exact):
    """P(x_bin = 1) = x for the fast 16-bit sampler (within its 1.6e-5 rounding) and for
    jax.random.bernoulli; exactly 0 and 1 at the ends; odd pixel counts work."""
    n = 200_000
    x = jnp.full((n // 9, 3, 3, 1), p, jnp.float32)  # 9 pixels per example: odd
    xb = data.binarize(x, jax.random.key(3), "dynamic", exact=exact)
    assert xb.shape == x.shape and xb.dtype == x.dtype
    mean = float(jnp.mean(xb))
    if p in (0.0, 1.0):
        assert mean == p
    else:
        sigma = np.sqrt(p * (1 - p) / xb.size)
        assert abs(mean - p) < 5 * sigma + 1.6e-5
    # Pixels j and j + 5 share a 32-bit draw (its low and high halves): they must differ.
    if 0.0 < p < 1.0:
        flat = np.asarray(xb).reshape(xb.shape[0], -1)
        assert not np.array_equal(flat[:, 0:4], flat[:, 5:9])


@pytest.mark.unit
def test_test_set_binarization_is_drawn_once_with_a_fixed_key():
    x, _ = data.load("digits", "test")
    a = data.binarize_once(x, "dynamic")
    b = data.binarize_once(x, "dynamic")
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.uint8 and set(np.unique(a).tolist()) <= {0, 255}
    assert data.binarize_once(x, "none") is x


def test_tfds_data_dir_env_is_the_default(monkeypatch, tmp_path):
    monkeypatch.setenv("TFDS_DATA_DIR", os.fspath(tmp_path))
    with pytest.raises(aezoo.DataError, match=str(tmp_path)):
        data.load("kmnist", "train")
