"""Model-specific properties: each model does what its paper (and the lecture) says."""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import aezoo
from aezoo.models import aae, beta_vae, contractive_ae, denoising_ae, sparse_ae, vae, vqvae
from tests.conftest import every_model

pytestmark = pytest.mark.optax
NET = {"latent_dim": 8, "hidden_dims": (64,)}


@functools.cache
def _train(name: str, epochs: int = 30, **config):
    train, test = aezoo.data.load("digits", "train"), aezoo.data.load("digits", "test")
    result = aezoo.fit(
        name,
        train,
        test,
        model_config={**NET, **config},
        epochs=epochs,
        batch_size=64,
        progress=False,
    )
    return result


def _test_batch():
    x, y = aezoo.data.load("digits", "test")
    return {"image": aezoo.data.to_float(jnp.asarray(x)), "label": jnp.asarray(y)}


@pytest.mark.slow
def test_denoising_ae_beats_plain_ae_on_corrupted_inputs():
    dae = _train("denoising_ae")
    ae = _train("ae")
    batch = _test_batch()
    # Both scored by the DAE objective: reconstruct clean digits from the same corruptions.
    score = functools.partial(
        denoising_ae.loss_fn, batch=batch, rng=jax.random.key(5), module=dae.module
    )
    dae_err, ae_err = float(score(dae.params)[0]), float(score(ae.params)[0])
    assert dae_err < ae_err - 1.0, (dae_err, ae_err)


@pytest.mark.slow
def test_contractive_ae_has_a_smaller_encoder_jacobian_than_plain_ae():
    cae = _train("contractive_ae", contraction_weight=1.0)
    ae = _train("ae")
    x = _test_batch()["image"]

    def norm(r):
        return float(
            jnp.mean(jnp.sqrt(contractive_ae.jacobian_sq_norm(r.params, x, module=r.module)))
        )

    assert norm(cae) < 0.5 * norm(ae), (norm(cae), norm(ae))


@pytest.mark.slow  # a zoo model's own check: the full suite
def test_jacobian_norm_matches_a_dense_jacobian():
    _, module = aezoo.get("contractive_ae", image_shape=(8, 8, 1), **NET)
    params = aezoo.train.init_params(module, jax.random.key(0))
    x = _test_batch()["image"][:3]
    got = contractive_ae.jacobian_sq_norm(params, x, module=module)
    for i in range(3):

        def f(v):
            return module.apply(
                {"params": params},
                v.reshape(1, 8, 8, 1),
                method="encode",
            )["z"][0]

        jac = jax.jacfwd(f)(x[i].reshape(-1))  # [latent, 64], forward mode this time
        assert float(got[i]) == pytest.approx(float(jnp.sum(jac**2)), rel=1e-4)


@pytest.mark.parametrize("penalty", ["l1", "kl"])
@pytest.mark.slow
def test_sparse_ae_codes_are_sparser_than_plain_ae(penalty):
    sae = _train("sparse_ae", penalty=penalty)
    ae = _train("ae")
    x = _test_batch()["image"]
    codes = lambda r: r.module.apply({"params": r.params}, x, method="encode")["z"]  # noqa: E731
    s, a = sparse_ae.sparsity_metrics(codes(sae)), sparse_ae.sparsity_metrics(codes(ae))
    # Plain gradient steps on an L1 penalty shrink codes but rarely zero them exactly, so
    # "sparser" is measured relative to the plain AE, on both statistics.
    assert float(s["frac_near_zero"]) > 3 * float(a["frac_near_zero"]) + 0.02, (s, a)
    assert float(s["mean_activation"]) < 0.5 * float(a["mean_activation"]), (s, a)
    if penalty == "kl":  # sigmoid units pulled towards the target rate rho = 0.05
        assert float(s["mean_activation"]) < 0.15


@pytest.mark.slow
def test_iwae_bound_is_above_the_elbo_and_grows_with_k():
    result = _train("vae")
    batch = _test_batch()
    elbo_nll, elbo_kl = vae.elbo_terms(
        result.params, batch, jax.random.key(0), module=result.module
    )
    elbo = -float(jnp.mean(elbo_nll + elbo_kl))
    bounds = {}
    for k in (1, 5, 50):
        log_w = vae.log_importance_weights(
            result.params, batch, jax.random.key(1), module=result.module, num_samples=k
        )
        bounds[k] = float(jnp.mean(vae.iw_bound(log_w)))
    assert bounds[1] == pytest.approx(elbo, abs=0.5)  # k = 1 is the ELBO (Monte Carlo KL)
    assert bounds[5] > elbo + 0.1
    assert bounds[50] > bounds[5]


