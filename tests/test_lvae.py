"""The ladder VAE: the precision-weighted posterior is the normalized product of the two
Gaussians, the top-down log-weights equal their terms computed by hand, and the bound over
many samples is tighter than the ELBO (with either top prior)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm

import aezoo
from aezoo.models import lvae

pytestmark = pytest.mark.model_file

SHAPE = (8, 8, 1)
NET = {"latent_dim": 3, "hidden_dims": (16,), "top_latent_dim": 2, "top_hidden_dims": (8,)}


@pytest.mark.unit
def test_precision_weighting_is_the_normalized_product_of_the_gaussians():
    ma, la, mb, lb = jnp.asarray(0.5), jnp.asarray(-1.0), jnp.asarray(-2.0), jnp.asarray(0.7)
    mean, logvar = lvae.precision_weighted(ma, la, mb, lb)
    z = np.linspace(-4, 4, 9)
    product = norm.logpdf(z, ma, np.exp(la / 2)) + norm.logpdf(z, mb, np.exp(lb / 2))
    ratio = product - norm.logpdf(z, mean, np.exp(logvar / 2))
    np.testing.assert_allclose(ratio, ratio[0], atol=1e-5)  # proportional: same Gaussian
    assert float(logvar) < min(float(la), float(lb))


@pytest.mark.parametrize("top_prior", ["normal", "vamp"])
def test_top_down_log_weights_are_their_terms_by_hand(top_prior):
    spec, module = aezoo.get("lvae", image_shape=SHAPE, top_prior=top_prior, pseudo_inputs=4, **NET)
    params = aezoo.train.init_params(module, jax.random.key(0))
    x = jax.random.bernoulli(jax.random.key(1), 0.3, (5, *SHAPE)).astype(jnp.float32)
    rng, v = jax.random.key(2), {"params": params}
    log_w = spec.density(params, {"image": x}, rng, module=module, num_samples=1)[0]
    q = module.apply(v, x, method="bottom_up")
    k1, k2 = jax.random.split(rng)
    eps2 = jax.random.normal(k2, (1, *q["z2_mean"].shape))[0]
    z2 = q["z2_mean"] + np.exp(0.5 * q["z2_logvar"]) * eps2
    pm, plv = module.apply(v, z2, method="prior_mid")
    mean, logvar = lvae.precision_weighted(q["up_mean"], q["up_logvar"], pm, plv)
    z1 = mean + np.exp(0.5 * logvar) * jax.random.normal(k1, (1, *mean.shape))[0]
    logits = module.apply(v, z1, method="decode")["logits"]
    log_px = -np.sum(np.logaddexp(0, logits) - x * logits, axis=(1, 2, 3))

    def log_n(z, m, lv):
        return np.sum(norm.logpdf(z, m, np.exp(np.asarray(lv) / 2)), axis=-1)

    expected = (
        log_px
        + log_n(z1, pm, plv)
        + np.asarray(module.apply(v, z2, method="log_prior_top"))
        - log_n(z1, mean, logvar)
        - log_n(z2, q["z2_mean"], q["z2_logvar"])
    )
    np.testing.assert_allclose(log_w, expected, rtol=1e-4, atol=1e-3)
    many = spec.density(params, {"image": x}, rng, module=module, num_samples=300)
    bound = jax.nn.logsumexp(many, axis=0) - np.log(300)
    assert np.all(bound > np.mean(many, axis=0))
    loss, m = spec.loss_fn(params, {"image": x}, rng, module=module)
    np.testing.assert_allclose(loss, m["nll"] + m["kl"], rtol=1e-5)
