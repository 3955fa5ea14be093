"""VampPrior: the prior is exactly the mixture of the pseudo-inputs' posteriors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import norm

import aezoo
from aezoo.models import vamp

pytestmark = pytest.mark.model_file

SHAPE = (8, 8, 1)


def _model(k: int = 5):
    spec, module = aezoo.get(
        "vamp", image_shape=SHAPE, latent_dim=3, hidden_dims=(16,), pseudo_inputs=k
    )
    x = jnp.zeros((2, *SHAPE))
    params = module.init({"params": jax.random.key(0)}, x, rng=jax.random.key(1))["params"]
    return spec, module, params


def test_log_prior_is_the_brute_force_mixture_of_the_pseudo_posteriors():
    _, module, params = _model(k=5)
    mean, logvar = (
        np.asarray(a, np.float64)
        for a in module.apply({"params": params}, method="prior_components")
    )
    z = np.asarray(jax.random.normal(jax.random.key(2), (7, 3)), np.float64)
    per_k = norm.logpdf(z[:, None, :], mean[None], np.exp(0.5 * logvar)[None]).sum(-1)
    expected = logsumexp(per_k, axis=1) - np.log(5)
    got = module.apply({"params": params}, jnp.asarray(z, jnp.float32), method="log_prior")
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-4)
    batched = module.apply(
        {"params": params}, jnp.asarray(z.reshape(7, 1, 3), jnp.float32), method="log_prior"
    )
    assert batched.shape == (7, 1)  # [..., D] -> [...], as the IS-NLL calls it with [K, B, D]


def test_pseudo_inputs_are_images_initialized_near_zero():
    _, module, params = _model(k=4)
    u = np.asarray(module.apply({"params": params}, method="pseudo_inputs"))
    assert u.shape == (4, *SHAPE) and u.min() >= 0.0 and u.max() <= 1.0
    assert abs(u.mean() - vamp.PSEUDO_INIT_MEAN) < 0.01


def test_one_pseudo_input_makes_the_prior_its_posterior():
    _, module, params = _model(k=1)
    mean, logvar = module.apply({"params": params}, method="prior_components")
    z = mean + 0.3
    expected = norm.logpdf(np.asarray(z), np.asarray(mean), np.exp(0.5 * np.asarray(logvar))).sum(
        -1
    )
    got = module.apply({"params": params}, z, method="log_prior")
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5)


@pytest.mark.optax
def test_vamp_trains_and_learns_its_pseudo_inputs(digits):
    config = {"hidden_dims": (32,), "latent_dim": 4, "pseudo_inputs": 10}
    result = aezoo.fit("vamp", *digits, epochs=4, progress=False, model_config=config)
    losses = [h["test/loss"] for h in result.history]
    assert losses[-1] < losses[0] and np.isfinite(losses).all()
    moved = np.asarray(result.params["pseudo_inputs"])
    assert np.abs(moved - vamp.PSEUDO_INIT_MEAN).max() > 0.02  # the prior learned
    samples = result.module.apply({"params": result.params}, 6, jax.random.key(0), method="sample")
    assert samples["mean"].shape == (6, 8, 8, 1)


def test_kl_warmup_weighs_the_kl_in_training_only():
    spec, module = aezoo.get(
        "vamp",
        image_shape=SHAPE,
        latent_dim=3,
        hidden_dims=(16,),
        pseudo_inputs=5,
        kl_warmup_steps=10,
    )
    params = module.init({"params": jax.random.key(0)}, jnp.zeros((2, *SHAPE)))["params"]
    batch = {"image": jnp.full((4, *SHAPE), 0.5)}
    key = jax.random.key(3)
    for step, weight in ((0, 0.0), (5, 0.5), (20, 1.0), (None, 1.0)):
        b = batch if step is None else {**batch, "step": jnp.int32(step)}
        loss, m = spec.loss_fn(params, b, key, module=module)
        np.testing.assert_allclose(loss, m["nll"] + weight * m["kl"], rtol=1e-6)
        np.testing.assert_allclose(m["nll_bound"], m["nll"] + m["kl"], rtol=1e-6)
        assert float(m["kl_weight"]) == weight
