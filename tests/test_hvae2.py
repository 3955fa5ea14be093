"""The two-layer VAE: its importance weights reduce to the one-layer VAE's when the top
layer is the identity; its loss is the ELBO or the K-sample bound of those weights."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import aezoo
from aezoo.models import hvae2
from aezoo.models.vae import iw_bound
from aezoo.models.vae import log_importance_weights as vae_log_weights

pytestmark = pytest.mark.model_file

SHAPE = (8, 8, 1)
D = 3


def _model(**config):
    kw = {"latent_dim": D, "hidden_dims": (16,), "top_latent_dim": D, "top_hidden_dims": (8,)}
    spec, module = aezoo.get("hvae2", image_shape=SHAPE, **{**kw, **config})
    params = aezoo.train.init_params(module, jax.random.key(0))
    x = jax.random.bernoulli(jax.random.key(1), 0.3, (5, *SHAPE)).astype(jnp.float32)
    return spec, module, params, {"image": x}


def _identity_gaussian(log_var: float) -> dict:
    """A GaussianMLP with one hidden layer of 2D ReLUs computing mean = input (as
    relu(z) - relu(-z)) and a constant log-variance."""
    eye = np.eye(D, dtype=np.float32)
    w0 = np.concatenate([eye, -eye], axis=1)  # [D, 2D]
    w1 = np.zeros((2 * D, 2 * D), np.float32)
    w1[:D, :D], w1[D:, :D] = eye, -eye  # the mean half; the log-variance half is its bias
    b1 = np.concatenate([np.zeros(D), np.full(D, log_var)]).astype(np.float32)
    zeros = np.zeros(2 * D, np.float32)
    return {
        "mlp": {"dense_0": {"kernel": w0, "bias": zeros}, "dense_1": {"kernel": w1, "bias": b1}}
    }


def test_an_identity_top_layer_gives_the_one_layer_importance_weights():
    _, module, params, batch = _model(top_hidden_dims=(2 * D,))
    top = _identity_gaussian(log_var=2 * np.log(1e-4))  # z2 = z1 + 1e-4 eps, and back
    params = {**params, "q_top": top, "p_mid": top}
    rng = jax.random.key(3)
    two = hvae2.log_importance_weights(params, batch, rng, module=module, num_samples=200)
    _, vae = aezoo.get("vae", image_shape=SHAPE, latent_dim=D, hidden_dims=(16,))
    one_params = {k: params[k] for k in ("encoder", "decoder")}
    k1 = jax.random.split(rng)[0]  # the key hvae2 draws z1 with
    one = vae_log_weights(one_params, batch, k1, module=vae, num_samples=200)
    np.testing.assert_allclose(two, one, atol=2e-3)
    np.testing.assert_allclose(iw_bound(two), iw_bound(one), atol=1e-3)


@pytest.mark.parametrize("k", [1, 4])
def test_the_loss_is_minus_the_elbo_or_the_k_sample_bound(k):
    spec, module, params, batch = _model(num_samples=k)
    loss_fn = jax.jit(functools.partial(spec.loss_fn, module=module))
    loss, metrics = loss_fn(params, batch, jax.random.key(4))
    log_w = hvae2.log_importance_weights(
        params, batch, jax.random.key(4), module=module, num_samples=k
    )
    np.testing.assert_allclose(loss, -jnp.mean(iw_bound(log_w)), rtol=1e-5)
    np.testing.assert_allclose(metrics["nll_bound"], loss, rtol=1e-6)
    np.testing.assert_allclose(metrics["nll"] + metrics["kl"], -jnp.mean(log_w), rtol=1e-5)


def test_warmup_weighs_the_latent_terms_and_needs_one_sample():
    spec, module, params, batch = _model(kl_warmup_steps=10)
    loss, m = spec.loss_fn(
        params, {**batch, "step": jnp.int32(5)}, jax.random.key(0), module=module
    )
    np.testing.assert_allclose(loss, m["nll"] + 0.5 * m["kl"], rtol=1e-5)
    np.testing.assert_allclose(m["nll_bound"], m["nll"] + m["kl"], rtol=1e-5)
    with pytest.raises(aezoo.ConfigError, match="use it with --num-samples 1"):
        aezoo.get("hvae2", kl_warmup_steps=10, num_samples=5)


def test_samples_go_down_the_hierarchy_and_codes_are_z1():
    _, module, params, batch = _model()
    s = module.apply({"params": params}, 6, jax.random.key(0), method="sample")
    assert s["logits"].shape == (6, *SHAPE) and np.isfinite(s["logits"]).all()
    q = module.apply({"params": params}, batch["image"], method="encode")
    assert q["z"].shape == (5, D) and q["z2_mean"].shape == (5, D)
    out = module.apply({"params": params}, batch["image"], rng=jax.random.key(1))
    assert out["z2"].shape == (5, D) and not np.allclose(out["z"], q["z"])


def test_a_vamp_top_prior_is_the_exact_mixture_and_samples_through_it():
    from scipy.special import logsumexp
    from scipy.stats import norm

    _, module, params, _ = _model(top_prior="vamp", pseudo_inputs=4)
    assert params["pseudo_inputs"].shape == (4, *SHAPE)
    variables = {"params": params}
    mean, logvar = (
        np.asarray(a, np.float64) for a in module.apply(variables, method="top_components")
    )
    z2 = np.asarray(jax.random.normal(jax.random.key(5), (7, D)), np.float64)
    per_k = norm.logpdf(z2[:, None], mean[None], np.exp(0.5 * logvar)[None]).sum(-1)
    got = module.apply(variables, jnp.asarray(z2, jnp.float32), method="log_prior_top")
    np.testing.assert_allclose(got, logsumexp(per_k, axis=1) - np.log(4), rtol=1e-5, atol=1e-4)
    s = module.apply(variables, 5, jax.random.key(0), method="sample")
    assert s["logits"].shape == (5, *SHAPE) and np.isfinite(s["logits"]).all()
    batch = {"image": jnp.full((3, *SHAPE), 0.5)}
    log_w = hvae2.log_importance_weights(
        params, batch, jax.random.key(1), module=module, num_samples=3
    )
    assert log_w.shape == (3, 3) and np.isfinite(log_w).all()


def test_the_loss_trains_the_pseudo_inputs_of_a_vamp_top_prior():
    spec, module, params, batch = _model(top_prior="vamp", pseudo_inputs=4)
    grads = jax.jit(
        jax.grad(lambda p: spec.loss_fn(p, batch, jax.random.key(0), module=module)[0])
    )(params)
    for name in ("pseudo_inputs", "encoder", "decoder", "q_top", "p_mid"):
        total = sum(float(jnp.abs(g).sum()) for g in jax.tree.leaves(grads[name]))
        assert np.isfinite(total) and total > 0, name