@pytest.mark.slow  # a zoo model's own check: the full suite
def test_iwae_loss_is_the_negative_k_sample_bound():
    spec, module = aezoo.get("iwae", image_shape=(8, 8, 1), num_samples=7, **NET)
    params = aezoo.train.init_params(module, jax.random.key(0))
    batch = _test_batch()
    loss, metrics = spec.loss_fn(params, batch, jax.random.key(3), module=module)
    log_w = vae.log_importance_weights(
        params, batch, jax.random.key(3), module=module, num_samples=7
    )
    assert log_w.shape == (7, 360)
    assert float(loss) == pytest.approx(-float(jnp.mean(vae.iw_bound(log_w))), rel=1e-6)
    assert 1.0 <= float(metrics["ess"]) <= 7.0


@pytest.mark.slow  # a zoo model's own check: the full suite
def test_beta_vae_kl_warmup_is_linear_and_beta_one_is_the_vae():
    cfg = aezoo.models.MODELS["beta_vae"].make_config(beta=4.0, kl_warmup_steps=100)
    weights = [float(beta_vae.kl_weight(cfg, jnp.int32(s))) for s in (0, 50, 100, 1000)]
    assert weights == pytest.approx([0.0, 2.0, 4.0, 4.0])
    assert float(beta_vae.kl_weight(cfg, None)) == 4.0  # evaluation: the full beta
    _, module = aezoo.get("beta_vae", image_shape=(8, 8, 1), beta=1.0, **NET)
    params = aezoo.train.init_params(module, jax.random.key(0))
    batch = _test_batch()
    a = beta_vae.loss_fn(params, batch, jax.random.key(1), module=module)[0]
    b = vae.loss_fn(params, batch, jax.random.key(1), module=module)[0]
    assert float(a) == pytest.approx(float(b), rel=1e-6)


@pytest.mark.slow
def test_cvae_decoder_uses_the_label_and_writes_its_figures(tmp_path):
    train, test = aezoo.data.load("digits", "train"), aezoo.data.load("digits", "test")
    result = aezoo.fit(
        "cvae",
        train,
        test,
        model_config=NET,
        epochs=20,
        batch_size=64,
        workdir=tmp_path,
        progress=False,
    )
    z = jnp.zeros((10, 8))
    imgs = result.module.apply({"params": result.params}, z, label=jnp.arange(10), method="decode")[
        "mean"
    ]
    # Same z, different labels: clearly different digits.
    diffs = jnp.mean(jnp.abs(imgs[:, None] - imgs[None]), axis=(2, 3, 4))
    assert float(jnp.min(diffs + jnp.eye(10))) > 0.03
    for name in ("samples_by_class.png", "analogies.png", "samples.png"):
        assert (tmp_path / name).stat().st_size > 0
    with pytest.raises(
        aezoo.ConfigError, match=r"labels span .* conditioned on 5 classes \(labels 0..4\)"
    ):
        aezoo.fit(
            "cvae", train, test, model_config={**NET, "num_classes": 5}, epochs=1, progress=False
        )


@pytest.mark.slow
def test_aae_codes_move_towards_the_prior(tmp_path):
    train, test = aezoo.data.load("digits", "train"), aezoo.data.load("digits", "test")
    config = {**NET, "latent_dim": 2, "prior": "mixture"}
    spec, module = aezoo.get("aae", image_shape=(8, 8, 1), **config)
    params0 = aezoo.train.init_params(module, jax.random.key(0))
    batch = _test_batch()
    mmd0 = float(spec.loss_fn(params0, batch, jax.random.key(2), module=module)[1]["mmd"])
    result = aezoo.fit(
        "aae",
        train,
        test,
        model_config=config,
        epochs=40,
        batch_size=64,
        workdir=tmp_path,
        progress=False,
    )
    mmd1 = float(spec.loss_fn(result.params, batch, jax.random.key(2), module=module)[1]["mmd"])
    assert mmd1 < 0.5 * mmd0, (mmd0, mmd1)
    assert result.history[-1]["test/mmd"] < result.history[0]["test/mmd"]
    assert (tmp_path / "latent.png").stat().st_size > 0


@pytest.mark.slow
def test_aae_trains_each_phase_only_on_its_parameter_group():
    spec, module = aezoo.get("aae", image_shape=(8, 8, 1), **NET)
    optimizer = optax.adam(1e-2)
    state = aezoo.train.create_train_state(spec, module, optimizer, jax.random.key(0))
    before = jax.device_get(state.params)
    txs = spec.optimizers(module.config, optimizer)
    batch = _test_batch()
    phase = spec.phases_for(module.config)[1]  # disc: discriminator only
    grads = jax.grad(lambda p: phase.loss_fn(p, batch, jax.random.key(1), module=module)[0])(
        state.params
    )
    updates, _ = txs[1].update(grads, state.opt_state[1], state.params)
    after = optax.apply_updates(state.params, updates)
    chex.assert_trees_all_equal(after["encoder"], before["encoder"])
    chex.assert_trees_all_equal(after["decoder"], before["decoder"])
    assert not np.allclose(
        after["discriminator"]["dense_0"]["kernel"], before["discriminator"]["dense_0"]["kernel"]
    )


