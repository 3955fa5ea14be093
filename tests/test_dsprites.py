"""dSprites drawn in code: the published factor grid and counts, pixel-mass statistics that
follow the definition (area ~ scale^2, invariant to position, near-invariant to rotation)."""

from __future__ import annotations

import numpy as np
import pytest

from aezoo import data
from aezoo.data import _dsprites as ds
from aezoo.errors import DataError


def test_factor_grid_and_order_are_the_published_ones():
    assert ds.FACTOR_NAMES == ("color", "shape", "scale", "orientation", "posX", "posY")
    assert ds.FACTOR_SIZES == (1, 3, 6, 40, 32, 32) and ds.NUM_IMAGES == 737_280
    np.testing.assert_allclose(ds.FACTOR_VALUES[2], [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    orientation = ds.FACTOR_VALUES[3]
    assert orientation[0] == 0.0 and orientation[-1] == pytest.approx(2 * np.pi)
    np.testing.assert_allclose(np.diff(orientation), 2 * np.pi / 39)
    np.testing.assert_allclose(ds.FACTOR_VALUES[4], np.arange(32) / 31)
    f = ds.factor_indices(np.arange(ds.NUM_IMAGES))
    assert len(np.unique(f, axis=0)) == ds.NUM_IMAGES  # every combination exactly once
    np.testing.assert_array_equal(f[:2], [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1]])
    np.testing.assert_array_equal(f[32], [0, 0, 0, 0, 1, 0])  # posY runs fastest
    np.testing.assert_array_equal(f[-1], [0, 2, 5, 39, 31, 31])


def test_sprite_area_grows_with_the_square_of_the_scale_for_every_shape():
    mass = ds.sprites().sum(axis=(-1, -2)).astype(float)  # [shape, scale, orientation]
    by_scale = mass.mean(axis=2)
    ratio = by_scale / by_scale[:, -1:]
    np.testing.assert_allclose(
        ratio, np.broadcast_to(ds.FACTOR_VALUES[2] ** 2, ratio.shape), rtol=0.03
    )
    # Rotation moves a few boundary pixels only; orientation 0 and 2 pi draw the same image.
    assert (mass.std(axis=2) / by_scale).max() < 0.05
    np.testing.assert_array_equal(ds.sprites()[:, :, 0], ds.sprites()[:, :, 39])
    # Areas at scale 1 within 3% of the continuous shapes': square (side 20), ellipse
    # (semi-axes 11 and 5.5), heart (3.658 square units at 9 pixels per unit).
    np.testing.assert_allclose(by_scale[:, -1], [400.0, np.pi * 11 * 5.5, 3.6584 * 81], rtol=0.03)


@pytest.mark.slow
def test_the_whole_set_is_drawn_exactly_and_split_without_overlap(tmp_path):
    x_train, _ = data.load("dsprites", "train")
    x_test, y_test = data.load("dsprites", "test")
    assert x_train.shape == (727_280, 64, 64, 1) and x_test.shape == (10_000, 64, 64, 1)
    assert x_train.dtype == np.uint8 and set(np.unique(x_test)) == {0, 255}
    # The two splits are one fixed permutation of the canonical images: no overlap.
    order = ds.order()
    assert len(np.unique(order)) == ds.NUM_IMAGES
    factors = ds.factor_indices(order[:20])
    np.testing.assert_array_equal(y_test[:20], factors[:, 1])  # label = shape
    np.testing.assert_array_equal(ds.images_from_factors(factors), x_test[:20])
    # Positions are exact one-pixel translations; nothing touches the right/bottom border.
    f = factors.copy()
    f[:, 4] = f[:, 5] = 0
    moved = f.copy()
    moved[:, 4] = 1
    np.testing.assert_array_equal(
        np.roll(ds.images_from_factors(f), 1, axis=2), ds.images_from_factors(moved)
    )
    everything = ds.all_images()
    assert everything[:, 63].max() == 0 and everything[:, :, 63].max() == 0
    # The published mean pixel of the original (quoted): 0.043.
    assert everything[:50_000].mean() / 255 == pytest.approx(0.043, rel=0.05)
    assert (everything[:50_000].reshape(50_000, -1).max(axis=1) == 255).all()
    # The preview: one row per factor, swept from a fixed image.
    assert data.write_preview(tmp_path / "preview.png", "dsprites").stat().st_size > 20_000


@pytest.mark.slow
def test_slices_and_rows_of_a_split_are_views_in_order():
    head, labels = data.load("dsprites", "test[:100]")
    rows, _ = data.load("dsprites", "test", rows=(50, 60))
    np.testing.assert_array_equal(rows, head[50:60])
    assert labels.shape == (100,) and set(np.unique(labels)) <= {0, 1, 2}


@pytest.mark.slow
def test_ground_truth_samples_factors_and_draws_their_images():
    truth = data.ground_truth("dsprites")
    assert truth.factor_names == ("shape", "scale", "orientation", "posX", "posY")
    factors = truth.sample_factors(5, np.random.default_rng(0))
    assert factors.shape == (5, 5) and (factors < np.asarray(truth.factor_sizes)).all()
    images = truth.observe(factors)
    assert images.shape == (5, 64, 64, 1) and images.dtype == np.uint8
    with pytest.raises(DataError, match=r"no ground-truth factors.*dsprites"):
        data.ground_truth("mnist")
    with pytest.raises(DataError, match="factor indices must lie below"):
        ds.images_from_factors(np.full((1, 6), 40))
