"""Evaluation: the importance-sampled NLL against a closed form, probes, figures, CLI."""

from __future__ import annotations

import json
import math

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import aezoo
from aezoo.eval import likelihood
from aezoo.models import ModelSpec
from aezoo.models.vae import VAEConfig, log_importance_weights

D_X, D_Z = 16, 2
SIGMA2 = 0.1


def _linear_gaussian_problem():
    """Probabilistic PCA: x = z W + b + eps, z ~ N(0, I), eps ~ N(0, SIGMA2 I).

    W has orthogonal rows, so the exact posterior is a diagonal Gaussian.
    """
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(D_X, D_X)))
    w = np.diag([1.5, 0.8]) @ q[:D_Z]  # [D_Z, D_X], orthogonal rows
    b = rng.normal(size=D_X) * 0.3
    post_var = 1.0 / (1.0 + np.sum(w**2, axis=1) / SIGMA2)  # [D_Z]
    a = w.T * post_var[None, :] / SIGMA2  # posterior mean = (x - b) @ a
    return w.astype(np.float32), b.astype(np.float32), a.astype(np.float32), post_var


class LinearGaussian(nn.Module):
    """A VAE-shaped linear-Gaussian model with a (possibly perturbed) exact posterior."""

    config: VAEConfig
    w: np.ndarray
    b: np.ndarray
    a: np.ndarray
    post_logvar: np.ndarray

    def __call__(self, x, *, rng=None, train=True, label=None):
        return self.decode(self.encode(x)["z_mean"])

    def encode(self, x, *, label=None):
        flat = x.reshape(x.shape[0], -1)
        mean = (flat - self.b[None]) @ self.a
        return {"z_mean": mean, "z_logvar": jnp.broadcast_to(self.post_logvar, mean.shape)}

    def decode(self, z, *, label=None):
        mean = (z @ self.w + self.b[None]).reshape(z.shape[0], 4, 4, 1)
        return {"mean": mean, "logvar": jnp.full_like(mean, math.log(SIGMA2))}


def _setup(mean_shift=0.0, logvar_shift=0.0):
    w, b, a, post_var = _linear_gaussian_problem()
    cfg = VAEConfig(
        image_shape=(4, 4, 1),
        latent_dim=D_Z,
        hidden_dims=(1,),
        likelihood="gaussian",
        obs_logvar=math.log(SIGMA2),
    )
    module = LinearGaussian(
        cfg, w, b, a * (1.0 + mean_shift), (np.log(post_var) + logvar_shift).astype(np.float32)
    )
    spec = ModelSpec(
        "linear_gaussian",
        "pPCA",
        VAEConfig,
        LinearGaussian,
        lambda *a, **k: None,
        density=log_importance_weights,
    )
    x = np.random.default_rng(1).normal(size=(40, D_Z)) @ w + b
    x = x + np.sqrt(SIGMA2) * np.random.default_rng(2).normal(size=x.shape)
    cov = w.T @ w + SIGMA2 * np.eye(D_X)
    diff = x - b
    _, logdet = np.linalg.slogdet(cov)
    exact = -0.5 * (
        D_X * math.log(2 * math.pi)
        + logdet
        + np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff)
    )
    batch = {"image": jnp.asarray(x.reshape(-1, 4, 4, 1), jnp.float32)}
    return spec, module, batch, exact


def test_is_estimate_is_exact_with_the_true_posterior():
    spec, module, batch, exact = _setup()
    fn = likelihood.make_log_px_fn(spec, module, num_samples=10, batch_size=40)
    np.testing.assert_allclose(fn({}, batch, jax.random.key(0)), exact, atol=1e-3)


def test_is_estimate_matches_the_closed_form_within_a_tenth_of_a_nat():
    # An imperfect encoder (means 10% off, variances 35% too wide): the ELBO is loose.
    spec, module, batch, exact = _setup(mean_shift=0.1, logvar_shift=0.3)
    fn = likelihood.make_log_px_fn(spec, module, num_samples=5000, batch_size=40)
    est = np.asarray(fn({}, batch, jax.random.key(0)))
    assert abs(float(np.mean(est - exact))) < 0.1
    assert np.max(np.abs(est - exact)) < 0.1  # every one of the 40 examples


@pytest.mark.slow
def test_is_estimate_is_above_the_elbo_and_grows_with_k():
    spec, module, batch, exact = _setup(mean_shift=0.3, logvar_shift=0.5)
    log_w = log_importance_weights({}, batch, jax.random.key(9), module=module, num_samples=4000)
    elbo = float(jnp.mean(log_w))  # E_q[log w] = ELBO, averaged over 4000 draws
    means = {}
    repeats = {1: 40, 10: 10, 100: 3, 5000: 1}
    for k, n in repeats.items():
        # Average over independent estimates: monotonicity holds in expectation.
        fn = likelihood.make_log_px_fn(spec, module, num_samples=k, batch_size=40)
        means[k] = float(np.mean([fn({}, batch, jax.random.key(s)) for s in range(n)]))
    assert means[1] == pytest.approx(elbo, abs=0.15)
    assert elbo < means[10] < means[100] < means[5000] + 1e-3
    assert means[5000] <= float(np.mean(exact)) + 0.05  # a stochastic lower bound


