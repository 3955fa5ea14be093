"""Losses: closed forms, identities and numerical stability."""

from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aezoo import losses


@pytest.mark.unit
def test_bernoulli_nll_matches_float64_reference_for_moderate_logits():
    logits = np.linspace(-30, 30, 101).astype(np.float32)
    targets = np.random.default_rng(0).uniform(size=101).astype(np.float32)
    l64 = logits.astype(np.float64)
    # -log sigmoid(l) = log(1 + e^-l) and -log(1 - sigmoid(l)) = log(1 + e^l), in float64.
    ref = targets * np.logaddexp(0, -l64) + (1 - targets) * np.logaddexp(0, l64)
    got = losses.bernoulli_nll(jnp.asarray(logits), jnp.asarray(targets))
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.unit
@pytest.mark.parametrize("logit", [1e4, -1e4, 3e3, -3e3])
@pytest.mark.parametrize("target", [0.0, 1.0, 0.5])
def test_bernoulli_nll_is_exact_and_finite_for_huge_logits(logit, target):
    lg = jnp.float32(logit)
    t = jnp.float32(target)
    got = losses.bernoulli_nll(lg, t)
    # For |l| >> 1: -log sigmoid(l) = max(-l, 0), -log(1 - sigmoid(l)) = max(l, 0).
    expected = target * max(-logit, 0.0) + (1 - target) * max(logit, 0.0)
    assert float(got) == pytest.approx(expected, rel=1e-6, abs=1e-6)
    grad = jax.grad(losses.bernoulli_nll)(lg, t)
    assert jnp.isfinite(grad)
    # d/dl = sigmoid(l) - t
    assert float(grad) == pytest.approx(float(jax.nn.sigmoid(lg)) - target, abs=1e-6)


@pytest.mark.unit
def test_gaussian_nll_matches_normal_log_density():
    rng = np.random.default_rng(1)
    x, mean = rng.normal(size=(2, 50)).astype(np.float32)
    logvar = rng.normal(size=50).astype(np.float32)
    var = np.exp(logvar.astype(np.float64))
    ref = 0.5 * np.log(2 * np.pi * var) + (x - mean) ** 2 / (2 * var)
    np.testing.assert_allclose(losses.gaussian_nll(x, mean, logvar), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        losses.gaussian_log_prob(x, mean, logvar), -ref, rtol=1e-5, atol=1e-6
    )


@pytest.mark.unit
@pytest.mark.parametrize("logvar", [0.0, -2.0, 1.5])
def test_squared_error_is_gaussian_nll_up_to_constants(logvar):
    """sum NLL = SSE / (2 var) + D/2 log(2 pi var): MSE training is Gaussian ML."""
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(4, 784)).astype(np.float32)
    mean = rng.uniform(size=(4, 784)).astype(np.float32)
    nll = np.asarray(losses.gaussian_nll(x, mean, jnp.float32(logvar))).sum(-1)
    sse = ((x - mean) ** 2).sum(-1)
    d = x.shape[-1]
    const = 0.5 * d * (math.log(2 * math.pi) + logvar)
    np.testing.assert_allclose(nll, sse / (2 * math.exp(logvar)) + const, rtol=1e-5)
    # ... so its gradient w.r.t. the mean is the MSE gradient scaled by 1 / var.
    g_nll = jax.grad(lambda m: losses.gaussian_nll(x, m, jnp.float32(logvar)).sum())(mean)
    g_sse = jax.grad(lambda m: 0.5 * jnp.sum((x - m) ** 2))(mean)
    np.testing.assert_allclose(g_nll, g_sse / math.exp(logvar), rtol=1e-5, atol=1e-6)


@pytest.mark.unit
def test_kl_to_standard_normal_matches_monte_carlo():
    mean = jnp.array([0.5, -1.0, 2.0])
    logvar = jnp.array([-1.0, 0.3, 0.0])
    analytic = losses.kl_normal_std(mean, logvar).sum()
    z = mean[None] + jnp.exp(0.5 * logvar)[None] * jax.random.normal(
        jax.random.key(0), (400_000, 3)
    )
    log_q = losses.gaussian_log_prob(z, mean[None], logvar[None]).sum(-1)
    log_p = losses.gaussian_log_prob(z, jnp.zeros((1, 3)), jnp.zeros((1, 3))).sum(-1)
    mc = jnp.mean(log_q - log_p)
    assert float(mc) == pytest.approx(float(analytic), abs=0.02)


