"""Every registered model: shapes, finiteness, gradients, one compile, learning, errors."""

from __future__ import annotations

import dataclasses
import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import aezoo
from aezoo.models import MODELS
from aezoo.train import create_train_state, make_train_step
from tests.conftest import FAST_MODELS, SMALL_NET, every_model, net_flags

ALL = sorted(MODELS)
# Models that reuse the VAE module and differ from it only in their loss (beta_vae, iwae,
# beta_tcvae, dip_vae, annealed_vae): the module-level tests (outputs and shapes, conv archs,
# bad images) run once on the model that owns the module; every loss-level test (finite
# loss and gradients, one compile, learning, CLI) still runs on each of them.
MODULES = [
    n for n in ALL if MODELS[n].module_cls is not MODELS["vae"].module_cls or n in ("vae", "cvae")
]
# The loss-level tests run on every model in the full suite, on FAST_MODELS in the fast tier
# (each model's own test file checks its loss term by term there).
LOSSES = every_model(ALL)
SHAPE = (8, 8, 1)


def _make(name, **overrides):
    return aezoo.get(name, image_shape=SHAPE, latent_dim=3, hidden_dims=(16,), **overrides)


# Module-level shapes: every module in the full suite; in the fast tier, FAST_MODELS with
# Bernoulli pixels and the VAE with Gaussian ones.
OUTPUTS = [
    (n, lik)
    if n in FAST_MODELS and (lik == "bernoulli" or n == "vae")
    else pytest.param(n, lik, marks=pytest.mark.slow)
    for n in MODULES
    for lik in ("bernoulli", "gaussian")
]


@pytest.mark.parametrize(("name", "likelihood"), OUTPUTS)
def test_outputs_have_documented_shapes_and_are_finite(name, likelihood, small_batch, rng):
    spec, module = _make(name, likelihood=likelihood)
    params = aezoo.train.init_params(module, rng)
    x, label = small_batch["image"], small_batch["label"]
    out = module.apply({"params": params}, x, rng=rng, label=label)
    assert isinstance(out, dict)
    chex.assert_tree_all_finite(out)
    assert out["z"].shape[0] == 8 and out["z"].ndim == 2
    chex.assert_shape(out["mean"], (8, *SHAPE))
    key = "logits" if likelihood == "bernoulli" else "logvar"
    chex.assert_shape(out[key], (8, *SHAPE))
    enc = module.apply({"params": params}, x, label=label, method="encode")
    assert all(v.shape[0] == 8 for v in enc.values())
    if not spec.generative:  # deterministic codes: encode() gives the forward pass's code
        chex.assert_trees_all_close(enc["z"], out["z"])
    dec = module.apply({"params": params}, out["z"][:5], label=label[:5], method="decode")
    chex.assert_shape(dec["mean"], (5, *SHAPE))
    rec = module.apply({"params": params}, x, label=label, method="reconstruct")
    chex.assert_shape(rec["mean"], (8, *SHAPE))
    if spec.generative:
        s = module.apply({"params": params}, 4, rng, method="sample")
        chex.assert_shape(s["mean"], (4, *SHAPE))
        chex.assert_tree_all_finite(s)


@pytest.mark.parametrize("name", LOSSES)
def test_loss_is_finite_scalar_and_every_parameter_gets_gradient(name, small_batch, rng):
    spec, module = _make(name)
    params = aezoo.train.init_params(module, rng)
    # Jitted (as training runs them): one compile each instead of a dispatch per operation.
    loss, metrics = jax.jit(lambda p: spec.loss_fn(p, small_batch, rng, module=module))(params)
    chex.assert_shape(loss, ())
    chex.assert_tree_all_finite((loss, metrics))
    assert float(metrics["loss"]) == pytest.approx(float(loss))
    assert all(jnp.ndim(v) == 0 for v in metrics.values())
    # Each training phase's loss has finite gradients; together they reach every parameter.
    reached = jax.tree.map(jnp.zeros_like, params)
    for phase in spec.phases_for(module.config):
        grads = jax.jit(
            jax.grad(lambda p, phase=phase: phase.loss_fn(p, small_batch, rng, module=module)[0])
        )(params)
        chex.assert_tree_all_finite(grads)
        reached = jax.tree.map(lambda r, g: r + jnp.abs(g), reached, grads)
    for path, g in jax.tree_util.tree_leaves_with_path(reached):
        assert float(g.sum()) > 0, f"no gradient reaches {jax.tree_util.keystr(path)}"


