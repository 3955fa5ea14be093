"""Figure primitives: the image mosaic's layout, and a labelled PNG of it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from aezoo import viz

pytestmark = pytest.mark.unit


def test_mosaic_places_each_image_with_white_gaps_and_pads_short_rows():
    a = np.full((3, 4, 5, 1), 0.25, np.float32)
    b = np.stack([np.full((4, 5, 1), v, np.float32) for v in (0.5, 0.75)])
    canvas = viz.mosaic([a, b], gap=2)
    assert canvas.shape == (2 * 4 + 2, 3 * 5 + 2 * 2)
    assert np.all(canvas[:4, :5] == 0.25) and np.all(canvas[:4, 14:] == 0.25)
    assert np.all(canvas[6:, 7:12] == 0.75)  # row 1, column 1
    assert np.all(canvas[4:6] == 1.0) and np.all(canvas[:, 5:7] == 1.0)  # the gaps
    assert np.all(canvas[6:, 14:] == 1.0)  # the short row's missing image
    colour = viz.mosaic([np.zeros((2, 4, 4, 3)), np.full((2, 4, 4, 3), 2.0)], gap=1)
    assert colour.shape == (9, 9, 3) and colour.max() == 1.0  # clipped to [0, 1]


def test_image_rows_write_one_labelled_png(tmp_path):
    rows = [np.random.default_rng(i).uniform(size=(10, 28, 28, 1)) for i in range(2)]
    out = viz.save_image_rows(tmp_path / "r.png", rows, ["input", "output"], title="t")
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] > 500 and im.size[1] > 150
    assert viz.drawn_by_aezoo(out)
    with pytest.raises(ValueError, match="2 rows but 1 row labels"):
        viz.save_image_rows(tmp_path / "x.png", rows, ["input"])
