"""A run's directory: what a fresh run, --overwrite and --resume leave there, and file modes."""

from __future__ import annotations

import os
import shutil
import stat

import numpy as np
import pytest

import aezoo
from tests.conftest import TINY_NET, TINY_RUN

KW = {"model_config": TINY_NET, **TINY_RUN}


@pytest.fixture
def run(vae_run):
    """The session's two-epoch vae run on digits (tests copy it before they write)."""
    return vae_run


def _snapshot(workdir):
    return {
        p.relative_to(workdir): p.read_bytes() for p in sorted(workdir.rglob("*")) if p.is_file()
    }


@pytest.mark.slow
@pytest.mark.optax
def test_overwrite_removes_the_previous_runs_evaluation_and_figures(run, digits, tmp_path):
    workdir = shutil.copytree(run, tmp_path / "w")
    for name in ("eval.json", "report.md", "summary.md"):
        (workdir / name).write_text("old")
    aezoo.viz.save_image_grid(workdir / "latent_scatter.png", np.zeros((2, 8, 8, 1)))
    (workdir / "holiday.png").write_bytes(b"a PNG aezoo did not draw")
    aezoo.fit("vae", digits[0], workdir=workdir, overwrite=True, epochs=1, figures=False, **KW)
    left = sorted(p.name for p in workdir.iterdir())
    assert left == ["checkpoints", "config.json", "holiday.png", "metrics.jsonl", "params.msgpack"]


@pytest.mark.slow
@pytest.mark.optax
def test_resume_without_a_restorable_checkpoint_fails_and_changes_nothing(run, digits, tmp_path):
    workdir = shutil.copytree(run, tmp_path / "w")
    for f in (workdir / "checkpoints").rglob("*"):
        if f.is_file() and "state" in f.parts:
            f.write_bytes(b"torn")
    before = _snapshot(workdir)
    with (
        pytest.warns(UserWarning),
        pytest.raises(aezoo.CheckpointError, match=r"every checkpoint is corrupt.*--overwrite"),
    ):
        aezoo.fit("vae", digits[0], workdir=workdir, resume=True, epochs=3, **KW)
    assert _snapshot(workdir) == before
    shutil.rmtree(workdir / "checkpoints")
    with pytest.raises(aezoo.CheckpointError, match=r"nothing to resume in .*: no checkpoint"):
        aezoo.fit("vae", digits[0], workdir=workdir, resume=True, epochs=3, **KW)


@pytest.mark.slow
@pytest.mark.optax
def test_resume_with_fewer_epochs_than_done_keeps_config_json(run, digits, tmp_path):
    workdir = shutil.copytree(run, tmp_path / "w")
    before = _snapshot(workdir)
    with pytest.raises(aezoo.ConfigError, match="is at epoch 2; epochs=1 would not continue"):
        aezoo.fit("vae", digits[0], workdir=workdir, resume=True, epochs=1, **KW)
    assert _snapshot(workdir) == before


@pytest.mark.slow
@pytest.mark.optax
def test_run_files_are_readable_by_others_under_the_usual_umask(digits, tmp_path):
    old = os.umask(0o022)
    try:
        aezoo.fit("vae", digits[0], workdir=tmp_path / "w", epochs=1, **KW)
    finally:
        os.umask(old)
    for name in ("config.json", "params.msgpack", "metrics.jsonl", "reconstructions.png"):
        assert stat.S_IMODE((tmp_path / "w" / name).stat().st_mode) == 0o644, name


@pytest.mark.slow
@pytest.mark.optax
def test_eval_on_training_rows_fits_its_probes_on_the_test_split(run, tmp_path):
    workdir = shutil.copytree(run, tmp_path / "w")
    results = aezoo.evaluate(workdir, split="train[:200]", nll_samples=0, progress=False)
    assert results["probe/fit_split"] == "test"
    assert results["probe/train_examples"] == len(aezoo.data.load("digits", "test")[1])
    assert aezoo.evaluate(workdir, nll_samples=0, progress=False)["probe/fit_split"] == "train"


@pytest.mark.slow
@pytest.mark.optax
def test_eval_caps_the_pca_baseline_at_the_pixel_count(digits, tmp_path):
    """A 100-D code on 8x8 digits: PCA keeps all 64 components (it cannot give 100)."""
    model_config = {"hidden_dims": (16,), "latent_dim": 100}
    kw = {**KW, "model_config": model_config}
    aezoo.fit("ae", digits[0], workdir=tmp_path / "w", epochs=1, **kw)
    results = aezoo.evaluate(tmp_path / "w", nll_samples=0, progress=False)
    assert results["latent_dim"] == 100
    assert 0.0 <= results["baseline/pca64_knn_acc"] <= 1.0
    assert not any(k.startswith("baseline/pca100") for k in results)
    assert np.isfinite(results["probe/knn_acc"])
