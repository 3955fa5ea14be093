"""Few labels: the label draw, the semi-supervised training split and the M2 model."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import aezoo
from aezoo import data
from aezoo.errors import ConfigError
from aezoo.models import m2

pytestmark = pytest.mark.model_file

SHAPE = (8, 8, 1)


def _m2(**overrides):
    settings = {"image_shape": SHAPE, "latent_dim": 3, "hidden_dims": (16,), **overrides}
    return aezoo.get("m2", **settings)


def _batch(labels):
    x = jax.random.uniform(jax.random.key(1), (len(labels), *SHAPE))
    return {"image": x, "label": jnp.asarray(labels, jnp.int32)}


@pytest.mark.unit
def test_few_labels_keeps_n_per_class_hides_the_rest_and_repeats_them_to_the_share():
    y = np.repeat(np.arange(10), 25)  # 250 rows: the row index fits a uint8 pixel
    x = np.arange(len(y))[:, None, None, None].astype(np.uint8)
    images, labels, idx = data.few_labels(x, y, 20, seed=3, share=0.25)
    assert np.array_equal(np.bincount(y[idx]), np.full(10, 2))
    # every image once, then the labelled ones repeated; the first copies keep their labels
    np.testing.assert_array_equal(images[: len(y)], x)
    assert np.array_equal(np.flatnonzero(labels[: len(y)] >= 0), idx)
    np.testing.assert_array_equal(labels[idx], y[idx])
    labelled = labels >= 0
    assert labelled.mean() == pytest.approx(0.25, abs=0.01)
    # a repeated row is the same image with the same label
    np.testing.assert_array_equal(y[images[labelled, 0, 0, 0]], labels[labelled])
    assert data.repeats_for_share(250, 20, 0.25) == round(0.25 * 230 / 0.75 / 20)
    again = data.few_labels(x, y, 20, seed=3, share=0.25)[2]
    np.testing.assert_array_equal(idx, again)


def test_m2_all_classes_pass_matches_encoding_with_each_label(rng):
    _, module = _m2()
    params = aezoo.train.init_params(module, rng)
    x = _batch([0, 1, 2, 3])["image"]
    out = module.apply({"params": params}, x, rng, method="all_classes")
    for k in range(10):
        enc = module.apply({"params": params}, x, label=jnp.full(4, k), method="encode")
        np.testing.assert_allclose(out["z_mean"][k::10], enc["z_mean"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(out["z_logvar"][k::10], enc["z_logvar"], rtol=1e-5, atol=1e-6)
    # without a label, encode uses the classifier's guess; -1 means "no label" too
    guess = jnp.argmax(out["y_logits"], axis=-1)
    for label in (None, jnp.full(4, -1)):
        enc = module.apply({"params": params}, x, label=label, method="encode")
        np.testing.assert_array_equal(enc["y"], guess)


def test_m2_unlabelled_bound_sums_out_the_class_and_is_above_the_exact_marginal(rng):
    _, module = _m2()
    params = aezoo.train.init_params(module, rng)
    batch = _batch([-1, -1, 3, 7])
    bound, log_q = m2.class_bounds(params, batch, rng, module=module)
    assert bound.shape == log_q.shape == (4, 10)
    np.testing.assert_allclose(jax.nn.logsumexp(log_q, axis=-1), 0.0, atol=1e-5)
    t = m2._terms(params, batch, rng, module)
    q = jnp.exp(log_q)
    expected = jnp.sum(q * bound, -1) - (-jnp.sum(q * log_q, -1))  # E_q[L] - H(q)
    np.testing.assert_allclose(t["unlabelled_bound"], expected, rtol=1e-6)
    # min over q of E_q[L] - H(q) is -logsumexp(-L): the bound is never below it
    exact = -jax.nn.logsumexp(-bound, axis=-1)
    assert bool(jnp.all(t["unlabelled_bound"] >= exact - 1e-3))
    np.testing.assert_allclose(t["labelled_bound"][2:], bound[[2, 3], [3, 7]], rtol=1e-6)
    np.testing.assert_array_equal(t["labelled"], [0, 0, 1, 1])


def test_m2_objective_weights_labelled_and_unlabelled_rows_and_eval_ignores_labels(rng):
    _, module = _m2(alpha=0.0)
    params = aezoo.train.init_params(module, rng)
    mixed = _batch([-1, -1, 3, 7])
    t = m2._terms(params, mixed, rng, module)
    loss, metrics = m2.train_loss(params, mixed, rng, module=module)
    expected = (t["unlabelled_bound"][:2].sum() + t["labelled_bound"][2:].sum()) / 4
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)
    assert float(metrics["labelled_share"]) == 0.5
    _, weighted = _m2(alpha=2.0)
    loss2, _ = m2.train_loss(params, mixed, rng, module=weighted)
    assert float(loss2 - loss) == pytest.approx(float(2.0 * t["ce"][2:].sum() / 4), rel=1e-5)
    # evaluation: U(x) of every image whatever the labels; error on the labelled ones
    eval_mixed, m_mixed = m2.loss_fn(params, mixed, rng, module=module)
    eval_none, m_none = m2.loss_fn(params, _batch([-1, -1, -1, -1]), rng, module=module)
    assert float(eval_mixed) == pytest.approx(float(eval_none), rel=1e-6)
    wrong = jnp.argmax(m2.class_bounds(params, mixed, rng, module=module)[1][2:], -1) != jnp.array(
        [3, 7]
    )
    assert float(m_mixed["error"]) == pytest.approx(float(jnp.mean(wrong)))
    assert float(m_none["error"]) == 0.0  # no labelled row: nothing to count


def test_m2_needs_a_label_to_decode(rng):
    _, module = _m2()
    params = aezoo.train.init_params(module, rng)
    with pytest.raises(ConfigError, match="label"):
        module.apply({"params": params}, jnp.zeros((2, 3)), method="decode")


def test_labels_setting_is_for_semi_supervised_models_only(digits):
    with pytest.raises(ConfigError, match=r"unknown training setting\(s\) labels \(a model's"):
        aezoo.fit("vae", *digits, labels=50, epochs=1, progress=False, figures=False)
    with pytest.raises(ConfigError, match="unknown option\\(s\\) labels for model 'vae'"):
        aezoo.fit("vae", *digits, model_config={"labels": 50}, epochs=1, progress=False)


def _cat(**overrides):
    settings = {"image_shape": SHAPE, "latent_dim": 3, "hidden_dims": (16,), **overrides}
    return aezoo.get("cat_aae", **settings)


def test_cat_aae_code_is_class_probabilities_then_style_and_a_label_picks_the_class(rng):
    _, module = _cat(num_classes=4)
    params = aezoo.train.init_params(module, rng)
    x = _batch([0, 1, 2])["image"]
    q = module.apply({"params": params}, x, method="encode")
    assert q["z"].shape == (3, 4 + 3)
    np.testing.assert_allclose(q["z"][:, :4].sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(q["y_probs"], jax.nn.softmax(q["y_logits"]), rtol=1e-6)
    logits = module.apply({"params": params}, x, method="classify")
    np.testing.assert_array_equal(logits, q["y_logits"])
    label = jnp.array([3, 0, 1])
    one_hot_code = jnp.concatenate([jax.nn.one_hot(label, 4), q["style"]], axis=-1)
    np.testing.assert_allclose(
        module.apply({"params": params}, q["z"], label=label, method="decode")["logits"],
        module.apply({"params": params}, one_hot_code, method="decode")["logits"],
        rtol=1e-6,
    )


def test_cat_aae_supervised_phase_is_the_labelled_rows_cross_entropy(rng):
    from aezoo.models import cat_aae

    _, module = _cat(supervised_weight=2.0)
    params = aezoo.train.init_params(module, rng)
    batch = _batch([-1, 4, -1, 9])
    loss, metrics = cat_aae.supervised_loss(params, batch, rng, module=module)
    logits = module.apply({"params": params}, batch["image"], method="classify")
    log_p = jax.nn.log_softmax(logits)
    ce = -(log_p[1, 4] + log_p[3, 9]) / 2
    assert float(loss) == pytest.approx(2.0 * float(ce), rel=1e-5)
    assert float(metrics["labelled_share"]) == 0.5
    # no labelled row: nothing to learn, a zero gradient
    unlabelled = _batch([-1, -1, -1, -1])
    grads = jax.grad(lambda p: cat_aae.supervised_loss(p, unlabelled, rng, module=module)[0])(
        params
    )
    assert all(float(jnp.abs(g).sum()) == 0.0 for g in jax.tree.leaves(grads))
    names = {p.name: p.params for p in cat_aae.phases(module.config)}
    assert names == {
        "recon": ("encoder", "decoder"),
        "disc": ("disc_class", "disc_style"),
        "gen": ("encoder",),
        "supervised": ("encoder",),
    }
