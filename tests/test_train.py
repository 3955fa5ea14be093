"""The shared trainer: fused epoch == per-step loop, fit outputs, validation, NaN guard."""

from __future__ import annotations

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import aezoo
from aezoo.train import (
    create_train_state,
    epoch_batches,
    gather_batch,
    make_eval_fn,
    make_train_epoch,
    make_train_step,
)
from aezoo.train.step import global_norm
from tests.conftest import SMALL_NET

pytestmark = pytest.mark.optax
SMALL = SMALL_NET


@pytest.mark.parametrize("name", ["ae", pytest.param("vae", marks=pytest.mark.slow)])
def test_fused_epoch_equals_per_step_loop(name, digits):
    (images, labels), _ = digits
    spec, module = aezoo.get(name, image_shape=(8, 8, 1), **SMALL)
    optimizer = optax.adam(1e-3)
    rng, epoch_key = jax.random.split(jax.random.key(3))
    x, y = jnp.asarray(images), jnp.asarray(labels)

    epoch = make_train_epoch(spec, module, optimizer, batch_size=100, binarize="dynamic")
    fused_state, fused_metrics = epoch(
        create_train_state(spec, module, optimizer, jax.random.key(0)), x, y, rng, epoch_key
    )

    step = make_train_step(spec, module, optimizer, binarize="dynamic")
    state = create_train_state(spec, module, optimizer, jax.random.key(0))
    losses = []
    for idx in epoch_batches(epoch_key, len(images), 100):
        state, m = step(state, gather_batch(x, y, idx), rng)
        losses.append(m["loss"])

    assert int(fused_state.step) == int(state.step) == len(images) // 100
    chex.assert_trees_all_close(fused_state.params, state.params, rtol=1e-5, atol=1e-6)
    assert float(fused_metrics["loss"]) == pytest.approx(
        float(jnp.mean(jnp.stack(losses))), rel=1e-5
    )
    assert int(fused_metrics["nonfinite_step"]) == -1


def test_global_norm_matches_optax_and_propagates_nan():
    tree = {"w": jnp.arange(12.0).reshape(3, 4) - 5.0, "b": jnp.array([3.0, -4.0])}
    want = float(optax.tree.norm(tree))
    assert float(jax.jit(global_norm)(tree)) == pytest.approx(want, rel=1e-6)
    bad = {**tree, "b": jnp.array([jnp.nan, 1.0])}
    assert np.isnan(float(jax.jit(global_norm)(bad)))


@pytest.mark.slow
def test_fused_epoch_updates_the_weights_in_place(digits):
    """No weight is copied inside the compiled epoch (region-based copy insertion, see
    ``TRAIN_COMPILER_OPTIONS``): with the default analysis XLA copies every kernel that
    the backward pass reads, each step."""
    (images, labels), _ = digits
    spec, module = aezoo.get("vae", image_shape=(8, 8, 1), latent_dim=4, hidden_dims=(48, 40))
    optimizer = optax.adam(1e-3)
    state = create_train_state(spec, module, optimizer, jax.random.key(0))
    x, y = jnp.asarray(images), jnp.asarray(labels)
    epoch = make_train_epoch(spec, module, optimizer, batch_size=100, binarize="dynamic")
    hlo = epoch.lower(state, x, y, jax.random.key(1), jax.random.key(2)).compile().as_text()
    kernels = {
        f"f32[{','.join(map(str, leaf.shape))}]"
        for leaf in jax.tree.leaves(state.params)
        if leaf.ndim == 2
    }
    copied = [
        line.strip()[:120]
        for line in hlo.splitlines()
        if " copy(" in line and any(f"= {k}" in line for k in kernels)
    ]
    assert len(kernels) == 6
    assert not copied, copied


@pytest.mark.slow
def test_fit_fused_and_per_step_agree(digits):
    train, test = digits
    kw = {"model_config": SMALL, "epochs": 2, "batch_size": 128, "progress": False}
    a = aezoo.fit("vae", train, test, fused=True, **kw)
    b = aezoo.fit("vae", train, test, fused=False, **kw)
    chex.assert_trees_all_close(a.params, b.params, rtol=1e-5, atol=1e-6)
    assert a.history[-1]["test/loss"] == pytest.approx(b.history[-1]["test/loss"], rel=1e-4)


def test_epoch_permutation_covers_each_example_at_most_once():
    idx = np.asarray(epoch_batches(jax.random.key(0), 1000, 128))
    assert idx.shape == (7, 128)
    assert len(np.unique(idx)) == idx.size
    assert idx.min() >= 0 and idx.max() < 1000


def test_eval_is_an_example_weighted_mean_over_the_whole_set(digits):
    _, (images, labels) = digits
    spec, module = aezoo.get("ae", image_shape=(8, 8, 1), **SMALL)
    params = aezoo.train.init_params(module, jax.random.key(0))
    x, y = jnp.asarray(images), jnp.asarray(labels)
    full = make_eval_fn(spec, module, batch_size=len(images))(params, x, y, jax.random.key(0))
    chunked = make_eval_fn(spec, module, batch_size=100)(params, x, y, jax.random.key(0))
    # 360 = 3 x 100 + 60: the remainder batch is weighted by its size.
    assert float(chunked["loss"]) == pytest.approx(float(full["loss"]), rel=1e-5)


