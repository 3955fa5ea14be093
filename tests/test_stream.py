"""Validation split, best params, and training data streamed from the host."""

from __future__ import annotations

import json

import chex
import jax
import numpy as np
import pytest

import aezoo
from aezoo import data
from aezoo.cli import main
from aezoo.data._user import val_mask
from aezoo.train import stream
from tests.conftest import SMALL_NET

SMALL = SMALL_NET
KW = {"model_config": SMALL, "batch_size": 32, "progress": False}


@pytest.mark.optax
@pytest.mark.slow  # the fast tier keeps the streaming unit tests; the two-device twin is slow too
def test_streamed_epochs_equal_the_device_resident_run_bit_for_bit(digits):
    train, test = digits
    resident = aezoo.fit("vae", train, test, epochs=1, **KW)
    # 20K of budget for 92K of digits: 5 KiB chunks, several per epoch, uneven last chunk.
    streamed = aezoo.fit("vae", train, test, epochs=1, device_memory="20K", **KW)
    chex.assert_trees_all_equal(jax.device_get(resident.params), jax.device_get(streamed.params))
    for a, b in zip(resident.history, streamed.history, strict=True):
        for key in ("train/loss", "train/grad_norm", "train/param_norm", "test/loss", "step"):
            assert a[key] == b[key], key


def test_streamed_epoch_splits_into_chunks_with_a_remainder():
    images = np.zeros((1000, 8, 8, 1), np.uint8)
    budget = 4 * 10 * 32 * (64 + 4)  # a chunk of 10 steps of batch 32
    epoch = stream.StreamedEpoch(None, images, np.zeros(1000, np.int32), 32, None, budget)
    assert epoch.steps == 31 and epoch.chunk_steps == 10  # chunks of 10, 10, 10, 1
    assert stream.needs_streaming(images, 1, 64_000 - 1)
    assert not stream.needs_streaming(images, 1, 64_000)
    assert not stream.needs_streaming(images, 2, 32_000)  # rows split over two devices


@pytest.mark.optax
def test_vmapped_members_refuse_data_over_the_budget(digits):
    with pytest.raises(aezoo.ConfigError, match="vmapped members keep the data on every device"):
        aezoo.fit("vae", *digits, epochs=1, seeds=2, device_memory="20K", **KW)


@pytest.mark.parametrize("size", ["0", "-5M", "lots", "1.5Q", "nan"])
def test_bad_device_memory_is_a_one_line_error(size):
    with pytest.raises(aezoo.ConfigError, match="device_memory must be a size like 512M"):
        aezoo.TrainConfig(device_memory=size)


def test_val_split_holds_fixed_training_rows_out_of_train(digits):
    options = data.DataOptions(val_fraction=0.2)
    train, _ = data.load("digits", "train", options=options)
    val, _ = data.load("digits", "val", options=options)
    whole, _ = data.load("digits", "train")
    assert len(train) + len(val) == len(whole) and len(val) == round(0.2 * len(whole))
    mask = val_mask(len(whole), 0.2)  # the same rows for every run
    np.testing.assert_array_equal(val, whole[mask])
    np.testing.assert_array_equal(train, whole[~mask])
    with pytest.raises(aezoo.DataError, match="needs a validation fraction > 0"):
        data.load("digits", "val")


@pytest.mark.slow
@pytest.mark.optax
def test_keep_best_keeps_the_epoch_with_the_lowest_val_loss(tmp_path, capsys):
    workdir = tmp_path / "w"
    argv = [
        "train",
        "vae",
        "--hidden-dims",
        "32",
        "--latent-dim",
        "4",
        "--val-fraction",
        "0.2",
        "--keep-best",
        "--epochs",
        "4",
        "--workdir",
        str(workdir),
        "--no-progress",
    ]
    assert main(argv) == 0
    history = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert all("val/loss" in r and "test/loss" not in r for r in history)
    best = min(history, key=lambda r: r["val/loss"])
    info = json.loads((workdir / "best" / "best.json").read_text())
    assert info["epoch"] == best["epoch"] and info["value"] == pytest.approx(best["val/loss"])
    loaded = aezoo.load(workdir, best=True)
    assert loaded.epoch == best["epoch"]
    assert main(["eval", str(workdir), "--best", "--nll-samples", "0", "--no-progress"]) == 0
    assert json.loads((workdir / "eval.json").read_text())["params"] == "best"
    with pytest.raises(aezoo.CheckpointError, match="train with --keep-best"):
        aezoo.load(tmp_path / "w", best=True) if False else aezoo.load(
            _no_best(tmp_path), best=True
        )


def _no_best(tmp_path):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(tmp_path / "w", other)
    shutil.rmtree(other / "best")
    return other


def test_keep_best_needs_one_model_and_an_evaluation_split(digits):
    with pytest.raises(aezoo.ConfigError, match="--keep-best keeps one model"):
        aezoo.fit("vae", digits[0], epochs=1, keep_best=True, **KW)
    with pytest.raises(aezoo.ConfigError, match="--keep-best keeps one model"):
        aezoo.fit("vae", *digits, epochs=1, keep_best=True, seeds=2, **KW)