# Every module wires its encoder and decoder through make_encoder / make_decoder, which
# build the arch: conv on MNIST's shape for every module checks each module's wiring of a
# convolutional net; resnet (the same wiring, deeper nets) on CIFAR's shape once, on the
# VAE (other sizes, colour training and figures: tests/test_nn.py).
ARCH_CASES = [(n, "conv", (28, 28, 1)) for n in MODULES] + [("vae", "resnet", (32, 32, 3))]


@pytest.mark.parametrize(("name", "arch", "shape"), ARCH_CASES)
@pytest.mark.slow
def test_conv_arch_runs_on_mnist_and_cifar_shapes(name, shape, arch, rng):
    spec, module = aezoo.get(name, image_shape=shape, latent_dim=2, hidden_dims=(16,), arch=arch)
    params = aezoo.train.init_params(module, rng)
    batch = {"image": jnp.full((4, *shape), 0.5), "label": jnp.arange(4, dtype=jnp.int32)}

    @jax.jit
    def forward_and_loss(params):
        out = module.apply({"params": params}, batch["image"], rng=rng, label=batch["label"])
        return out["mean"], spec.loss_fn(params, batch, rng, module=module)[0]

    mean, loss = forward_and_loss(params)
    chex.assert_shape(mean, (4, *shape))
    assert jnp.isfinite(loss)
    assert ("conv_0" if arch == "conv" else "res_2") in str(jax.tree_util.tree_structure(params))


# The step is the same program for every model; the VAE and aae (three phases: the
# multi-phase step) show in the fast tier that it traces its loss once, the other FAST_MODELS
# in the full suite. Every model's loss is traced and compiled by test_every_model_learns.
COMPILES = [
    n if n in ("vae", "aae") else pytest.param(n, marks=pytest.mark.slow) for n in FAST_MODELS
]


@pytest.mark.optax
@pytest.mark.parametrize("name", COMPILES)
def test_train_step_compiles_once(name, digits, rng):
    spec, module = _make(name)
    optimizer = optax.adam(1e-3)
    state = create_train_state(spec, module, optimizer, rng)
    images = aezoo.data.to_float(jnp.asarray(digits[0][0][:64]))
    labels = jnp.asarray(digits[0][1][:64], jnp.int32)
    batches = [
        {"image": images[i * 16 : (i + 1) * 16], "label": labels[i * 16 : (i + 1) * 16]}
        for i in range(3)
    ]
    # The library's jitted step traces its loss once and compiles one executable, however
    # many steps run (a retrace would trace the loss again and fail assert_max_traces).
    counted = dataclasses.replace(spec, loss_fn=chex.assert_max_traces(spec.loss_fn, n=1))
    step = make_train_step(counted, module, optimizer, binarize="dynamic")
    try:
        for batch in batches:
            state, metrics = step(state, batch, rng)
    finally:
        chex.clear_trace_counter()
    assert step._cache_size() == 1
    assert int(state.step) == 3
    chex.assert_tree_all_finite(metrics)


def _learning_flags(name: str) -> dict:
    # The annealed VAE's test loss is its objective at the final capacity: reach it quickly.
    return {"capacity_steps": 20} if name == "annealed_vae" else {}


@pytest.mark.optax
@pytest.mark.parametrize("name", FAST_MODELS)
@pytest.mark.slow
def test_the_cli_trains_a_model_of_each_kind_and_writes_its_figures(name, tmp_path, capsys):
    """``aezoo train NAME`` on digits (the CLI, run folder and figures are shared by every
    model: one model of each kind runs them): the test loss falls by more than a nat in 8
    epochs, every logged number is finite, and the figures are written (samples only for a
    model that samples)."""
    from aezoo.cli import main

    extra = [f"--{k.replace('_', '-')}={v}" for k, v in _learning_flags(name).items()]
    flags = ["--epochs", "8", "--batch-size", "64", "--workdir", str(tmp_path), "--no-progress"]
    code = main(["train", name, *net_flags(SMALL_NET), *flags, *extra])
    assert code == 0, capsys.readouterr().err
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    _assert_learned([json.loads(line) for line in lines])
    assert (tmp_path / "reconstructions.png").exists()
    assert (tmp_path / "samples.png").exists() == MODELS[name].generative


