"""The disentangling VAEs: each penalty has its closed form or known answer, reduces to the
VAE where its paper says so, and trains only the parameters it should."""

from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import aezoo
from aezoo.losses import total_correlation
from aezoo.models import annealed_vae, beta_tcvae, dip_vae, factor_vae, vae

pytestmark = [pytest.mark.optax, pytest.mark.model_file]
NET = {"latent_dim": 4, "hidden_dims": (32,), "image_shape": (8, 8, 1)}


def _batch():
    x, y = aezoo.data.load("digits", "test")
    return {"image": aezoo.data.to_float(jnp.asarray(x[:64])), "label": jnp.asarray(y[:64])}


def _params(name, **config):
    spec, module = aezoo.get(name, **{**NET, **config})
    return spec, module, aezoo.train.init_params(module, jax.random.key(0))


def test_total_correlation_is_log_b_for_copied_dimensions_and_zero_for_a_grid():
    narrow = jnp.full((16, 2), -12.0)  # posteriors ~ points: only a row's own Gaussian counts
    a = jnp.arange(16.0)
    copied = jnp.stack([a, a], axis=1)  # z_1 == z_2: all the information is shared
    tc = total_correlation(copied, copied, narrow)
    np.testing.assert_allclose(tc, math.log(16), rtol=1e-5)
    grid = jnp.stack(jnp.meshgrid(jnp.arange(4.0), jnp.arange(4.0)), -1).reshape(16, 2)
    np.testing.assert_allclose(total_correlation(grid, grid, narrow), 0.0, atol=1e-5)
    one = total_correlation(copied[:1], copied[:1], narrow[:1])  # B = 1: q(z) factorizes
    np.testing.assert_allclose(one, 0.0, atol=1e-6)


def test_beta_tcvae_with_beta_one_is_the_vae_and_reports_tc():
    _, module, params = _params("beta_tcvae", beta=1.0)
    batch, key = _batch(), jax.random.key(1)
    loss, metrics = beta_tcvae.loss_fn(params, batch, key, module=module)
    np.testing.assert_allclose(loss, vae.loss_fn(params, batch, key, module=module)[0], rtol=1e-6)
    _, module6 = aezoo.get("beta_tcvae", **NET, beta=6.0)
    loss6, m6 = beta_tcvae.loss_fn(params, batch, key, module=module6)
    np.testing.assert_allclose(loss6, loss + 5.0 * m6["tc"], rtol=1e-5)
    assert np.isfinite(metrics["tc"])


def test_dip_covariance_is_the_batch_covariance_and_the_penalty_vanishes_at_identity():
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(500, 3)).astype(np.float32)
    logvar = rng.normal(size=(500, 3)).astype(np.float32)
    cov_i = dip_vae.code_covariance(jnp.asarray(mean), jnp.asarray(logvar), "i")
    np.testing.assert_allclose(cov_i, np.cov(mean.T, bias=True), rtol=1e-4, atol=1e-5)
    cov_ii = dip_vae.code_covariance(jnp.asarray(mean), jnp.asarray(logvar), "ii")
    np.testing.assert_allclose(cov_ii - cov_i, np.diag(np.exp(logvar).mean(0)), rtol=1e-4)
    _, module, params = _params("dip_vae", lambda_od=0.0)
    batch, key = _batch(), jax.random.key(1)
    loss = dip_vae.loss_fn(params, batch, key, module=module)[0]
    np.testing.assert_allclose(loss, vae.loss_fn(params, batch, key, module=module)[0], rtol=1e-6)