def test_chunking_keeps_memory_bounded_and_the_estimate_unchanged():
    assert likelihood.chunk_size(5000, 100) == 500
    assert likelihood.chunk_size(7, 100) == 7
    assert likelihood.chunk_size(5000, 1000) == 50
    spec, module, batch, _ = _setup(mean_shift=0.3, logvar_shift=0.5)
    a = likelihood.make_log_px_fn(spec, module, num_samples=200, batch_size=40)
    b = likelihood.make_log_px_fn(spec, module, num_samples=200, batch_size=4000)  # 1 chunk..
    assert likelihood.chunk_size(200, 4000) == 10  # .. of 10 samples each time
    va, vb = a({}, batch, jax.random.key(0)), b({}, batch, jax.random.key(0))
    assert float(jnp.mean(jnp.abs(va - vb))) < 0.2  # different draws, same target


@pytest.mark.parametrize(
    "kind",
    ["bernoulli", *(pytest.param(k, marks=pytest.mark.slow) for k in ("gaussian", "logistic"))],
)
def test_the_is_nll_is_the_estimate_written_out_by_hand(kind):
    """Pins the estimator and its random stream: the K codes of chunk 0 are drawn from
    ``fold_in(key, 0)`` as ``[K, B, D]``; the images' NLL under each decode, summed over
    pixels, plus log p(z) - log q(z|x), log-mean-exp'd over K."""
    spec, module = aezoo.get(
        "vae", image_shape=(8, 8, 1), latent_dim=3, hidden_dims=(16,), likelihood=kind
    )
    params = aezoo.train.init_params(module, jax.random.key(0))
    x = jax.random.uniform(jax.random.key(1), (6, 8, 8, 1))
    if kind == "bernoulli":
        x = jnp.round(x)
    key, k = jax.random.key(2), 20
    fn = likelihood.make_log_px_fn(spec, module, num_samples=k, batch_size=6)
    estimate = np.asarray(fn(params, {"image": x}, key), np.float64)
    q = module.apply({"params": params}, x, method="encode")
    eps = jax.random.normal(jax.random.fold_in(key, 0), (k, 6, 3))
    z = q["z_mean"][None] + np.exp(0.5 * q["z_logvar"])[None] * eps
    log_w = []
    for i in range(k):  # one decode per code, the images as they are: no broadcasting
        out = module.apply({"params": params}, z[i], method="decode")
        log_px = -aezoo.losses.image_nll(kind, out, x)
        log_pz = np.sum(-0.5 * (np.square(z[i]) + np.log(2 * np.pi)), axis=-1)
        var = np.exp(q["z_logvar"])
        log_qz = np.sum(
            -0.5 * (np.square(z[i] - q["z_mean"]) / var + np.log(2 * np.pi * var)), axis=-1
        )
        log_w.append(np.asarray(log_px, np.float64) + log_pz - log_qz)
    log_w = np.stack(log_w)
    top = log_w.max(0)
    expected = top + np.log(np.mean(np.exp(log_w - top), axis=0))
    np.testing.assert_allclose(estimate, expected, rtol=2e-6, atol=1e-4)


@pytest.mark.parametrize("rows", [6, 12, 18])
@pytest.mark.parametrize("name", ["vae", "cvae"])
def test_decoding_in_blocks_changes_no_value(name, rows):
    """The IS-NLL decodes its chunks in blocks of codes: 20 codes x 6 images in blocks of
    1, 2, or 3 codes (6 full blocks and a remainder of 2) give the same [K, B] up to the
    order of the pixel sum (float rounding)."""
    from aezoo.models.vae import decode_in_blocks, decoded_log_px

    _, module = aezoo.get(name, image_shape=(8, 8, 1), latent_dim=3, hidden_dims=(16,))
    params = aezoo.train.init_params(module, jax.random.key(0))
    x = jnp.round(jax.random.uniform(jax.random.key(1), (6, 8, 8, 1)))
    z = jax.random.normal(jax.random.key(2), (20, 6, 3))
    label = jnp.arange(6, dtype=jnp.int32) if name == "cvae" else None

    def log_px(block_rows):  # the setting is read at trace time, as the IS-NLL's scan does
        def fn():
            if block_rows is None:
                return decoded_log_px(params, x, z, module=module, label=label)
            with decode_in_blocks(block_rows):
                return decoded_log_px(params, x, z, module=module, label=label)

        return jax.jit(fn)

    assert "while" not in log_px(None).lower().as_text()
    assert "while" in log_px(rows).lower().as_text()  # the blocks' lax.map
    whole, blocked = log_px(None)(), log_px(rows)()
    chex.assert_shape(blocked, (20, 6))
    np.testing.assert_allclose(np.asarray(blocked), np.asarray(whole), rtol=1e-6)


