"""The auxiliary deep generative models (adgm, sdgm): their bounds computed by hand, the
class summed out, the classifier term's weight, where the auxiliary variable enters."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm

import aezoo
from aezoo.models import adgm

pytestmark = pytest.mark.model_file

SHAPE = (8, 8, 1)
MODELS = ("adgm", "sdgm")


def _model(name, **overrides):
    settings = {"image_shape": SHAPE, "latent_dim": 3, "aux_dim": 2, "hidden_dims": (16,)}
    _, module = aezoo.get(name, **{**settings, **overrides})
    return module, aezoo.train.init_params(module, jax.random.key(0))


def _batch(labels):
    x = jax.random.uniform(jax.random.key(1), (len(labels), *SHAPE))
    return {"image": x, "label": jnp.asarray(labels, jnp.int32)}


@pytest.mark.parametrize("name", MODELS)
def test_class_bounds_are_the_bound_computed_by_hand(name):
    module, params = _model(name)
    batch, rng = _batch([-1, 3, 7]), jax.random.key(2)
    bound, log_q = adgm.class_bounds(params, batch, rng, module=module)
    out = jax.tree.map(
        np.asarray, module.apply({"params": params}, batch["image"], rng, method="all_classes")
    )
    x = np.repeat(np.asarray(batch["image"]), 10, axis=0).reshape(30, -1)
    logits = out["logits"].reshape(30, -1)
    nll = np.sum(np.logaddexp(0, logits) - x * logits, -1)  # Bernoulli, grey targets
    m, lv = out["z_mean"], out["z_logvar"]
    kl = 0.5 * np.sum(np.exp(lv) + m**2 - 1 - lv, -1)
    a = np.repeat(out["a"], 10, axis=0)
    log_pa = norm.logpdf(a, out["pa_mean"], np.exp(0.5 * out["pa_logvar"])).sum(-1)
    log_qa = norm.logpdf(out["a"], out["a_mean"], np.exp(0.5 * out["a_logvar"])).sum(-1)
    expected = (nll + kl - log_pa).reshape(3, 10) + log_qa[:, None] + math.log(10)
    np.testing.assert_allclose(bound, expected, rtol=1e-4)
    np.testing.assert_allclose(jnp.exp(log_q), jax.nn.softmax(out["y_logits"]), rtol=1e-5)
    # the unlabelled bound sums the class out: E_q[L] - H(q), never below -logsumexp(-L)
    t = adgm._terms(params, batch, rng, module)
    q = np.exp(np.asarray(log_q))
    np.testing.assert_allclose(t["unlabelled_bound"], np.sum(q * (expected + log_q), -1), rtol=1e-4)
    assert bool(jnp.all(t["unlabelled_bound"] >= -jax.nn.logsumexp(-bound, -1) - 1e-3))
    np.testing.assert_allclose(t["labelled_bound"][1:], bound[[1, 2], [3, 7]], rtol=1e-6)


def test_the_classifier_term_weighs_alpha_and_evaluation_ignores_labels():
    module, params = _model("adgm", alpha=0.0)
    weighted, _ = _model("adgm", alpha=3.0)
    mixed, rng = _batch([-1, -1, 3, 7]), jax.random.key(2)
    t = adgm._terms(params, mixed, rng, module)
    loss, metrics = adgm.train_loss(params, mixed, rng, module=module)
    expected = (t["unlabelled_bound"][:2].sum() + t["labelled_bound"][2:].sum()) / 4
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)
    loss3, _ = adgm.train_loss(params, mixed, rng, module=weighted)
    assert float(loss3 - loss) == pytest.approx(float(3.0 * t["ce"][2:].sum() / 4), rel=1e-5)
    assert float(metrics["labelled_share"]) == 0.5
    eval_mixed, _ = adgm.loss_fn(params, mixed, rng, module=module)
    eval_none, _ = adgm.loss_fn(params, _batch([-1, -1, -1, -1]), rng, module=module)
    assert float(eval_mixed) == pytest.approx(float(eval_none), rel=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_where_the_auxiliary_variable_enters(name):
    module, params = _model(name)
    v = {"params": params}
    z, y = jax.random.normal(jax.random.key(3), (4, 3)), jnp.array([0, 1, 2, 3])
    a1, a2 = jnp.zeros((4, 2)), jnp.ones((4, 2))
    d1 = module.apply(v, z, label=y, a=a1, method="decode")["logits"]
    d2 = module.apply(v, z, label=y, a=a2, method="decode")["logits"]
    x1, x2 = _batch([0] * 4)["image"], 1.0 - _batch([0] * 4)["image"]
    p1 = module.apply(v, y, z, x1, method="aux_prior")[0]
    p2 = module.apply(v, y, z, x2, method="aux_prior")[0]
    if name == "adgm":  # p(x | y, z) and p(a | x, y, z)
        np.testing.assert_array_equal(d1, d2)
        assert not np.allclose(p1, p2)
    else:  # p(x | a, y, z) and p(a | y, z)
        assert not np.allclose(d1, d2)
        np.testing.assert_array_equal(p1, p2)


def test_classify_averages_the_classifier_over_fixed_draws_of_a():
    module, params = _model("sdgm", classify_samples=1)
    v, x = {"params": params}, _batch([0] * 5)["image"]
    got = module.apply(v, x, method="classify")
    np.testing.assert_allclose(jax.nn.logsumexp(got, -1), 0.0, atol=1e-5)
    mean, logvar = module.apply(v, x, method=lambda m, x: m.aux_posterior(x))
    eps = jax.random.normal(jax.random.key(adgm.CLASSIFY_SEED), (1, *mean.shape))[0]
    a = mean + jnp.exp(0.5 * logvar) * eps
    logits = module.apply(v, x, a, method=lambda m, x, a: m._y_logits(m.y_image(x), a))
    np.testing.assert_allclose(got, jax.nn.log_softmax(logits), rtol=1e-5, atol=1e-6)
    many, _ = _model("sdgm", classify_samples=50)
    avg = module.clone(config=many.config).apply(v, x, method="classify")
    np.testing.assert_allclose(jax.nn.logsumexp(avg, -1), 0.0, atol=1e-5)
    assert not np.allclose(avg, got)  # more draws, another average