def test_dip_penalty_weights_off_diagonal_and_diagonal_as_configured():
    _, module, params = _params("dip_vae", dip_type="i", lambda_od=2.0)
    batch, key = _batch(), jax.random.key(1)
    loss, m = dip_vae.loss_fn(params, batch, key, module=module)
    expected = m["nll_bound"] + 2.0 * m["dip_off_diag"] + 20.0 * m["dip_on_diag"]  # d_factor 10
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_annealed_capacity_grows_linearly_and_the_loss_holds_kl_at_it():
    cfg = aezoo.models.MODELS["annealed_vae"].make_config(c_max=20.0, capacity_steps=100)
    caps = [float(annealed_vae.capacity(cfg, jnp.int32(s))) for s in (0, 50, 100, 500)]
    assert caps == pytest.approx([0.0, 10.0, 20.0, 20.0])
    _, module, params = _params("annealed_vae", gamma=3.0, c_max=20.0, capacity_steps=100)
    batch = {**_batch(), "step": jnp.int32(25)}
    loss, m = annealed_vae.loss_fn(params, batch, jax.random.key(1), module=module)
    np.testing.assert_allclose(loss, m["nll"] + 3.0 * abs(m["kl"] - 5.0), rtol=1e-5)


def test_permute_dims_shuffles_each_column_independently():
    z = jnp.stack([jnp.arange(100.0), jnp.arange(100.0)], axis=1)
    shuffled = np.asarray(factor_vae.permute_dims(jax.random.key(0), z))
    for d in range(2):  # each column keeps its values
        np.testing.assert_array_equal(np.sort(shuffled[:, d]), np.arange(100.0))
    assert np.corrcoef(shuffled.T)[0, 1] < 0.5  # but the pairing is gone


@pytest.mark.slow
def test_factor_vae_tc_is_the_mean_discriminator_logit_and_phases_split_the_params():
    spec, module, params = _params("factor_vae", gamma=10.0)
    batch, key = _batch(), jax.random.key(1)
    loss, m = factor_vae.vae_loss(params, batch, key, module=module)
    out = module.apply({"params": params}, batch["image"], rng=key)
    logits = module.apply({"params": params}, out["z"], method="discriminate")
    np.testing.assert_allclose(m["tc"], jnp.mean(logits), rtol=1e-5)
    np.testing.assert_allclose(loss, m["nll_bound"] + 10.0 * m["tc"], rtol=1e-5)
    optimizer = optax.adam(1e-2)
    state = aezoo.train.create_train_state(spec, module, optimizer, jax.random.key(0))
    phase = spec.phases_for(module.config)[1]  # disc: the discriminator only
    grads = jax.grad(lambda p: phase.loss_fn(p, batch, key, module=module)[0])(state.params)
    tx = spec.optimizers(module.config, optimizer)[1]
    updates, _ = tx.update(grads, state.opt_state[1], state.params)
    after = optax.apply_updates(state.params, updates)
    chex.assert_trees_all_equal(after["encoder"], state.params["encoder"])
    assert not np.allclose(
        after["discriminator"]["dense_0"]["kernel"],
        state.params["discriminator"]["dense_0"]["kernel"],
    )


@pytest.mark.slow
def test_factor_vae_discriminator_learns_to_spot_correlated_codes():
    # Codes with z_1 == z_2 (TC large): a trained discriminator tells them from shuffled ones.
    _, module, params = _params("factor_vae", latent_dim=2)
    disc = {"discriminator": params["discriminator"]}
    tx = optax.adam(1e-2)
    opt = tx.init(disc)

    def loss(p, key):
        z = jnp.repeat(jax.random.normal(key, (256, 1)), 2, axis=1)
        real = module.apply({"params": {**params, **p}}, z, method="discriminate")
        fake = module.apply(
            {"params": {**params, **p}}, factor_vae.permute_dims(key, z), method="discriminate"
        )
        return jnp.mean(jax.nn.softplus(-real)) + jnp.mean(jax.nn.softplus(fake))

    @jax.jit
    def step(p, o, key):
        g = jax.grad(loss)(p, key)
        u, o = tx.update(g, o, p)
        return optax.apply_updates(p, u), o

    for i in range(200):
        disc, opt = step(disc, opt, jax.random.key(i))
    assert float(loss(disc, jax.random.key(999))) < 0.5 * 2 * math.log(2)