def test_fit_writes_the_documented_workdir(digits, tmp_path):
    train, test = digits
    result = aezoo.fit(
        "vae",
        train,
        test,
        model_config=SMALL,
        epochs=2,
        batch_size=64,
        workdir=tmp_path,
        dataset="digits",
        progress=False,
    )
    for name in (
        "config.json",
        "metrics.jsonl",
        "params.msgpack",
        "reconstructions.png",
        "samples.png",
    ):
        assert (tmp_path / name).stat().st_size > 0, name
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    for key in (
        "epoch",
        "train/loss",
        "test/loss",
        "test/nll_bound",
        "examples_per_sec",
        "seconds",
    ):
        assert key in records[-1]
    # For the VAE the test loss *is* the negative ELBO bound.
    assert records[-1]["test/loss"] == records[-1]["test/nll_bound"]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model"] == "vae"
    assert config["model_config"]["latent_dim"] == 4
    assert config["train"]["binarize"] == "dynamic"
    saved = aezoo.train.load_params(tmp_path / "params.msgpack")
    chex.assert_trees_all_close(saved, jax.device_get(result.params))


@pytest.mark.slow
def test_same_seed_same_result_and_different_seeds_differ(digits):
    train, test = digits
    kw = {"model_config": SMALL, "epochs": 1, "batch_size": 128, "progress": False}
    a = aezoo.fit("vae", train, test, seed=1, **kw)
    b = aezoo.fit("vae", train, test, seed=1, **kw)
    c = aezoo.fit("vae", train, test, seed=2, **kw)
    chex.assert_trees_all_equal(a.params, b.params)
    assert a.history == [
        {
            **r,
            **{
                k: a.history[i][k]
                for k in ("seconds", "examples_per_sec", "eval_seconds", "compile_seconds")
                if k in r
            },
        }
        for i, r in enumerate(b.history)
    ]
    assert not np.allclose(
        a.params["encoder"]["encoder"]["mlp"]["dense_0"]["kernel"],
        c.params["encoder"]["encoder"]["mlp"]["dense_0"]["kernel"],
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 5000}, r"batch_size 5000 is larger than the training split \(1437"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"epochs": -1}, "epochs must be an integer >= 0"),
        ({"learning_rate": 0.0}, "learning_rate must be a finite number > 0"),
        ({"learning_rate": float("nan")}, "learning_rate must be a finite number > 0"),
        ({"binarize": "sometimes"}, "unknown binarize mode 'sometimes'"),
        ({"model_config": {"latent_dim": 0}}, "latent_dim must be a positive integer"),
    ],
)
def test_fit_rejects_impossible_settings_in_one_line(digits, kwargs, message):
    train, test = digits
    with pytest.raises(aezoo.AezooError, match=message) as info:
        aezoo.fit("ae", train, test, progress=False, **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (np.zeros((10, 64), np.uint8), r"rank 4 \[N, H, W, C\]; got shape \(10, 64\)"),
        (np.full((10, 8, 8, 1), np.nan, np.float32), "NaN or infinite"),
        (np.full((10, 8, 8, 1), 3.0, np.float32), r"must lie in \[0, 1\]"),
        (np.zeros((10, 8, 8, 1), np.int64), "must be uint8"),
    ],
)
def test_fit_rejects_bad_images(images, message):
    labels = np.zeros(len(images), np.int32)
    with pytest.raises(aezoo.AezooError, match=message):
        aezoo.fit("ae", (images, labels), epochs=1, batch_size=2, progress=False)


def test_non_finite_loss_stops_training_and_keeps_last_good_params(digits, tmp_path):
    train, test = digits
    # exp(-logvar) overflows float32: the Gaussian NLL is inf from the first step.
    config = {**SMALL, "likelihood": "gaussian", "obs_logvar": -200.0}
    with pytest.raises(aezoo.NonFiniteError, match=r"non-finite loss at step 0 \(epoch 1\)"):
        aezoo.fit(
            "ae",
            train,
            test,
            model_config=config,
            epochs=2,
            batch_size=64,
            workdir=tmp_path,
            progress=False,
        )
    assert not (tmp_path / "params.msgpack").exists()


@pytest.mark.slow
def test_workdir_holding_a_run_needs_resume_or_overwrite(digits, tmp_path):
    train, test = digits
    kw = {"epochs": 1, "batch_size": 64, "workdir": tmp_path, "progress": False}
    aezoo.fit("ae", train, test, model_config=SMALL, **kw)
    with pytest.raises(aezoo.ConfigError, match="already holds a run; pass --resume"):
        aezoo.fit("ae", train, test, model_config=SMALL, **kw)
    with pytest.raises(aezoo.ConfigError, match=r"settings conflict .* latent_dim 4 != 5"):
        aezoo.fit("ae", train, test, model_config={**SMALL, "latent_dim": 5}, resume=True, **kw)
    again = aezoo.fit(
        "ae", train, test, model_config={**SMALL, "latent_dim": 5}, overwrite=True, **kw
    )
    assert len(again.history) == 1
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["1"]