@pytest.mark.parametrize("prior", ["mixture", "swiss_roll"])
def test_aae_priors_and_label_conditioning(prior):
    cfg = aezoo.models.MODELS["aae"].make_config(latent_dim=2, prior=prior)
    labels = jnp.repeat(jnp.arange(10), 200)
    z = np.asarray(aae.sample_prior(cfg, jax.random.key(0), 2000, labels))
    assert z.shape == (2000, 2) and np.isfinite(z).all()
    centers = np.stack([z[np.asarray(labels) == c].mean(0) for c in range(10)])
    # Each label has its own region: the class centers are well apart.
    dist = np.linalg.norm(centers[:, None] - centers[None], axis=-1) + 10 * np.eye(10)
    assert dist.min() > 0.3
    if prior == "mixture":
        radius = np.linalg.norm(centers, axis=-1)
        assert np.allclose(radius, 4.0, atol=0.2)
    with pytest.raises(aezoo.ConfigError, match="is 2-D: use latent_dim 2"):
        aezoo.models.MODELS["aae"].make_config(latent_dim=5, prior=prior)


@pytest.mark.parametrize("update", ["loss", "ema"])
@pytest.mark.slow
def test_vqvae_uses_more_than_half_of_its_codes(update):
    result = _train("vqvae", codebook_update=update)
    codes = result.module.apply({"params": result.params}, _test_batch()["image"], method="encode")[
        "codes"
    ]
    used = len(np.unique(np.asarray(codes)))
    assert used > 0.5 * result.config.codebook_size, used
    assert result.history[-1]["test/perplexity"] > 0.25 * result.config.codebook_size


@pytest.mark.slow
def test_vqvae_ema_phase_is_an_exponential_moving_average():
    spec, module = aezoo.get(
        "vqvae", image_shape=(8, 8, 1), codebook_update="ema", ema_decay=0.9, **NET
    )
    optimizer = optax.adam(1e-3)
    state = aezoo.train.create_train_state(spec, module, optimizer, jax.random.key(0))
    batch = _test_batch()
    phase, tx = spec.phases_for(module.config)[1], spec.optimizers(module.config, optimizer)[1]
    grads = jax.grad(lambda p: phase.loss_fn(p, batch, None, module=module)[0])(state.params)
    updates, _ = tx.update(grads, state.opt_state[1], state.params)
    new = optax.apply_updates(state.params, updates)["codebook"]["embedding"]
    old = state.params["codebook"]["embedding"]
    q = module.apply({"params": state.params}, batch["image"], method="encode")
    z = np.asarray(q["z_e"]).reshape(-1, 8)
    idx = np.asarray(q["codes"]).reshape(-1)
    expected = np.array(old)
    for k in np.unique(idx):
        expected[k] = 0.9 * old[k] + 0.1 * z[idx == k].mean(0)
    np.testing.assert_allclose(new, expected, rtol=1e-5, atol=1e-6)
    # Encoder and decoder are untouched by the EMA phase.
    after = optax.apply_updates(state.params, updates)
    chex.assert_trees_all_equal(after["encoder"], state.params["encoder"])


def test_vqvae_straight_through_passes_decoder_gradients_to_the_encoder():
    _spec, module = aezoo.get("vqvae", image_shape=(8, 8, 1), commitment=0.0, **NET)
    params = aezoo.train.init_params(module, jax.random.key(0))
    batch = _test_batch()

    def nll_only(p):
        return vqvae.loss_fn(p, batch, None, module=module)[1]["nll"]

    grads = jax.jit(jax.grad(nll_only))(params)
    assert float(optax.tree.norm(grads["encoder"])) > 0


@pytest.mark.parametrize("name", every_model(sorted(aezoo.MODELS)))
def test_cli_help_lists_the_model_options(name, capsys):
    from aezoo.cli import main

    with pytest.raises(SystemExit):
        main(["train", name, "--help"])
    out = capsys.readouterr().out
    spec = aezoo.MODELS[name]
    import dataclasses

    for f in dataclasses.fields(spec.config_cls):
        if f.metadata.get("cli", True):
            assert "--" + f.name.replace("_", "-") in out


def test_aae_gaussian_encoder_samples_with_a_key_and_trains():
    spec, module = aezoo.get("aae", image_shape=(8, 8, 1), encoder="gaussian", **NET)
    params = aezoo.train.init_params(module, jax.random.key(0))
    x = _test_batch()["image"][:16]
    q = module.apply({"params": params}, x, method="encode")
    chex.assert_trees_all_equal(q["z"], q["z_mean"])  # no key: the mean
    s = module.apply({"params": params}, x, rng=jax.random.key(1), method="encode")
    assert not np.allclose(s["z"], s["z_mean"])
    chex.assert_shape(s["z_logvar"], (16, 8))
    for phase in spec.phases_for(module.config):
        loss, _ = phase.loss_fn(params, _test_batch(), jax.random.key(2), module=module)
        assert jnp.isfinite(loss)
