"""The multi-sample bounds (iwae, miwae, ciwae, piwae) and the DReG estimator: each bound
against its closed form on the same samples, each gradient routed to the parameters it
promises, DReG's encoder gradient equal to the plain one's in expectation."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import aezoo
from aezoo.models import iwae
from aezoo.models.vae import iw_bound, log_importance_weights

pytestmark = pytest.mark.model_file

SHAPE = (8, 8, 1)
NET = {"hidden_dims": (16,), "latent_dim": 2}


def _model(name: str, **config):
    spec, module = aezoo.get(name, image_shape=SHAPE, **NET, **config)
    params = aezoo.train.init_params(module, jax.random.key(0))
    x = jax.random.bernoulli(jax.random.key(1), 0.3, (6, *SHAPE)).astype(jnp.float32)
    return spec, module, params, {"image": x}


def _log_w(module, params, batch, k: int, key: int = 3) -> jax.Array:
    fn = functools.partial(log_importance_weights, module=module, num_samples=k)
    return jax.jit(fn)(params, batch, jax.random.key(key))


def _grads(spec, module, params, batch, key: int = 3):
    def loss(p):
        return spec.loss_fn(p, batch, jax.random.key(key), module=module)[0]

    return jax.jit(jax.grad(loss))(params)


def _close(a, b, **tol):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), **tol)


@pytest.mark.unit
def test_grouped_bound_spans_iwae_to_elbo():
    log_w = jax.random.normal(jax.random.key(0), (12, 5)) * 3.0
    grouped, bound = jax.jit(iwae.grouped_bound, static_argnums=1), jax.jit(iw_bound)
    np.testing.assert_allclose(grouped(log_w, 1), bound(log_w), rtol=1e-6)
    np.testing.assert_allclose(grouped(log_w, 12), log_w.mean(0), rtol=1e-6)
    by_hand = np.mean([bound(log_w[4 * m : 4 * m + 4]) for m in range(3)], axis=0)
    np.testing.assert_allclose(grouped(log_w, 3), by_hand, rtol=1e-6)
    # Jensen: fewer samples per bound, a looser bound.
    assert np.all(grouped(log_w, 3) <= bound(log_w) + 1e-6)


@pytest.mark.parametrize(
    ("name", "config", "bound"),
    [
        ("miwae", {"num_samples": 3, "num_groups": 2}, lambda w: iwae.grouped_bound(w, 2)),
        ("ciwae", {"num_samples": 6, "beta": 1.0}, lambda w: w.mean(0)),
        ("ciwae", {"num_samples": 6, "beta": 0.0}, iw_bound),
        (
            "ciwae",
            {"num_samples": 6, "beta": 0.25},
            lambda w: 0.25 * w.mean(0) + 0.75 * iw_bound(w),
        ),
        ("piwae", {"num_samples": 3, "num_groups": 2}, iw_bound),
        ("iwae", {"num_samples": 6, "estimator": "dreg"}, iw_bound),
    ],
)
def test_each_loss_is_minus_its_bound_on_the_same_samples(name, config, bound):
    spec, module, params, batch = _model(name, **config)
    loss, metrics = jax.jit(functools.partial(spec.loss_fn, module=module))(
        params, batch, jax.random.key(3)
    )
    log_w = _log_w(module, params, batch, 6)
    np.testing.assert_allclose(loss, -jnp.mean(bound(log_w)), rtol=1e-5)
    np.testing.assert_allclose(metrics["nll_bound"], -jnp.mean(iw_bound(log_w)), rtol=1e-5)
    np.testing.assert_allclose(metrics["neg_elbo"], -jnp.mean(log_w), rtol=1e-5)
    assert 1.0 <= float(metrics["ess"]) <= 6.0


def test_dreg_changes_only_the_encoders_gradient():
    spec, module, params, batch = _model("iwae", num_samples=6)
    dspec, dmodule, _, _ = _model("iwae", num_samples=6, estimator="dreg")
    plain = _grads(spec, module, params, batch)
    dreg = _grads(dspec, dmodule, params, batch)
    _close(dreg["decoder"], plain["decoder"], rtol=1e-4, atol=1e-6)
    leaves = zip(jax.tree.leaves(dreg["encoder"]), jax.tree.leaves(plain["encoder"]), strict=True)
    gap = max(float(jnp.abs(a - b).max()) for a, b in leaves)
    assert gap > 1e-4  # the encoder's gradient is another estimate


def test_piwae_routes_iwae_to_the_decoder_and_miwae_to_the_encoder():
    config = {"num_samples": 3, "num_groups": 2}
    p = _grads(*_model("piwae", **config))
    spec, module, params, batch = _model("iwae", num_samples=6)
    _close(p["decoder"], _grads(spec, module, params, batch)["decoder"], rtol=1e-4, atol=1e-6)
    spec, module, params, batch = _model("miwae", **config)
    _close(p["encoder"], _grads(spec, module, params, batch)["encoder"], rtol=1e-4, atol=1e-6)


def test_dreg_encoder_gradient_has_the_plain_expectation_and_less_variance():
    """Averaged over 2,000 draws, DReG's encoder gradient equals the plain reparameterized
    one (within 4 standard errors of the difference) and varies less (Tucker et al.)."""
    spec, module, params, batch = _model("iwae", num_samples=16)
    dspec, dmodule, _, _ = _model("iwae", num_samples=16, estimator="dreg")

    def encoder_grad(s, m, key):
        g = jax.grad(lambda p: s.loss_fn(p, batch, key, module=m)[0])(params)
        return jnp.concatenate([x.ravel() for x in jax.tree.leaves(g["encoder"])])

    keys = jax.random.split(jax.random.key(7), 2000)
    plain = jax.jit(jax.vmap(lambda k: encoder_grad(spec, module, k)))(keys)
    dreg = jax.jit(jax.vmap(lambda k: encoder_grad(dspec, dmodule, k)))(keys)
    diff = np.asarray(dreg - plain, np.float64)
    stderr = diff.std(0) / np.sqrt(len(keys)) + 1e-7
    assert np.all(np.abs(diff.mean(0)) < 4 * stderr + 1e-5), np.max(np.abs(diff.mean(0)) / stderr)
    assert float(jnp.sum(dreg.var(0))) < 0.8 * float(jnp.sum(plain.var(0)))


@pytest.mark.unit
def test_miwae_refuses_too_many_samples_in_one_line():
    with pytest.raises(aezoo.ConfigError, match=r"^num_samples \* num_groups = 8192 samples"):
        aezoo.get("miwae", image_shape=SHAPE, num_samples=64, num_groups=128)
