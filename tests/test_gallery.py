"""What a person looks at: the gallery of a run, `aezoo sample`'s default sampler and file,
the training curves, and which member a swept run's figures show."""

from __future__ import annotations

import json

import numpy as np
import pytest

import aezoo
from aezoo import samplers, viz
from aezoo.cli import main
from aezoo.eval.gallery import examples
from aezoo.models import MODELS
from aezoo.rundir.run import Run
from tests.conftest import TINY_NET, TINY_RUN


@pytest.mark.unit
def test_the_default_sampler_is_the_models_own():
    assert samplers.default(MODELS["vae"]) == "prior"
    assert samplers.default(MODELS["vqvae"]) == "autoregressive"  # a discrete code
    assert samplers.default(MODELS["ae"]) == "gmm"  # no prior of its own


@pytest.mark.unit
def test_gallery_examples_are_one_per_class_then_the_next():
    y = np.array([3, 3, 1, 0, 1, 2], np.int32)
    assert examples(y, 5).tolist() == [3, 2, 5, 0, 1]  # classes 0, 1, 2, 3, then image 1
    assert examples(np.full(4, -1, np.int32), 3).tolist() == [0, 1, 2]


@pytest.mark.unit
def test_curves_show_each_term_for_both_splits(tmp_path):
    history = [
        {"epoch": e, "train/loss": 10.0 / e, "test/loss": 11.0 / e, "train/kl": 1.0 * e}
        for e in (1, 2, 3)
    ]
    history[0]["train/grad_norm"] = 5.0
    assert viz.curve_terms(history) == ["loss", "kl"]  # loss first; optimizer numbers left out
    assert viz.drawn_by_aezoo(viz.save_curves(tmp_path / "curves.png", history))


@pytest.mark.optax
def test_a_run_writes_its_curves(vae_run):
    assert viz.drawn_by_aezoo(vae_run / "curves.png")


@pytest.mark.optax
def test_sample_without_out_writes_samples_png_in_the_run(vae_run_copy, capsys):
    (vae_run_copy / "samples.png").unlink()
    assert main(["sample", str(vae_run_copy), "--n", "8"]) == 0
    assert viz.drawn_by_aezoo(vae_run_copy / "samples.png")
    assert "samples.png" in json.loads((vae_run_copy / ".aezoo-outputs").read_text())
    (vae_run_copy / "samples.png").write_bytes(b"a user's own file")
    assert main(["sample", str(vae_run_copy), "--n", "8"]) == 2
    assert "not a figure aezoo drew" in capsys.readouterr().err
    assert (vae_run_copy / "samples.png").read_bytes() == b"a user's own file"


@pytest.mark.optax
def test_gallery_draws_a_run_and_lists_its_pictures(vae_run_copy, tmp_path, capsys):
    out = tmp_path / "gallery"
    assert main(["gallery", str(vae_run_copy), "--out", str(out), "--strip", "vae-run"]) == 0
    listed = json.loads((out / "gallery.json").read_text())
    (entry,) = listed["entries"]
    assert entry["model"] == "vae" and entry["run"] == "vae-run"
    files = [p["file"] for p in entry["pictures"]]
    assert files[0] == "vae-run.png" and listed["strip"] == "strip.png"
    for name in [*files, "strip.png"]:
        assert viz.drawn_by_aezoo(out / name)
    # a second gallery into the same folder replaces its own pictures, never a user's file
    assert main(["gallery", str(vae_run_copy), "--out", str(out)]) == 0
    (out / "vae-run.png").write_bytes(b"mine")
    assert main(["gallery", str(vae_run_copy), "--out", str(out)]) == 2
    assert "is not the gallery's" in capsys.readouterr().err
    assert (out / "vae-run.png").read_bytes() == b"mine"


@pytest.mark.optax
@pytest.mark.slow
def test_a_swept_runs_figures_say_which_member(digits, tmp_path, monkeypatch):
    titles = []
    for name in ("save_curves", "save_image_rows"):
        drawn = getattr(viz, name)
        monkeypatch.setattr(
            viz, name, lambda *a, _f=drawn, **k: titles.append(k.get("title")) or _f(*a, **k)
        )
    workdir = tmp_path / "sweep"
    aezoo.fit(
        "beta_vae",
        *digits,
        workdir=workdir,
        epochs=1,
        seeds=2,
        model_config=TINY_NET,
        **TINY_RUN,
    )
    members = Run.open(workdir).members()
    assert [m.member_label for m in members] == [f" (member {m.path.name})" for m in members]
    assert Run.open(workdir).member_label == ""
    for member in members:
        assert viz.drawn_by_aezoo(member.path / "curves.png")
        assert sum(member.member_label in str(t) for t in titles) >= 2  # curves, reconstructions