@pytest.mark.unit
def test_kl_between_gaussians_matches_monte_carlo_and_special_cases():
    mq, lq = jnp.array([0.3, -0.7]), jnp.array([-0.5, 0.4])
    mp, lp = jnp.array([1.0, 0.2]), jnp.array([0.6, -0.3])
    analytic = losses.kl_normal(mq, lq, mp, lp).sum()
    z = mq[None] + jnp.exp(0.5 * lq)[None] * jax.random.normal(jax.random.key(1), (400_000, 2))
    mc = jnp.mean(
        losses.gaussian_log_prob(z, mq[None], lq[None]).sum(-1)
        - losses.gaussian_log_prob(z, mp[None], lp[None]).sum(-1)
    )
    assert float(mc) == pytest.approx(float(analytic), abs=0.02)
    # KL(q || q) = 0 and KL(q || N(0, 1)) agrees with the specialised form.
    chex.assert_trees_all_close(losses.kl_normal(mq, lq, mq, lq), jnp.zeros(2), atol=1e-7)
    chex.assert_trees_all_close(
        losses.kl_normal(mq, lq, jnp.zeros(2), jnp.zeros(2)),
        losses.kl_normal_std(mq, lq),
        rtol=1e-6,
    )
    assert bool(jnp.all(losses.kl_normal(mq, lq, mp, lp) >= 0))


@pytest.mark.unit
def test_image_nll_sums_pixels_per_example():
    x = jnp.full((3, 2, 2, 1), 0.25)
    logits = jnp.zeros((3, 2, 2, 1))
    got = losses.image_nll("bernoulli", {"logits": logits}, x)
    chex.assert_shape(got, (3,))
    np.testing.assert_allclose(got, 4 * math.log(2), rtol=1e-6)
    g = losses.image_nll("gaussian", {"mean": x, "logvar": jnp.zeros_like(x)}, x)
    np.testing.assert_allclose(g, 4 * 0.5 * math.log(2 * math.pi), rtol=1e-6)


@pytest.mark.unit
def test_image_nll_rejects_unknown_likelihood():
    with pytest.raises(ValueError, match="unknown likelihood 'laplace'"):
        losses.image_nll("laplace", {}, jnp.zeros((1, 1, 1, 1)))


@pytest.mark.unit
@pytest.mark.parametrize(("loc", "log_scale"), [(0.0, -2.0), (0.7, -4.5), (-1.3, 0.7), (0.2, -7.0)])
def test_discretized_logistic_is_a_distribution_over_the_256_values(loc, log_scale):
    """exp(-nll) summed over the 256 intensities is 1, and each value's probability is the
    logistic CDF's mass over its bin (float64 reference; the tails for 0 and 255)."""
    from aezoo.losses import discretized_logistic_nll

    xs = np.arange(256) / 255.0
    nll = discretized_logistic_nll(
        jnp.asarray(xs, jnp.float32), jnp.full(256, loc), jnp.full(256, log_scale)
    )
    p = np.exp(-np.asarray(nll, np.float64))
    assert p.sum() == pytest.approx(1.0, abs=2e-5)

    def cdf(v):
        return 0.5 * (1.0 + np.tanh(0.5 * (v - loc) / np.exp(log_scale)))

    centre = 2.0 * xs - 1.0
    upper = np.where(xs == 1.0, np.inf, centre + 1.0 / 255.0)
    lower = np.where(xs == 0.0, -np.inf, centre - 1.0 / 255.0)
    reference = cdf(upper) - cdf(lower)
    big = reference > 1e-4
    np.testing.assert_allclose(p[big], reference[big], rtol=2e-3)


@pytest.mark.unit
def test_discretized_logistic_gradients_are_finite_at_the_edges_and_far_away():
    from aezoo.losses import discretized_logistic_nll

    x = jnp.asarray([0.0, 1.0, 0.5, 0.0, 1.0])
    loc = jnp.asarray([5.0, -5.0, 0.0, -1.0, 1.0])  # far from, and right at, the values

    def total(loc, log_scale):
        return discretized_logistic_nll(x, loc, log_scale).sum()

    grads = jax.grad(total, argnums=(0, 1))(loc, jnp.full(5, -6.0))
    assert all(bool(jnp.isfinite(g).all()) for g in grads)
