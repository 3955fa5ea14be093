"""The TFDS sets aezoo lists, read by TFDS's own reading code on mock records
(``tfds.testing.mock_data``: random content of each set's own feature spec): splits, label
keys, sizes, --image-size / --center-crop, and one epoch of a conv (or ResNet) VAE each,
through the CLI in this process, with its likelihood's bits/dim."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow_datasets as tfds

import aezoo
from aezoo import data
from aezoo.cli import main
from aezoo.data import DataOptions

# name -> (shape read, labelled)
SETS = {
    "cifar10": ((32, 32, 3), True),
    "svhn_cropped": ((32, 32, 3), True),
    "celeb_a": ((64, 64, 3), False),
    "fashion_mnist": ((28, 28, 1), True),
    "omniglot": ((105, 105, 1), True),
}


@pytest.fixture
def mock():
    data.clear_cache()
    try:
        with tfds.testing.mock_data(num_examples=24):
            yield
    finally:
        data.clear_cache()  # never let mock arrays answer a later real load


@pytest.mark.unit
@pytest.mark.parametrize("name", SETS)
def test_reads_both_splits_with_their_shapes_and_labels(name, mock):
    shape, labelled = SETS[name]
    for split in ("train", "test"):
        x, y = data.load(name, split)
        assert x.shape == (24, *shape) and x.dtype == np.uint8
        assert y.dtype == np.int32
        assert np.all(y >= 0) if labelled else np.all(y == -1)


@pytest.mark.unit
def test_image_size_and_center_crop_resize_a_tfds_set(mock):
    x, _ = data.load("omniglot", "test", options=DataOptions(image_size=(28, 28)))
    assert x.shape == (24, 28, 28, 1)
    x, _ = data.load("cifar10", "test", options=DataOptions(image_size=(16, 8), center_crop=True))
    assert x.shape == (24, 16, 8, 3)
    x, _ = data.load("celeb_a", "test", options=DataOptions(image_size=(32, 32)))
    assert x.shape == (24, 32, 32, 3)  # the 148 crop first, then 32 instead of 64


@pytest.mark.unit
def test_other_options_are_refused_for_a_tfds_set():
    with pytest.raises(aezoo.DataError, match="takes --image-size"):
        data.load("cifar10", "test", options=DataOptions(test_fraction=0.3))


@pytest.mark.unit
def test_an_unprepared_set_names_its_preparation(tmp_path):
    with pytest.raises(aezoo.DataError, match="tfds build celeb_a") as info:
        data.load("celeb_a", "train", data_dir=tmp_path)
    assert "\n" not in str(info.value)


@pytest.mark.optax
@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "arch", "likelihood", "extra"),
    [
        ("cifar10", "conv", "logistic", []),
        ("svhn_cropped", "resnet", "logistic", []),
        ("celeb_a", "conv", "logistic", []),
        ("celeb_a", "resnet", "logistic", ["--image-size", "64"]),
        ("fashion_mnist", "conv", "bernoulli", []),
        ("omniglot", "conv", "bernoulli", ["--image-size", "28"]),
    ],
)
def test_one_epoch_of_a_conv_vae(name, arch, likelihood, extra, mock, tmp_path, capsys):
    argv = ["train", "vae", "--dataset", name, "--arch", arch, "--likelihood", likelihood]
    argv += ["--latent-dim", "4", "--hidden-dims", "16", "--epochs", "1", "--batch-size", "8"]
    assert main([*argv, *extra, "--workdir", str(tmp_path), "--no-progress"]) == 0
    record = json.loads((tmp_path / "config.json").read_text())
    shape = [28, 28, 1] if name == "omniglot" else list(SETS[name][0])
    assert record["model_config"]["image_shape"] == shape
    last = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert np.isfinite(last["test/loss"])
    if likelihood == "logistic":  # nats of 8-bit pixels -> bits/dim: near 8 untrained
        bits = last["test/nll_bound"] / (np.prod(shape) * np.log(2.0))
        assert 5.0 < bits < 12.0, bits


@pytest.mark.unit
def test_aezoo_data_describes_a_set_and_previews_it(mock, tmp_path, capsys):
    assert main(["data", "celeb_a", "--out", str(tmp_path / "preview.png")]) == 0
    out = capsys.readouterr().out
    assert "celeb_a" in out and "(64, 64, 3)" in out
    assert (tmp_path / "preview.png").is_file()
