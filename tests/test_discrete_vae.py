"""The discrete-latent VAEs (gumbel_vae, binary_vae): exact draws from q, the KLs' closed
forms, straight-through values and gradients, the annealed temperature, and the
importance-sampled NLL against log p(x) summed exactly over every code of a tiny model."""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import aezoo
from aezoo._flags import parse_int_tuple
from aezoo.models import binary_vae, gumbel_vae

pytestmark = pytest.mark.model_file

SHAPE = (8, 8, 1)


@pytest.mark.unit
def test_hard_draws_follow_q_and_the_relaxation_sharpens_as_tau_falls():
    logits = jnp.asarray([[1.0, -0.5, 0.0]])
    keys = jax.random.split(jax.random.key(0), 20_000)
    _, bits = jax.jit(jax.vmap(lambda k: binary_vae.draw_bits(logits, k, 1.0, None)))(keys)
    np.testing.assert_allclose(bits.mean(0)[0], jax.nn.sigmoid(logits)[0], atol=0.01)
    cat = jnp.asarray([[[2.0, 0.0, -1.0]]])
    _, hard = jax.jit(jax.vmap(lambda k: gumbel_vae.draw_codes(cat, k, 1.0, None)))(keys)
    np.testing.assert_allclose(hard.mean(0)[0, 0], jax.nn.softmax(cat)[0, 0], atol=0.01)
    key = jax.random.key(3)
    for tau, tol in ((1.0, 0.5), (0.01, 0.02)):
        soft, hard = gumbel_vae.draw_codes(cat, key, tau, "relaxed")
        assert float(jnp.max(jnp.abs(soft - hard))) < tol or tau == 1.0


@pytest.mark.unit
def test_straight_through_is_hard_forward_and_relaxed_backward():
    logits = jnp.asarray([[0.3, -1.2, 2.0, 0.1]])
    key, tau = jax.random.key(1), 0.7
    code, hard = binary_vae.draw_bits(logits, key, tau, "straight_through")
    np.testing.assert_array_equal(code, hard)
    weights = jnp.arange(1.0, 5.0)[None]

    def through(estimator):
        return jax.grad(
            lambda lg: jnp.sum(weights * binary_vae.draw_bits(lg, key, tau, estimator)[0])
        )

    np.testing.assert_allclose(through("straight_through")(logits), through("relaxed")(logits))


@pytest.mark.unit
def test_the_kls_have_their_closed_forms():
    logits = jnp.asarray([[0.5, -2.0, 3.0]])
    q = jax.nn.sigmoid(logits)
    direct = jnp.sum(q * jnp.log(2 * q) + (1 - q) * jnp.log(2 * (1 - q)))
    np.testing.assert_allclose(binary_vae.kl_to_fair_coins(logits)[0], direct, rtol=1e-5)
    cat = jnp.asarray([[[0.5, -2.0, 3.0], [0.0, 0.0, 0.0]]])
    p = jax.nn.softmax(cat)
    np.testing.assert_allclose(
        gumbel_vae.kl_to_uniform(cat)[0], jnp.sum(p * jnp.log(3 * p)), rtol=1e-5, atol=1e-7
    )


@pytest.mark.unit
def test_the_temperature_anneals_to_its_floor():
    config = gumbel_vae.GumbelVAEConfig(temperature=2.0, min_temperature=0.5, anneal_rate=1e-3)
    np.testing.assert_allclose(gumbel_vae.temperature(config, jnp.int32(0)), 2.0)
    np.testing.assert_allclose(
        gumbel_vae.temperature(config, jnp.int32(500)), 2 * math.exp(-0.5), rtol=1e-6
    )
    assert float(gumbel_vae.temperature(config, jnp.int32(100_000))) == 0.5
    assert float(gumbel_vae.temperature(config, None)) == 0.5


def _exact_log_px(spec, module, params, x, codes, log_prior):
    """log sum_z p(x|z) p(z) over the listed codes (every one of a tiny model)."""
    out = module.apply({"params": params}, codes, method="decode")
    reps = jnp.broadcast_to(x[:, None], (x.shape[0], len(codes), *x.shape[1:]))
    logits = jnp.broadcast_to(out["logits"][None], reps.shape)
    log_px = -jnp.sum(jnp.logaddexp(0.0, logits) - reps * logits, axis=tuple(range(2, reps.ndim)))
    return jax.nn.logsumexp(log_px + log_prior, axis=1)