def test_active_units_counts_dimensions_with_varying_means():
    means = np.stack(
        [
            np.random.default_rng(0).normal(size=500),
            np.full(500, 0.3),
            0.05 * np.random.default_rng(1).normal(size=500),
        ],
        axis=1,
    )
    assert likelihood.active_units(means) == 1


@pytest.mark.optax
@pytest.mark.slow
def test_aezoo_eval_writes_eval_json_report_and_figures(tmp_path, capsys):
    from aezoo.cli import main

    workdir = tmp_path / "vae2d"
    assert (
        main(
            [
                "train",
                "vae",
                "--latent-dim",
                "2",
                "--hidden-dims",
                "64",
                "--epochs",
                "15",
                "--workdir",
                str(workdir),
                "--no-progress",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "eval",
                str(workdir),
                "--nll-samples",
                "100",
                "--probe-train",
                "1000",
                "--no-progress",
            ]
        )
        == 0
    )
    results = json.loads((workdir / "eval.json").read_text())
    for key in (
        "test/nll_is",
        "nll_samples",
        "test/elbo",
        "test/recon",
        "test/psnr",
        "active_units",
        "probe/logreg_acc",
        "probe/knn_acc",
        "baseline/pixels_logreg_acc",
        "baseline/pca2_knn_acc",
        "test/bits_per_dim",
        "kl_per_dim",
    ):
        assert key in results, key
    assert results["nll_samples"] == 100
    # The IS estimate is a tighter bound than the ELBO: a smaller NLL.
    assert results["test/nll_is"] <= -results["test/elbo"] + 0.05
    assert 0.2 < results["probe/knn_acc"] <= 1.0
    assert len(results["kl_per_dim"]) == 2
    for name in (
        "manifold.png",
        "latent_scatter.png",
        "interpolation.png",
        "samples.png",
        "reconstructions.png",
    ):
        assert (workdir / name).stat().st_size > 0
    report = (workdir / "report.md").read_text()
    assert "![" in report and "manifold.png" in report and "test/nll_is" in report
    assert results["evaluators"] == ["objective", "nll", "probes", "figures"]
    # One evaluator alone: its metrics replace theirs in eval.json, the others' stay.
    alone = aezoo.evaluate(workdir, evaluators=["nll"], nll_samples=10, progress=False)
    assert alone["evaluators"] == ["objective", "nll", "probes", "figures"]
    assert alone["nll_samples"] == 10 and alone["test/nll_is"] != results["test/nll_is"]
    assert alone["probe/knn_acc"] == results["probe/knn_acc"]
    assert json.loads((workdir / "eval.json").read_text()) == alone
    # Another split (or checkpoint) starts eval.json afresh: nothing of the test split kept.
    other = aezoo.evaluate(workdir, evaluators=["nll"], nll_samples=10, split="train[:100]")
    assert other["evaluators"] == ["nll"] and "probe/knn_acc" not in other


@pytest.mark.optax
@pytest.mark.slow
def test_eval_of_a_model_without_density_skips_the_is_nll(tmp_path):
    from aezoo.eval.run import evaluate

    train, test = aezoo.data.load("digits", "train"), aezoo.data.load("digits", "test")
    aezoo.fit(
        "ae",
        train,
        test,
        model_config={"latent_dim": 4, "hidden_dims": (32,)},
        epochs=2,
        batch_size=64,
        workdir=tmp_path,
        dataset="digits",
        progress=False,
    )
    results = evaluate(tmp_path, nll_samples=100, probe_train=500, progress=False)
    assert "test/nll_is" not in results and "test/recon" in results
    assert (tmp_path / "latent_scatter.png").exists()  # 4-D codes: a PCA scatter
    assert not (tmp_path / "manifold.png").exists()
    assert results["evaluators"] == ["objective", "probes", "figures"]
    with pytest.raises(aezoo.ConfigError, match=r"^evaluator nll needs a model that can give a"):
        evaluate(tmp_path, evaluators=["nll"], progress=False)
    probes = evaluate(tmp_path, evaluators=["probes"], probe_train=500, progress=False)
    assert probes["probe/knn_acc"] == results["probe/knn_acc"]  # the codes without objective


def test_eval_cli_errors(tmp_path, capsys):
    from aezoo.cli import main

    assert main(["eval", str(tmp_path / "missing")]) == 2
    assert "config.json is missing" in capsys.readouterr().err
    assert main(["eval", str(tmp_path), "--nll-samples", "-1"]) == 2
    assert "--nll-samples must be an integer >= 0" in capsys.readouterr().err
