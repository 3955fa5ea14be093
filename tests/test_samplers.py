"""Ex-post samplers: the GMM recovers a known mixture and scikit-learn's density; the flow is
a normalized density that beats one Gaussian and inverts exactly; the two-stage VAE draws
codes near the training codes; the autoregressive prior learns a Markov chain's known
likelihood and is causal; uniform codes have the closed form; a sampler is fitted once,
saved in the run folder, reloaded, refitted when the params or options change; refusals
are one line; `aezoo sample` and the sample_quality evaluator take them, and VQ-VAE samples
through a prior fitted on its codes."""

from __future__ import annotations

import json
import math
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import multivariate_normal

import aezoo
from aezoo import samplers
from aezoo.eval import sample_quality_run
from aezoo.samplers import autoregressive, flow, gmm, two_stage, uniform
from aezoo.train.load import LoadedModel
from tests.conftest import TINY_NET, TINY_RUN


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
    said.clear()
    fitted = dict(np.load(vae_run_copy / "samplers" / "gmm.npz"))
    fitted["means"] = fitted["means"][:, :1]  # a valid npz with other arrays: refitted
    np.savez(vae_run_copy / "samplers" / "gmm.npz", **fitted)
    again = samplers.get(vae_run_copy, "gmm", components=2, say=said.append)
    assert any("fitting" in line for line in said) and again.arrays["means"].shape[1] == 2


def _in_memory(name: str) -> LoadedModel:
    spec, module = aezoo.get(name, image_shape=(8, 8, 1), hidden_dims=(8,), latent_dim=2)
    params = module.init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)), label=jnp.zeros(1, int))
    return LoadedModel(spec, module, module.config, params["params"], {}, 0)


def test_refusals_are_one_line(tmp_path):
    cases = (
        (
            "vae",
            "pixelcnn",
            {},
            "unknown sampler 'pixelcnn'; available: prior, normal, gmm, two_stage, flow, "
            "autoregressive, uniform",
        ),
        ("ae", "prior", {}, "^--sampler prior: ae has no prior of its own; its samplers: normal,"),
        ("cvae", "gmm", {}, "^--sampler gmm: cvae decodes with a label"),
        ("vae", "autoregressive", {}, "vae has no discrete code \\(models with one: vqvae\\)"),
        ("vae", "gmm", {"comps": 3}, "unknown option\\(s\\) of --sampler gmm: comps"),
    )
    for model, name, options, message in cases:
        with pytest.raises(aezoo.ConfigError, match=message):
            samplers.get(tmp_path, name, model=_in_memory(model), **options)
    context = types.SimpleNamespace(
        m=_in_memory("ae"),
        options={"sampler": "prior", "quality_samples": 10, "quality_draws": 1, "quality_k": 3},
    )
    assert sample_quality_run.EVALUATOR.check(context) == (
        "--sampler prior: ae has no prior of its own; its samplers: normal, gmm, two_stage, flow"
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


@pytest.mark.unit
def test_gmm_log_prob_matches_scikit_learn():
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(300, 3)), rng.normal(3.0, 0.5, size=(200, 3))])
    fitted = gmm.fit(x, seed=0, components=2)
    reference = GaussianMixture(2, covariance_type="full", reg_covar=1e-6, random_state=0)
    expected = reference.fit(x).score_samples(x[:50])
    np.testing.assert_allclose(gmm.log_prob(fitted, x[:50]), expected, rtol=1e-4, atol=1e-4)