@pytest.mark.parametrize("name", ["binary_vae", "gumbel_vae"])
def test_the_importance_sampled_nll_matches_the_exact_sum_over_codes(name):
    extra = {"categories": 3} if name == "gumbel_vae" else {}
    dims = 2 if name == "gumbel_vae" else 3
    spec, module = aezoo.get(name, image_shape=SHAPE, latent_dim=dims, hidden_dims=(16,), **extra)
    params = aezoo.train.init_params(module, jax.random.key(0))
    x = jax.random.bernoulli(jax.random.key(1), 0.3, (3, *SHAPE)).astype(jnp.float32)
    if name == "binary_vae":
        codes = jnp.asarray(list(itertools.product([0.0, 1.0], repeat=dims)))
        log_prior = -dims * math.log(2)
    else:
        pairs = list(itertools.product(range(3), repeat=dims))
        codes = jax.nn.one_hot(jnp.asarray(pairs), 3).reshape(len(pairs), -1)
        log_prior = -dims * math.log(3)
    exact = _exact_log_px(spec, module, params, x, codes, log_prior)
    log_w = spec.density(params, {"image": x}, jax.random.key(2), module=module, num_samples=4000)
    estimate = jax.nn.logsumexp(log_w, axis=0) - math.log(4000)
    # Within four standard errors of the weights' mean (delta method: the relative one).
    w = np.exp(np.asarray(log_w, np.float64) - np.asarray(estimate)[None])
    stderr = np.std(w, axis=0) / np.sqrt(4000)
    assert np.all(np.abs(np.asarray(estimate) - np.asarray(exact)) < 4 * stderr + 1e-3)
    # The evaluation loss (hard codes) is a bound on the same exact value.
    loss, m = spec.loss_fn(params, {"image": x}, jax.random.key(3), module=module)
    assert float(m["nll_bound"]) == float(loss) and np.isfinite(float(loss))
    assert float(-jnp.mean(exact)) <= float(jnp.mean(-jnp.mean(log_w, axis=0))) + 1e-4


@pytest.mark.unit
def test_binary_vae_beta_weights_the_kl_in_the_loss_not_in_the_bound():
    x = jax.random.bernoulli(jax.random.key(1), 0.3, (4, *SHAPE)).astype(jnp.float32)
    batch = {"image": x, "step": jnp.asarray(0)}
    out = {}
    for beta in (1.0, 3.0):
        spec, module = aezoo.get("binary_vae", image_shape=SHAPE, latent_dim=5, beta=beta)
        params = aezoo.train.init_params(module, jax.random.key(0))
        out[beta] = spec.loss_fn(params, batch, jax.random.key(2), module=module)
    (loss1, m1), (loss3, m3) = out[1.0], out[3.0]
    np.testing.assert_allclose(loss1, m1["nll"] + m1["kl"], rtol=1e-6)
    np.testing.assert_allclose(loss3, m3["nll"] + 3.0 * m3["kl"], rtol=1e-6)
    # The reported bound is the ELBO's whatever beta is: same params, same draw.
    np.testing.assert_allclose(m3["nll_bound"], m1["nll_bound"], rtol=1e-6)
    assert float(m1["kl"]) > 0


@pytest.mark.optax
def test_hidden_dims_none_makes_a_linear_binary_vae_that_learns(digits):
    """``--hidden-dims none``: one Dense each way (linear hashing); the loss still falls."""
    args = {"hidden_dims": parse_int_tuple("none"), "latent_dim": 16}
    assert args["hidden_dims"] == ()
    train, test = digits
    config = aezoo.TrainConfig(epochs=3, batch_size=64)
    result = aezoo.fit("binary_vae", train, test, config=config, progress=False, model_config=args)
    layers = jax.tree_util.tree_map(jnp.shape, result.state.params)
    assert layers["encoder"] == {"mlp": {"dense_0": {"bias": (16,), "kernel": (64, 16)}}}
    assert layers["decoder"] == {"mlp": {"dense_0": {"bias": (64,), "kernel": (16, 64)}}}
    losses = [h["train/loss"] for h in result.history]
    assert losses[-1] < losses[0]
