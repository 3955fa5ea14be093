"""WAE-MMD and InfoVAE: the unbiased MMD against its closed form for two Gaussians, each
loss against its definition computed another way, InfoVAE at alpha 0 / lambda 1 equal to
the VAE, refusals in one line."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import aezoo
from aezoo.losses import mmd, mmd_kernel
from aezoo.losses._penalties import MMD_SCALES

pytestmark = pytest.mark.model_file

SHAPE = (8, 8, 1)


def _gaussian_rbf_expectation(mu: float, var1: float, var2: float, dim: int) -> float:
    """E k(X, Y) for X ~ N(mu1, var1 I), Y ~ N(mu2, var2 I), ||mu1 - mu2||^2 = mu, with the
    multi-scale kernel sum_s exp(-|x - y|^2 / C_s): a Gaussian integral per scale."""
    total = 0.0
    for s in MMD_SCALES:
        c = 2.0 * dim * s  # exp(-d^2 / c) = Gaussian kernel of variance c / 2
        v = c / 2.0
        total += (v / (v + var1 + var2)) ** (dim / 2) * math.exp(-mu / (2 * (v + var1 + var2)))
    return total


def test_unbiased_rbf_mmd_matches_the_closed_form_for_two_gaussians():
    dim, shift, n = 3, 1.5, 3000
    expected = (
        _gaussian_rbf_expectation(0.0, 1.0, 1.0, dim)
        + _gaussian_rbf_expectation(0.0, 2.0, 2.0, dim)
        - 2 * _gaussian_rbf_expectation(dim * shift**2, 1.0, 2.0, dim)
    )
    estimates, nulls = [], []
    rbf = jax.jit(functools.partial(mmd, kernel="rbf"))
    for seed in range(6):  # one batch's estimate has about 2.5% noise here
        kx, ky, kz = jax.random.split(jax.random.key(seed), 3)
        x = jax.random.normal(kx, (n, dim))
        y = jax.random.normal(ky, (n, dim)) * math.sqrt(2.0) + shift
        estimates.append(float(rbf(x, y)))
        nulls.append(float(rbf(x, jax.random.normal(kz, (n, dim)))))
    assert np.mean(estimates) == pytest.approx(expected, rel=0.03)
    assert abs(np.mean(nulls)) < 0.005 * expected


@pytest.mark.unit
def test_imq_kernel_and_the_estimator_are_unbiased_on_a_small_case():
    sq = jnp.asarray([0.0, 1.0, 4.0])
    expected = sum(2 * 2 * s / (2 * 2 * s + sq) for s in MMD_SCALES)
    np.testing.assert_allclose(mmd_kernel(sq, 2, "imq"), expected, rtol=1e-6)
    x = jnp.asarray([[0.0, 0.0], [1.0, 0.0]])
    y = jnp.asarray([[0.0, 1.0], [2.0, 2.0], [1.0, 1.0]])

    def k(a, b):
        return float(mmd_kernel(jnp.sum(jnp.square(a - b)), 2, "imq"))

    kxx = k(x[0], x[1])  # the off-diagonal pairs only
    kyy = np.mean([k(y[i], y[j]) for i in range(3) for j in range(3) if i != j])
    kxy = np.mean([k(a, b) for a in x for b in y])
    np.testing.assert_allclose(mmd(x, y, kernel="imq"), kxx + kyy - 2 * kxy, rtol=1e-5)


@pytest.mark.unit
@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_mmd_of_a_sample_with_itself_is_zero_and_grows_with_a_shift(kernel):
    x = jax.random.normal(jax.random.key(0), (200, 4))
    assert float(mmd(x, x, kernel=kernel)) == pytest.approx(0.0, abs=1e-6)
    shifted = [float(mmd(x, x + s, kernel=kernel)) for s in (0.1, 0.3, 1.0, 3.0)]
    assert 0 < shifted[0] < shifted[1] < shifted[2] < shifted[3]


def _batch():
    x = jax.random.bernoulli(jax.random.key(1), 0.3, (16, *SHAPE)).astype(jnp.float32)
    return {"image": x}


def _loss(name: str, **config):
    spec, module = aezoo.get(name, image_shape=SHAPE, latent_dim=3, hidden_dims=(16,), **config)
    params = aezoo.train.init_params(module, jax.random.key(0))
    fn = jax.jit(functools.partial(spec.loss_fn, module=module))
    return module, params, fn(params, _batch(), jax.random.key(2))


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_wae_loss_is_nll_plus_lambda_mmd_to_prior_draws(kernel):
    module, params, (loss, m) = _loss("wae", mmd_weight=7.0, kernel=kernel)
    z = module.apply({"params": params}, _batch()["image"], method="encode")["z"]
    prior = jax.random.normal(jax.random.split(jax.random.key(2))[1], z.shape)
    np.testing.assert_allclose(m["mmd"], mmd(z, prior, kernel=kernel), rtol=1e-5)
    np.testing.assert_allclose(loss, m["nll"] + 7.0 * m["mmd"], rtol=1e-6)
    out = module.apply({"params": params}, 5, jax.random.key(3), method="sample")
    assert out["mean"].shape == (5, *SHAPE) and np.isfinite(out["mean"]).all()


def test_info_vae_is_the_vae_at_alpha_0_lambda_1_and_weights_its_terms():
    _, _, (vae_loss, _) = _loss("vae")
    _, _, (loss, m) = _loss("info_vae", alpha=0.0, mmd_weight=1.0)
    # Same params (same init), the VAE's key is the first half of the split.
    vae_spec, vae_module = aezoo.get("vae", image_shape=SHAPE, latent_dim=3, hidden_dims=(16,))
    params = aezoo.train.init_params(vae_module, jax.random.key(0))
    vae_key = jax.random.split(jax.random.key(2))[0]
    expected, _ = vae_spec.loss_fn(params, _batch(), vae_key, module=vae_module)
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    assert np.isfinite(vae_loss)
    _, _, (loss, m) = _loss("info_vae", alpha=0.25, mmd_weight=100.0)
    np.testing.assert_allclose(loss, m["nll"] + 0.75 * m["kl"] + 99.25 * m["mmd"], rtol=1e-5)
    np.testing.assert_allclose(m["nll_bound"], m["nll"] + m["kl"], rtol=1e-6)


@pytest.mark.unit
def test_refusals_are_one_line():
    with pytest.raises(aezoo.ConfigError, match="alpha \\+ mmd_weight must be >= 1"):
        aezoo.get("info_vae", alpha=0.0, mmd_weight=0.5)
    with pytest.raises(aezoo.ConfigError, match="kernel"):
        aezoo.get("wae", kernel="laplace")
    with pytest.raises(aezoo.ConfigError, match="alpha"):
        aezoo.get("info_vae", alpha=1.5)
