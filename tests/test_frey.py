"""Frey faces: a file the user provides, found in $AEZOO_DATASETS, read from the npz or from
Roweis's .mat, refused in one line when it is missing or not the known data (sha256), split
deterministically, and trained on like any named dataset."""

from __future__ import annotations

import pathlib
import shutil

import numpy as np
import pytest

import aezoo
from aezoo import data
from aezoo.cli import main
from aezoo.data import _frey

SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "datasets" / "frey_faces.npz"
needs_file = pytest.mark.skipif(not SHARED.is_file(), reason="no Frey faces file here")


@pytest.fixture
def faces_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("AEZOO_DATASETS", str(tmp_path))
    data.clear_cache()
    yield tmp_path
    data.clear_cache()


@pytest.mark.unit
def test_a_missing_or_foreign_file_is_one_line(faces_dir):
    with pytest.raises(aezoo.DataError, match=r"is a file you provide: put frey_faces.npz"):
        data.load("frey_faces", "train")
    foreign = np.zeros(_frey.SHAPE, np.uint8)
    np.savez(faces_dir / "frey_faces.npz", images=foreign)
    with pytest.raises(aezoo.DataError, match=r"is not the Frey faces aezoo knows \(sha256"):
        data.load("frey_faces", "train")
    np.savez(faces_dir / "frey_faces.npz", images=np.zeros((3, 28, 20, 1), np.uint8))
    with pytest.raises(aezoo.DataError, match=r"not the Frey faces \(uint8"):
        data.load("frey_faces", "test")


@needs_file
@pytest.mark.unit
def test_the_npz_and_the_mat_give_the_same_checked_splits(faces_dir):
    from scipy.io import savemat

    shutil.copy(SHARED, faces_dir / "frey_faces.npz")
    train, test = data.load("frey_faces", "train"), data.load("frey_faces", "test")
    assert train[0].shape == (1765, 28, 20, 1) and test[0].shape == (200, 28, 20, 1)
    assert (train[1] == -1).all() and (test[1] == -1).all()
    whole = np.concatenate([train[0], test[0]])
    assert len(np.unique(whole.reshape(len(whole), -1), axis=0)) == len(whole)  # disjoint
    images = np.load(SHARED)["images"]
    (faces_dir / "frey_faces.npz").unlink()
    savemat(faces_dir / "frey_rawface.mat", {"ff": images.reshape(len(images), -1).T})
    data.clear_cache()
    np.testing.assert_array_equal(data.load("frey_faces", "train")[0], train[0])


@needs_file
@pytest.mark.optax
def test_a_gaussian_vae_trains_on_frey_faces(faces_dir, tmp_path, capsys):
    shutil.copy(SHARED, faces_dir / "frey_faces.npz")
    argv = ["train", "vae", "--dataset", "frey_faces", "--likelihood", "gaussian"]
    argv += ["--epochs", "1", "--hidden-dims", "32", "--latent-dim", "2", "--no-progress"]
    assert main([*argv, "--workdir", str(tmp_path / "run")]) == 0
    m = aezoo.load(tmp_path / "run")
    assert m.config.image_shape == (28, 20, 1) and m.record.dataset == "frey_faces"