def _correlated_codes(n: int = 4000) -> np.ndarray:
    """Two clusters in 4-D with a nonlinear (banana) dependence: not one Gaussian."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4))
    x[: n // 2, 0] += 4.0
    x[:, 1] += 0.5 * x[:, 0] ** 2
    return (3.0 * x + 1.0).astype(np.float32)  # off the unit scale: standardizing matters


@pytest.mark.optax
@pytest.mark.slow  # learned code densities: the fast tier fits the vqvae prior (below)
def test_flow_is_a_normalized_density_that_learns_and_samples_the_codes():
    codes = _correlated_codes()
    options = {"flow_steps": 4, "hidden": 32}
    fitted = flow.fit(codes, seed=0, say=lambda _: None, epochs=8, **options)
    log_p = np.asarray(flow.log_prob(fitted, codes[:1000], **options))
    one_gaussian = multivariate_normal(codes.mean(0), np.cov(codes.T)).logpdf(codes[:1000])
    assert np.isfinite(log_p).all() and log_p.mean() > one_gaussian.mean() + 0.3
    z = np.asarray(flow.draw(fitted, 4000, jax.random.key(1), **options))
    np.testing.assert_allclose(z.mean(0), codes.mean(0), atol=0.15 * codes.std(0).max())
    assert np.mean(z[:, 0] > codes[:, 0].mean()) == pytest.approx(0.5, abs=0.06)
    # Exact density: on a 2-D flow, it integrates to one over a grid that holds the mass.
    two = codes[:, 1:3]
    fitted2 = flow.fit(two, seed=0, say=lambda _: None, epochs=3, **options)
    lo, hi = two.min(0) - 3 * two.std(0), two.max(0) + 3 * two.std(0)
    g0, g1 = np.linspace(lo[0], hi[0], 300), np.linspace(lo[1], hi[1], 300)
    grid = np.stack(np.meshgrid(g0, g1, indexing="ij"), -1).reshape(-1, 2)
    density = np.exp(np.asarray(flow.log_prob(fitted2, grid, **options), np.float64))
    mass = density.sum() * (g0[1] - g0[0]) * (g1[1] - g1[0])
    assert mass == pytest.approx(1.0, abs=0.03)


@pytest.mark.slow
def test_flow_inverse_undoes_the_forward_pass():
    spec_module = flow._module(4, 4, 16)
    params = spec_module.init(jax.random.key(0), jnp.zeros((1, 1, 1, 4)))["params"]
    params = jax.tree.map(lambda p: p + 0.3 * jax.random.normal(jax.random.key(1), p.shape), params)
    x = jax.random.normal(jax.random.key(2), (16, 4))

    def forward(module, x):
        for layer in module.layers:
            x, _ = layer(x)
        return x

    y = spec_module.apply({"params": params}, x, method=forward)
    back = y
    for i in reversed(range(4)):
        back = spec_module.apply(
            {"params": params}, back, method=lambda m, v, i=i: m.layers[i].inverse(v)
        )
    np.testing.assert_allclose(back, x, atol=1e-5)


@pytest.mark.optax
@pytest.mark.slow  # learned code densities: the fast tier fits the vqvae prior (below)
def test_two_stage_vae_draws_codes_near_the_training_codes():
    codes = _correlated_codes(3000)
    options = {"hidden": 64, "layers": 2}
    fitted = two_stage.fit(codes, seed=0, say=lambda _: None, epochs=10, **options)
    z = np.asarray(two_stage.draw(fitted, 3000, jax.random.key(0), **options))
    assert z.shape == codes.shape and np.isfinite(z).all()
    np.testing.assert_allclose(z.mean(0), codes.mean(0), atol=0.25 * codes.std(0).max())
    np.testing.assert_allclose(z.std(0), codes.std(0), rtol=0.35)


def _markov_codes(n: int, positions: int = 6, vocabulary: int = 8) -> np.ndarray:
    """Each code is the previous one plus 0 or 1 (mod V): log p = -log V - (L - 1) log 2."""
    rng = np.random.default_rng(0)
    steps = rng.integers(0, 2, (n, positions))
    steps[:, 0] = rng.integers(0, vocabulary, n)
    return np.cumsum(steps, axis=1) % vocabulary


@pytest.mark.optax
@pytest.mark.slow  # learned code densities: the fast tier fits the vqvae prior (below)
def test_autoregressive_prior_learns_a_markov_chain_and_is_causal():
    codes = _markov_codes(3000)
    options = {"width": 32, "layers": 1}
    fitted = autoregressive.fit(
        codes, seed=0, vocabulary=8, say=lambda _: None, epochs=6, **options
    )
    nll = -float(np.mean(autoregressive.log_prob(fitted, codes[:500], **options)))
    exact = math.log(8) + 5 * math.log(2)
    assert exact <= nll + 0.05 and nll < exact + 0.6 < 6 * math.log(8)
    drawn = np.asarray(autoregressive.draw(fitted, 500, jax.random.key(0), **options))
    assert drawn.shape == (500, 6) and drawn.dtype == np.int32
    assert np.mean(np.diff(drawn, axis=1) % 8 <= 1) > 0.95
    # Position i's logits do not change when later codes change.
    module = autoregressive._prior(fitted, options)
    params = samplers._density.params_of(fitted)
    a, b = codes[:4].copy(), codes[:4].copy()
    b[:, 3:] = (b[:, 3:] + 5) % 8
    la, lb = (module.apply({"params": params}, c, method="logits") for c in (a, b))
    np.testing.assert_allclose(la[:, :4], lb[:, :4], atol=1e-5)
    assert not np.allclose(la[:, 4:], lb[:, 4:])


@pytest.mark.unit
def test_the_normal_sampler_draws_standard_normal_codes_with_their_density():
    fitted = samplers.normal.fit(np.zeros((5, 3), np.float32), seed=0)
    z = np.asarray(samplers.normal.draw(fitted, 20_000, jax.random.key(0)))
    assert z.shape == (20_000, 3)
    np.testing.assert_allclose(z.mean(0), 0, atol=0.03)
    np.testing.assert_allclose(z.std(0), 1, atol=0.03)
    expected = multivariate_normal(np.zeros(3), np.eye(3)).logpdf(z[:5])
    np.testing.assert_allclose(samplers.normal.log_prob(fitted, z[:5]), expected, rtol=1e-5)


@pytest.mark.unit
def test_uniform_codes_have_the_closed_form_likelihood():
    fitted = uniform.fit(np.zeros((5, 20), np.int32), seed=0, vocabulary=64)
    np.testing.assert_allclose(uniform.log_prob(fitted, np.zeros((3, 20))), -20 * math.log(64))
    drawn = np.asarray(uniform.draw(fitted, 4000, jax.random.key(0)))
    assert drawn.shape == (4000, 20) and drawn.min() == 0 and drawn.max() == 63


@pytest.mark.optax
def test_vqvae_samples_through_a_prior_fitted_on_its_codes(digits, tmp_path, digits_net):
    run = tmp_path / "vq"
    aezoo.fit("vqvae", *digits, workdir=run, epochs=2, model_config=TINY_NET, **TINY_RUN)
    m = aezoo.load(run)
    with pytest.raises(aezoo.ConfigError, match=r"^--sampler prior: vqvae has no prior of its own"):
        samplers.get(run, "prior", model=m)
    s = samplers.get(run, "autoregressive", model=m, say=lambda _: None, epochs=1, width=16)
    out = s.sample(6, jax.random.key(0))
    assert out["mean"].shape == (6, 8, 8, 1) and np.isfinite(out["mean"]).all()
    codes = s.codes(6, jax.random.key(0))
    np.testing.assert_array_equal(m.decode_codes(codes)["mean"], out["mean"])
    assert np.all(np.asarray(s.log_prob(codes)) < 0)
    with pytest.raises(aezoo.ShapeError, match=r"codes must lie in 0\.\.63"):
        m.decode_codes(np.full((1, 2), 64))
    r = aezoo.evaluate(
        run,
        evaluators=["sample_quality"],
        sampler="uniform",
        quality_samples=50,
        quality_draws=1,
        progress=False,
        cache_dir=str(digits_net[1]),
    )
    assert r["test/code_nll_uniform"] == pytest.approx(2 * math.log(64))
    assert r["test/fd_digits_cnn_uniform"] > r["test/fd_digits_cnn_train"] > 0
