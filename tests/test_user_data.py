"""Your own data: image folders and arrays become the same splits as a named dataset."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
from PIL import Image

import aezoo
from aezoo import data
from aezoo.cli import main
from aezoo.data import _user


@pytest.fixture(autouse=True)
def fresh(fresh_data_cache):
    """Each test starts with no in-memory copy of a source and its own disk cache."""


def _digits_folder(root: pathlib.Path, n: int = 60, layout: str = "classes") -> pathlib.Path:
    """``n`` digits images as PNGs: in class folders, in train/ + test/, or flat."""
    x, y = data.load("digits", "train")
    for i in range(n):
        if layout == "classes":
            d = root / f"class_{y[i]}"
        elif layout == "split":
            d = root / ("test" if i % 4 == 0 else "train") / f"class_{y[i]}"
        else:
            d = root
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(x[i, ..., 0]).save(d / f"{i:03d}.png")
    return root


def test_class_folders_become_labels_and_a_fixed_split(tmp_path):
    root = _digits_folder(tmp_path / "imgs")
    x_tr, y_tr = data.load(f"folder:{root}", "train")
    x_te, y_te = data.load(f"folder:{root}", "test")
    assert x_tr.shape == (54, 8, 8, 1) and x_te.shape == (6, 8, 8, 1) and x_tr.dtype == np.uint8
    desc = data.describe_source(f"folder:{root}")
    names = desc["classes"]
    assert names == sorted(names) and desc["num_train"] == 54 and desc["num_test"] == 6
    # Every image comes back bit-exact with the label of its folder.
    digits_x, digits_y = data.load("digits", "train")
    for images, labels in ((x_tr, y_tr), (x_te, y_te)):
        for im, label in zip(images, labels, strict=True):
            i = int(np.flatnonzero((digits_x[:60] == im).all(axis=(1, 2, 3)))[0])
            assert names[label] == f"class_{digits_y[i]}"
    data.clear_cache()
    np.testing.assert_array_equal(data.load(f"folder:{root}", "test")[0], x_te)  # same split


def test_second_load_reads_the_disk_cache_not_the_images(tmp_path, monkeypatch):
    root = _digits_folder(tmp_path / "imgs")
    first = data.load(f"folder:{root}", "train")
    data.clear_cache()

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again despite the cache")

    monkeypatch.setattr(_user, "_decode", no_decoding)
    np.testing.assert_array_equal(data.load(f"folder:{root}", "train")[0], first[0])
    # A changed file changes the key: the folder is decoded again.
    (root / "class_0" / "extra.png").write_bytes((next(root.rglob("*.png"))).read_bytes())
    data.clear_cache()
    with pytest.raises(AssertionError, match="decoded again"):
        data.load(f"folder:{root}", "train")


def test_train_and_test_subfolders_give_the_split_and_flat_folders_no_labels(tmp_path):
    root = _digits_folder(tmp_path / "split", layout="split")
    assert len(data.load(f"folder:{root}", "test")[0]) == 15
    assert len(data.load(f"folder:{root}", "train")[0]) == 45
    flat = _digits_folder(tmp_path / "flat", layout="flat")
    _, labels = data.load(f"folder:{flat}", "train")
    assert (labels == -1).all()


def test_resize_crop_and_mixed_gray_and_colour(tmp_path):
    root = tmp_path / "mixed"
    root.mkdir()
    Image.fromarray(np.full((40, 20), 200, np.uint8)).save(root / "gray.png")
    rgb = np.zeros((30, 60, 3), np.uint8)
    rgb[:, 15:45] = (255, 0, 0)  # a red centre, black sides
    Image.fromarray(rgb).save(root / "colour.jpg", quality=100)
    spec = f"folder:{root}"
    with pytest.raises(aezoo.DataError, match=r"images differ in size .*--image-size"):
        data.load(spec, "train")
    options = data.DataOptions(image_size=(16, 16), center_crop=True, test_fraction=0.5)
    x = np.concatenate([data.load(spec, s, options=options)[0] for s in ("train", "test")])
    assert x.shape == (2, 16, 16, 3)
    red = x[(x[..., 0].astype(int) - x[..., 1]).mean(axis=(1, 2)) > 100]
    assert len(red) == 1 and red[0, ..., 0].min() > 200  # the crop kept only the red centre


def test_arrays_images_labels_and_own_split(tmp_path):
    x, y = data.load("digits", "train")
    np.savez(tmp_path / "a.npz", images=x[:100, ..., 0], labels=y[:100])
    got, labels = data.load(f"npz:{tmp_path / 'a.npz'}", "train")
    assert got.shape == (90, 8, 8, 1) and got.dtype == np.uint8 and labels.dtype == np.int32
    np.savez(tmp_path / "b.npz", x_train=x[:80], x_test=x[80:100], y_train=y[:80], y_test=y[80:100])
    np.testing.assert_array_equal(data.load(f"npz:{tmp_path / 'b.npz'}", "test")[0], x[80:100])
    np.save(tmp_path / "c.npy", x[:50].astype(np.float32) / 255.0)
    floats, unlabelled = data.load(f"npy:{tmp_path / 'c.npy'}", "train")
    assert floats.dtype == np.float32 and floats.max() <= 1.0 and (unlabelled == -1).all()


def test_tabular_vectors_are_standardized_with_train_statistics(tmp_path):
    rng = np.random.default_rng(0)
    table = rng.normal(5.0, 3.0, (200, 6)) * np.arange(1, 7)
    np.savez(tmp_path / "t.npz", x=table)
    spec = f"npz:{tmp_path / 't.npz'}"
    train, _ = data.load(spec, "train")
    test, _ = data.load(spec, "test")
    assert train.shape == (180, 1, 1, 6) and data.is_vectors(train.shape)
    np.testing.assert_allclose(train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(train.std(axis=0), 1.0, atol=1e-5)
    stats = data.describe_source(spec)["standardization"]
    raw_test = table[_user._test_mask(200, 0.1)]
    np.testing.assert_allclose(
        test[:, 0, 0] * stats["std"] + np.array(stats["mean"]), raw_test, rtol=1e-5
    )


@pytest.mark.slow
@pytest.mark.optax
def test_a_tabular_vae_trains_with_the_gaussian_likelihood(tmp_path):
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    np.savez(tmp_path / "bc.npz", x=bunch.data, y=bunch.target)
    spec = f"npz:{tmp_path / 'bc.npz'}"
    splits = data.load(spec, "train"), data.load(spec, "test")
    model_config = {"likelihood": "gaussian", "hidden_dims": (32,), "latent_dim": 4}
    kw = {"epochs": 15, "batch_size": 32, "model_config": model_config, "progress": False}
    result = aezoo.fit("vae", *splits, dataset=spec, workdir=tmp_path / "w", **kw)
    losses = [r["test/loss"] for r in result.history]
    assert losses[-1] < losses[0] - 5.0
    record = json.loads((tmp_path / "w" / "config.json").read_text())["data"]
    assert record["num_train"] == 512 and len(record["standardization"]["mean"]) == 30
    with pytest.raises(aezoo.ConfigError, match="real-valued: train them with --likelihood"):
        aezoo.fit("vae", *splits, epochs=1, progress=False)


@pytest.mark.slow
@pytest.mark.optax
def test_cli_trains_on_a_folder_and_eval_reloads_it(tmp_path, capsys):
    root = _digits_folder(tmp_path / "imgs", n=200)
    workdir = tmp_path / "w"
    argv = ["--hidden-dims", "16", "--latent-dim", "2", "--epochs", "2", "--batch-size", "32"]
    assert (
        main(
            [
                "train",
                "vae",
                "--dataset",
                f"folder:{root}",
                *argv,
                "--workdir",
                str(workdir),
                "--no-progress",
            ]
        )
        == 0
    )
    record = json.loads((workdir / "config.json").read_text())
    assert record["data"]["classes"][0] == "class_0" and record["data"]["num_test"] == 20
    assert main(["eval", str(workdir), "--nll-samples", "10", "--no-progress"]) == 0
    assert json.loads((workdir / "eval.json").read_text())["num_examples"] == 20


def test_data_command_prints_the_splits_and_writes_a_preview(tmp_path, capsys):
    root = _digits_folder(tmp_path / "imgs")
    out = tmp_path / "preview.png"
    assert main(["data", f"folder:{root}", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "train: 54 examples of shape (8, 8, 1) uint8, values 0..255" in printed
    assert "classes (label=name): 0=class_0" in printed
    assert Image.open(out).size[0] > 100


def _bad_folder(tmp_path: pathlib.Path, kind: str) -> str:
    root = tmp_path / kind
    root.mkdir()
    if kind == "notes":
        (root / "readme.txt").write_text("no images here")
    if kind == "corrupt":
        _digits_folder(root, n=5, layout="flat")
        (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return f"folder:{root}"


def _npz(tmp_path: pathlib.Path, **arrays) -> str:
    np.savez(tmp_path / "bad.npz", **arrays)
    return f"npz:{tmp_path / 'bad.npz'}"


BAD = [
    (
        lambda t: _bad_folder(t, "empty"),
        "no images (.png, .jpg, .jpeg, .bmp, .tif, .tiff, .webp) in",
    ),
    (
        lambda t: _bad_folder(t, "notes"),
        "no images (.png, .jpg, .jpeg, .bmp, .tif, .tiff, .webp) in",
    ),
    (lambda t: _bad_folder(t, "corrupt"), "cannot decode"),
    (lambda t: _npz(t, labels=np.zeros(3)), "has no image array; name it one of image, images"),
    (lambda t: _npz(t, x=np.array([[0.5, np.nan]] * 4)), "NaN or infinite"),
    (lambda t: _npz(t, x=np.zeros(5)), "expected images [N, H, W] / [N, H, W, C] or vectors"),
    (lambda t: _npz(t, x=np.zeros((5, 4, 4), np.uint8), y=np.zeros(4, int)), "labels must have"),
    (lambda t: _npz(t, x=np.full((5, 4, 4), 2.0)), "float images must lie in [0, 1]"),
    (lambda t: f"folder:{t / 'missing'}", "does not exist"),
    (lambda t: f"npz:{t}", "is a directory, not a .npz file"),
]


@pytest.mark.parametrize(("make", "message"), BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_sources_are_one_line_errors_with_exit_2(make, message, tmp_path, capsys):
    spec = make(tmp_path)
    with pytest.raises(aezoo.DataError) as info:
        data.load(spec, "train")
    assert message in str(info.value) and "\n" not in str(info.value)
    workdir = tmp_path / "w"
    assert main(["train", "ae", "--dataset", spec, "--workdir", str(workdir)]) == 2
    assert message in capsys.readouterr().err
    assert not workdir.exists()  # nothing written


def test_corrupt_image_is_named_or_skipped_and_counted(tmp_path):
    spec = _bad_folder(tmp_path, "corrupt")
    with pytest.raises(aezoo.DataError, match=r"broken\.png"):
        data.load(spec, "train")
    options = data.DataOptions(skip_bad_images=True, test_fraction=0.2)
    with pytest.warns(UserWarning, match="skipped 1 unreadable images"):
        x, _ = data.load(spec, "train", options=options)
    assert len(x) == 4 and data.describe_source(spec, options)["skipped"] == 1


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--image-size", "0"], "image size must be H or HxW"),
        (["--image-size", "12y4"], "image size must be H or HxW"),
        (["--test-fraction", "1.5"], "test_fraction must be a finite number in (0, 1)"),
        (["--test-fraction", "0"], "test_fraction must be a finite number in (0, 1)"),
    ],
)
def test_bad_data_flags_exit_2(flags, message, tmp_path, capsys):
    root = _digits_folder(tmp_path / "imgs", n=10)
    assert (
        main(
            ["train", "ae", "--dataset", f"folder:{root}", *flags, "--workdir", str(tmp_path / "w")]
        )
        == 2
    )
    assert message in capsys.readouterr().err


def test_data_command_shows_tabular_vectors_as_a_heat_map(tmp_path, capsys):
    table = np.random.default_rng(1).normal(size=(80, 7))
    np.savez(tmp_path / "t.npz", x=table, y=np.arange(80) % 2)
    out = tmp_path / "tabular.png"
    assert main(["data", f"npz:{tmp_path / 't.npz'}", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "tabular: standardized with the train split's mean and std" in printed
    assert "train: 72 examples of shape (1, 1, 7) float32" in printed
    assert Image.open(out).size[1] > 200  # one row per example, not a thin strip
