"""Ex-post samplers: the GMM recovers a known mixture; a sampler is fitted once, saved in
the run folder, reloaded, refitted when the params or options change; refusals are one
line; `aezoo sample` and the sample_quality evaluator take them."""

from __future__ import annotations

import json
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import aezoo
from aezoo import samplers
from aezoo.eval import sample_quality_run
from aezoo.samplers import gmm
from aezoo.train.load import LoadedModel


@pytest.mark.unit
def test_gmm_recovers_a_known_mixture_and_draws_from_it():
    rng = np.random.default_rng(0)
    a = rng.multivariate_normal([-4, 0], [[1, 0.8], [0.8, 1]], size=3000)
    b = rng.multivariate_normal([4, 1], [[0.5, 0], [0, 2]], size=1000)
    fitted = gmm.fit(np.concatenate([a, b]), seed=0, components=2)
    order = np.argsort(fitted["means"][:, 0])
    np.testing.assert_allclose(fitted["means"][order], [[-4, 0], [4, 1]], atol=0.1)
    np.testing.assert_allclose(np.exp(fitted["log_weights"][order]), [0.75, 0.25], atol=0.02)
    cov = fitted["chol"][order[0]] @ fitted["chol"][order[0]].T
    np.testing.assert_allclose(cov, [[1, 0.8], [0.8, 1]], atol=0.1)
    z = np.asarray(gmm.draw(fitted, 20_000, jax.random.key(1)))
    assert z.shape == (20_000, 2)
    np.testing.assert_allclose(z.mean(0), [-2, 0.25], atol=0.1)
    assert np.mean(z[:, 0] > 0) == pytest.approx(0.25, abs=0.02)


@pytest.mark.unit
def test_gmm_refuses_bad_components_in_one_line():
    with pytest.raises(aezoo.ConfigError, match="--components must be a positive integer"):
        gmm.fit(np.zeros((10, 2)), seed=0, components=0)
    with pytest.raises(aezoo.ConfigError, match="3 training codes cannot fit 10 components"):
        gmm.fit(np.zeros((3, 2)), seed=0, components=10)


def test_a_sampler_is_fitted_once_saved_reloaded_and_refitted(vae_run_copy):
    said = []
    s = samplers.get(vae_run_copy, "gmm", components=3, say=said.append)
    assert any("fitting the gmm sampler" in line for line in said)
    meta = json.loads((vae_run_copy / "samplers" / "gmm.json").read_text())
    assert meta["options"] == {"components": 3} and meta["epoch"] == 2 and meta["rows"] > 1000
    out = s.sample(5, jax.random.key(0))
    assert out["mean"].shape == (5, 8, 8, 1) and np.isfinite(out["mean"]).all()
    said.clear()
    again = samplers.get(vae_run_copy, "gmm", components=3, say=said.append)
    assert said == []  # read, not fitted
    np.testing.assert_array_equal(again.codes(7, jax.random.key(2)), s.codes(7, jax.random.key(2)))
    samplers.get(vae_run_copy, "gmm", components=2, say=said.append)  # other options
    assert any("fitting" in line for line in said)
    said.clear()
    meta = json.loads((vae_run_copy / "samplers" / "gmm.json").read_text())
    meta["params"] = "0" * 24  # fitted on other params (a run trained again from scratch)
    (vae_run_copy / "samplers" / "gmm.json").write_text(json.dumps(meta))
    samplers.get(vae_run_copy, "gmm", components=2, say=said.append)
    assert any("fitting" in line for line in said)
    said.clear()
    (vae_run_copy / "samplers" / "gmm.npz").write_bytes(b"PK\x03\x04 not an npz")
    samplers.get(vae_run_copy, "gmm", components=2, say=said.append)
    assert any("fitting" in line for line in said)


def _in_memory(name: str) -> LoadedModel:
    spec, module = aezoo.get(name, image_shape=(8, 8, 1), hidden_dims=(8,), latent_dim=2)
    params = module.init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)), label=jnp.zeros(1, int))
    return LoadedModel(spec, module, module.config, params["params"], {}, 0)


def test_refusals_are_one_line(tmp_path):
    cases = (
        ("vae", "flow", {}, "unknown sampler 'flow'; available: prior, gmm"),
        ("ae", "prior", {}, "--sampler prior needs a model that can sample from a prior"),
        ("cvae", "gmm", {}, "--sampler gmm fits codes without their labels"),
        ("vae", "gmm", {"comps": 3}, "unknown option\\(s\\) of --sampler gmm: comps"),
    )
    for model, name, options, message in cases:
        with pytest.raises(aezoo.ConfigError, match=message):
            samplers.get(tmp_path, name, model=_in_memory(model), **options)
    context = types.SimpleNamespace(
        m=_in_memory("ae"),
        options={"sampler": "prior", "quality_samples": 10, "quality_draws": 1, "quality_k": 3},
    )
    assert "ae has no prior to sample: score an ex-post sampler (--sampler gmm)" in (
        sample_quality_run.EVALUATOR.check(context)
    )


def test_cli_sample_writes_a_grid_and_eval_scores_the_sampler(
    vae_run_copy, digits_net, tmp_path, capsys
):
    from aezoo.cli import main

    out = tmp_path / "gmm.png"
    argv = ["sample", str(vae_run_copy), "--sampler", "gmm", "--components", "2", "--n", "20"]
    assert main([*argv, "--out", str(out)]) == 0
    assert out.stat().st_size > 1000 and "wrote" in capsys.readouterr().out
    assert main([*argv, "--out", str(vae_run_copy / "x.png")]) == 2  # inside the run folder
    assert main([*argv[:-2], "--n", "0", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "--n must be a positive integer; got 0" in err[1]
    r = aezoo.evaluate(
        vae_run_copy,
        evaluators=["sample_quality"],
        sampler="gmm",
        quality_samples=100,
        quality_draws=1,
        progress=False,
        cache_dir=str(digits_net[1]),
    )
    assert r["test/fd_digits_cnn_gmm"] > r["test/fd_digits_cnn_train"] > 0
    assert "test/fd_digits_cnn" not in r  # the prior's keys are its own
