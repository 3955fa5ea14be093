"""``conv_impl="onednn"`` (issue 45): oneDNN's convolutions through the XLA FFI equal
``lax``'s, forward and both gradients, for every layer shape the nets use and odd ones;
inside ``lax.scan``, under ``vmap``; a conv VAE trains with them as with matmuls; a resumed
run is bit-identical; without the library, ``auto`` says so and trains on matmuls."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import aezoo
from aezoo.nn import _conv, _onednn
from aezoo.train.workdir import load_params
from tests.conftest import TINY_RUN

pytestmark = pytest.mark.skipif(
    not _onednn.available(), reason=f"oneDNN kernel unavailable: {_onednn.status()[1]}"
)
DIMS = ("NHWC", "HWIO", "NHWC")
# (transposed, input [B, H, W, C_in], kernel, C_out, stride): every layer shape of the conv
# and resnet nets (benchmarks/conv_layers.py), then odd sizes: 7x7 inputs, batch 1, C_in 1
# and 3, a 3x3 stride-2 layer and a stride-1 transposed one.
SHAPES = [
    (False, (2, 28, 28, 1), 4, 32, 2),
    (False, (2, 14, 14, 32), 4, 64, 2),
    (True, (2, 7, 7, 64), 4, 32, 2),
    (True, (2, 14, 14, 32), 4, 1, 2),
    (False, (2, 28, 28, 1), 3, 32, 1),
    (False, (2, 28, 28, 32), 3, 32, 1),
    (False, (2, 14, 14, 64), 3, 64, 1),
    (False, (2, 7, 7, 64), 3, 64, 1),
    (False, (2, 28, 28, 32), 4, 64, 2),
    (True, (2, 7, 7, 64), 4, 64, 2),
    (False, (2, 28, 28, 32), 3, 1, 1),
    (False, (1, 7, 7, 3), 4, 5, 2),
    (False, (1, 7, 7, 1), 3, 4, 2),
    (True, (1, 7, 7, 3), 3, 5, 2),
    (True, (3, 5, 5, 1), 3, 2, 1),
]


def _reference(transposed: bool):
    if transposed:
        return lambda x, k, s: lax.conv_transpose(x, k, s, "SAME", dimension_numbers=DIMS)
    return lambda x, k, s: lax.conv_general_dilated(x, k, s, "SAME", dimension_numbers=DIMS)


def _arrays(shape, ksize, cout, seed=0):
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.standard_normal(shape), jnp.float32)
    k = jnp.asarray(0.2 * rng.standard_normal((ksize, ksize, shape[-1], cout)), jnp.float32)
    return x, k


@pytest.mark.unit
@pytest.mark.parametrize(("transposed", "shape", "ksize", "cout", "stride"), SHAPES)
def test_values_and_both_gradients_equal_lax(transposed, shape, ksize, cout, stride):
    x, k = _arrays(shape, ksize, cout)
    ref = _reference(transposed)
    op = (_conv.ConvTranspose if transposed else _conv.Conv).OPS["onednn"]
    s = (stride, stride)
    chex.assert_trees_all_close(jax.jit(op, static_argnums=2)(x, k, s), ref(x, k, s), atol=1e-4)
    g = jax.random.normal(jax.random.key(1), ref(x, k, s).shape)

    def grads(f):
        return jax.jit(jax.grad(lambda x, k: jnp.sum(f(x, k, s) * g), (0, 1)))(x, k)

    chex.assert_trees_all_close(grads(op), grads(ref), atol=2e-4, rtol=1e-4)


@pytest.mark.unit
def test_inside_scan_and_under_vmap_as_lax():
    x, k = _arrays((4, 14, 14, 8), 4, 6)
    op, ref = _conv.Conv.OPS["onednn"], _reference(False)

    def body(f):
        def step(carry, x):
            gx, gk = jax.grad(lambda x, k: jnp.sum(f(x, k, (2, 2)) ** 2), (0, 1))(x, carry)
            return carry - 1e-3 * gk, jnp.sum(gx)

        return jax.jit(lambda k, xs: lax.scan(step, k, xs))

    xs = jnp.stack([x, 2 * x, -x])
    chex.assert_trees_all_close(body(op)(k, xs), body(ref)(k, xs), atol=1e-3, rtol=1e-4)
    ks = jnp.stack([k, 0.5 * k])  # two members' kernels (vmap_method="sequential")
    got = jax.jit(jax.vmap(lambda k: op(x, k, (2, 2))))(ks)
    chex.assert_trees_all_close(got, jax.vmap(lambda k: ref(x, k, (2, 2)))(ks), atol=1e-4)


@pytest.mark.unit
def test_auto_is_onednn_on_this_cpu_and_explicit_onednn_is_checked():
    assert _conv.resolve_impl("auto") == "onednn"
    assert _onednn.status()[1].startswith("oneDNN 3.")


@pytest.mark.optax
def test_a_conv_vae_trains_with_onednn_as_with_matmul(digits):
    def losses(impl):
        result = aezoo.fit(
            "vae",
            *digits,
            epochs=2,
            model_config={"arch": "conv", "latent_dim": 4, "conv_impl": impl},
            **TINY_RUN,
        )
        return np.array([r["test/loss"] for r in result.history])

    onednn, matmul = losses("onednn"), losses("matmul")
    np.testing.assert_allclose(onednn, matmul, rtol=2e-3)
    assert onednn[-1] < onednn[0]


@pytest.mark.optax
def test_a_resumed_onednn_run_is_bit_identical(digits, tmp_path):
    kw = {
        "model_config": {"arch": "conv", "latent_dim": 4, "conv_impl": "onednn"},
        "checkpoint_seconds": 0,
        **TINY_RUN,
    }
    aezoo.fit("vae", *digits, epochs=3, workdir=tmp_path / "whole", **kw)
    aezoo.fit("vae", *digits, epochs=2, workdir=tmp_path / "split", **kw)
    aezoo.fit("vae", *digits, epochs=3, workdir=tmp_path / "split", resume=True, **kw)
    whole, split = (load_params(tmp_path / d / "params.msgpack") for d in ("whole", "split"))
    chex.assert_trees_all_equal(whole, split)


@pytest.mark.slow
def test_without_the_library_auto_says_so_and_trains_on_matmuls(tmp_path):
    env = {**os.environ, "AEZOO_ONEDNN": "0"}
    argv = [sys.executable, "-m", "aezoo.cli", "train", "vae", "--dataset", "digits"]
    argv += ["--arch", "conv", "--epochs", "1", "--no-progress", "--workdir", str(tmp_path)]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    notice = "aezoo: oneDNN convolutions unavailable (turned off by AEZOO_ONEDNN=0)"
    assert done.stderr.count(notice) == 1
    assert json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])["epoch"] == 1
    bad = [*argv[:-1], str(tmp_path / "x"), "--conv-impl", "onednn"]
    refused = subprocess.run(bad, capture_output=True, text=True, env=env, timeout=300)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        "aezoo: error: conv_impl onednn cannot run here: turned off by AEZOO_ONEDNN=0"
    )


@pytest.mark.unit
def test_second_order_gradients_equal_lax():
    """The contractive AE differentiates a Jacobian: each backward primitive has its own
    backward (all three are linear in each argument)."""
    x, k = _arrays((2, 8, 8, 3), 3, 4)
    for transposed in (False, True):
        op = (_conv.ConvTranspose if transposed else _conv.Conv).OPS["onednn"]
        ref = _reference(transposed)

        def penalty(f):
            def jac_norm(k):
                jac = jax.jacrev(lambda x: f(x, k, (2, 2)))(x)
                return jnp.sum(jac**2)

            return jax.jit(jax.grad(jac_norm))(k)

        chex.assert_trees_all_close(penalty(op), penalty(ref), rtol=1e-4, atol=1e-3)


@pytest.mark.optax
def test_a_conv_contractive_ae_trains_with_onednn(digits):
    result = aezoo.fit(
        "contractive_ae",
        *digits,
        epochs=1,
        model_config={"arch": "conv", "latent_dim": 2, "conv_impl": "onednn"},
        **TINY_RUN,
    )
    assert np.isfinite(result.history[0]["train/loss"])
