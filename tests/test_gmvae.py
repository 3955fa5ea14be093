"""The mixture-prior VAE: its prior against SciPy, its loss against the VAE's where the two
priors agree, its clusters (a trained run's: tests/test_tasks.py, the clustering task)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import multivariate_normal

import aezoo
from aezoo.models import gmvae, vae

pytestmark = pytest.mark.model_file

SHAPE = (8, 8, 1)


@functools.cache
def _gmvae():
    """One small mixture-prior VAE (3 components, 2-D codes) and its initial parameters."""
    spec, module = aezoo.get(
        "gmvae", image_shape=SHAPE, latent_dim=2, hidden_dims=(16,), components=3
    )
    return spec, module, aezoo.train.init_params(module, jax.random.key(0))


def test_log_prior_is_the_uniform_mixture_density():
    _, module, params = _gmvae()
    z = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
    got = module.apply({"params": params}, jnp.asarray(z), method="log_prior")
    means, var = np.asarray(params["prior_mean"]), np.exp(np.asarray(params["prior_logvar"]))
    pdfs = [multivariate_normal(m, np.diag(v)).pdf(z) for m, v in zip(means, var, strict=True)]
    density = sum(pdfs) / 3
    np.testing.assert_allclose(got, np.log(density), rtol=1e-5)


def test_loss_equals_the_vae_loss_when_every_component_is_the_standard_normal():
    _, module, params = _gmvae()
    params = {**params, "prior_mean": jnp.zeros((3, 2)), "prior_logvar": jnp.zeros((3, 2))}
    _, vae_module = aezoo.get("vae", image_shape=SHAPE, latent_dim=2, hidden_dims=(16,))
    batch = {"image": jax.random.uniform(jax.random.key(1), (6, *SHAPE))}
    rng = jax.random.key(2)
    loss, _ = gmvae.SPEC.loss_fn(params, batch, rng, module=module)
    shared = {k: v for k, v in params.items() if not k.startswith("prior")}
    vae_loss, _ = vae.loss_fn(shared, batch, rng, module=vae_module)
    # the same sample z: log q(z|x) - log N(z; 0, I) is a one-sample estimate of the VAE's KL
    out = vae_module.apply({"params": shared}, batch["image"], rng=rng)
    logq = -0.5 * (
        np.log(2 * np.pi)
        + out["z_logvar"]
        + (out["z"] - out["z_mean"]) ** 2 / np.exp(out["z_logvar"])
    )
    logp = -0.5 * (np.log(2 * np.pi) + out["z"] ** 2)
    kl_analytic = -0.5 * (1 + out["z_logvar"] - out["z_mean"] ** 2 - np.exp(out["z_logvar"]))
    shift = np.mean(np.sum(logq - logp, -1) - np.sum(kl_analytic, -1))
    np.testing.assert_allclose(loss, vae_loss + shift, rtol=1e-5)


def test_classify_picks_the_component_nearest_the_posterior_mean():
    _, module, params = _gmvae()
    x = jax.random.uniform(jax.random.key(3), (4, *SHAPE))
    z = module.apply({"params": params}, x, method="encode")["z_mean"]
    far = jnp.stack([z[0], z[0] + 50.0, z[0] - 50.0])  # component 0 sits on the first code
    params = {**params, "prior_mean": far, "prior_logvar": jnp.zeros((3, 2))}
    logits = module.apply({"params": params}, x, method="classify")
    assert logits.shape == (4, 3) and int(jnp.argmax(logits[0])) == 0
    posterior = jax.nn.softmax(logits[0])
    assert float(posterior[0]) > 0.999


@pytest.mark.slow
def test_samples_come_from_the_components_and_the_is_bound_uses_the_mixture():
    spec, module, params = _gmvae()
    out = module.apply({"params": params}, 5, jax.random.key(4), method="sample")
    assert out["logits"].shape == (5, *SHAPE) and bool(jnp.all(jnp.isfinite(out["logits"])))
    batch = {"image": jax.random.uniform(jax.random.key(5), (3, *SHAPE))}
    log_w = spec.density(params, batch, jax.random.key(6), module=module, num_samples=64)
    elbo, iw = jnp.mean(log_w, 0), vae.iw_bound(log_w)
    assert bool(jnp.all(iw >= elbo - 1e-5))  # the importance-weighted bound is the tighter one
    moved = {**params, "prior_mean": params["prior_mean"] + 3.0}
    log_w2 = spec.density(moved, batch, jax.random.key(6), module=module, num_samples=64)
    assert not np.allclose(log_w, log_w2)  # the prior's parameters enter the weights


@pytest.fixture(scope="module")
def ae_run(tmp_path_factory):
    """A tiny ae trained one epoch on digits (the warm start's source)."""
    from tests.conftest import TINY_RUN

    workdir = tmp_path_factory.mktemp("ae")
    train = aezoo.data.load("digits", "train")
    aezoo.fit(
        "ae",
        train,
        epochs=1,
        workdir=workdir,
        figures=False,
        **TINY_RUN,
        model_config={"hidden_dims": (16,), "latent_dim": 3},
    )
    return workdir, train


@pytest.mark.optax
def test_warm_start_takes_the_ae_nets_and_fits_the_prior_to_its_codes(ae_run):
    from sklearn.mixture import GaussianMixture

    from aezoo.train.warm import warm_start

    workdir, (images, _) = ae_run
    spec, module = aezoo.get(
        "gmvae", image_shape=images.shape[1:], hidden_dims=(16,), latent_dim=3, components=4
    )
    config = aezoo.TrainConfig(dataset="digits", init_from=str(workdir), seed=5)
    params = warm_start(spec, module, (images, None), config)
    source = aezoo.load(workdir)
    x = images[:50]
    codes = np.asarray(source.encode(images)["z"], np.float64)
    q = module.apply({"params": params}, aezoo.data.to_float(jnp.asarray(x)), method="encode")
    np.testing.assert_allclose(q["z_mean"], codes[:50], rtol=1e-5, atol=1e-5)
    rec = module.apply({"params": params}, q["z_mean"], method="decode")
    np.testing.assert_allclose(rec["logits"], source.decode(codes[:50])["logits"], atol=1e-4)
    gmm = GaussianMixture(4, covariance_type="diag", reg_covar=1e-6, random_state=5).fit(codes)
    np.testing.assert_allclose(params["prior_mean"], gmm.means_, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(params["prior_logvar"], np.log(gmm.covariances_), rtol=1e-4)
    head = np.log(gmvae.POSTERIOR_SHRINK) + np.log(gmm.covariances_).mean(0)
    np.testing.assert_allclose(q["z_logvar"], np.broadcast_to(head, (50, 3)), rtol=1e-4)


@pytest.mark.slow
@pytest.mark.optax
def test_a_warm_started_run_trains_and_a_source_that_does_not_fit_leaves_nothing(ae_run, tmp_path):
    from tests.conftest import TINY_RUN

    workdir, train = ae_run
    net = {"hidden_dims": (16,), "latent_dim": 3, "components": 4}
    result = aezoo.fit(
        "gmvae",
        train,
        epochs=1,
        init_from=str(workdir),
        model_config=net,
        workdir=tmp_path / "vade",
        figures=False,
        **TINY_RUN,
    )
    assert np.isfinite(result.history[-1]["train/loss"])
    assert aezoo.load(tmp_path / "vade").run["train"]["init_from"] == str(workdir)
    cases = [
        ("gmvae", {**net, "hidden_dims": (8,)}, {}, "the run's decoder differs"),
        ("gmvae", {**net, "latent_dim": 2}, {}, "differs from this model's"),
        ("vae", {"hidden_dims": (16,), "latent_dim": 3}, {}, "vae cannot start from another run"),
        ("gmvae", net, {"seeds": 2}, "--init-from starts one model"),
    ]
    for i, (model, model_config, extra, message) in enumerate(cases):
        out = tmp_path / f"bad-{i}"
        with pytest.raises(aezoo.ConfigError, match=message):
            aezoo.fit(
                model,
                train,
                epochs=1,
                init_from=str(workdir),
                workdir=out,
                model_config=model_config,
                **extra,
                **TINY_RUN,
            )
        assert not out.exists()
    with pytest.raises(aezoo.CheckpointError, match="no run in"):
        aezoo.fit(
            "gmvae", train, epochs=1, init_from=str(tmp_path / "none"), model_config=net, **TINY_RUN
        )