@pytest.mark.optax
@pytest.mark.parametrize("name", [n for n in ALL if n not in FAST_MODELS])
@pytest.mark.slow
def test_every_model_learns(name, digits):
    """Every other model trains in process (no run folder, so no checkpoints or figures
    to write): the same learning check as the CLI's."""
    result = aezoo.fit(
        name,
        *digits,
        dataset="digits",
        epochs=8,
        batch_size=64,
        progress=False,
        model_config={**SMALL_NET, **_learning_flags(name)},
    )
    _assert_learned(result.history)


def _assert_learned(hist: list[dict]) -> None:
    assert len(hist) == 8
    assert all(np.isfinite(v) for r in hist for v in r.values() if isinstance(v, float))
    assert hist[-1]["test/loss"] < hist[0]["test/loss"] - 1.0
    assert hist[-1]["train/loss"] < hist[0]["train/loss"]


def test_vae_loss_is_negative_elbo_with_analytic_kl(small_batch, rng):
    spec, module = _make("vae")
    params = aezoo.train.init_params(module, rng)
    loss, m = spec.loss_fn(params, small_batch, rng, module=module)
    assert float(loss) == pytest.approx(float(m["nll"] + m["kl"]), rel=1e-6)
    assert float(m["kl"]) >= 0
    assert float(m["nll_bound"]) == pytest.approx(float(loss))


def test_vae_without_rng_uses_the_posterior_mean(small_batch, rng):
    _, module = _make("vae")
    params = aezoo.train.init_params(module, rng)
    out = module.apply({"params": params}, small_batch["image"])
    chex.assert_trees_all_equal(out["z"], out["z_mean"])  # no rng: the mean
    sampled = module.apply({"params": params}, small_batch["image"], rng=rng)
    assert not np.allclose(sampled["z"], sampled["z_mean"])


def test_unknown_model_is_a_clear_error():
    message = r"unknown model 'vea'; did you mean 'vae'\? available: .*vae"
    with pytest.raises(aezoo.ConfigError, match=message):
        aezoo.get("vea")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"latent_dim": 0}, "latent_dim must be a positive integer; got 0"),
        ({"latent_dim": -3}, "latent_dim must be a positive integer"),
        ({"hidden_dims": 64}, "hidden_dims must be a list of positive integers"),
        ({"hidden_dims": (64, 0)}, "hidden_dims entries must be a positive integer"),
        ({"likelihood": "laplace"}, "unknown likelihood 'laplace'"),
        ({"latnet_dim": 4}, "unknown option.*latnet_dim.*accepted"),
    ],
)
def test_bad_model_settings_are_one_line_errors(overrides, message):
    with pytest.raises(aezoo.ConfigError, match=message) as info:
        aezoo.get("vae", **overrides)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", every_model(MODULES))
def test_images_of_wrong_rank_or_dtype_are_clear_errors(name, rng):
    _, module = _make(name)
    params = aezoo.train.init_params(module, rng)
    with pytest.raises(aezoo.ShapeError, match=r"rank 4.*got shape \(8, 64\)"):
        module.apply({"params": params}, jnp.zeros((8, 64)))
    with pytest.raises(aezoo.ShapeError, match=r"got shape \(8, 28, 28, 1\)"):
        module.apply({"params": params}, jnp.zeros((8, 28, 28, 1)))
    with pytest.raises(aezoo.ShapeError, match="floating point"):
        module.apply({"params": params}, jnp.zeros((8, *SHAPE), jnp.uint8))


@pytest.mark.parametrize("likelihood", ["gaussian_pixel", "logistic"])
@pytest.mark.parametrize("name", [pytest.param("ae", marks=pytest.mark.slow), "vae"])
def test_two_parameter_likelihoods_give_their_outputs_and_gradients(name, likelihood, rng):
    spec, module = _make(name, likelihood=likelihood)
    params = aezoo.train.init_params(module, rng)
    x = jnp.round(jax.random.uniform(rng, (8, *SHAPE)) * 255) / 255  # 8-bit values
    out = jax.jit(lambda p: module.apply({"params": p}, x, rng=rng))(params)  # one compile
    keys = ("mean", "logvar") if likelihood == "gaussian_pixel" else ("loc", "log_scale", "mean")
    for key in keys:
        chex.assert_shape(out[key], (8, *SHAPE))
    assert (float(out["mean"].min()) >= 0.0 and float(out["mean"].max()) <= 1.0) or (
        likelihood == "gaussian_pixel"
    )
    batch = {"image": x, "label": jnp.zeros(8, jnp.int32)}
    grads = jax.jit(jax.grad(lambda p: spec.loss_fn(p, batch, rng, module=module)[0]))(params)
    chex.assert_tree_all_finite(grads)
