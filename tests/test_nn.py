"""Convolutions as matmuls: equal to Flax's layers (forward, gradients, parameters), chosen
by backend, and free of native convolutions inside the fused epoch."""

from __future__ import annotations

import dataclasses

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import aezoo
from aezoo.errors import ConfigError
from aezoo.models import MODELS
from aezoo.nn import ACTIVATIONS, CONV_IMPLS, Conv, ConvTranspose, Encoder, _onednn, resolve_impl
from aezoo.nn._mlp import ResBlock
from aezoo.train import create_train_state, make_train_epoch

# MNIST in the fast tier; odd sizes and the colour shapes (slower, same code paths) in the full.
# (kernel, strides): the conv arch's 4x4/2, odd kernels, uneven strides, stride > kernel.
# Every layer on MNIST's shape, every other shape with the conv arch's layer (the two axes
# are independent: the shape enters only through the padding arithmetic of each layer).
CASES = [
    ((28, 28, 1), (4, 4), (2, 2)),
    ((28, 28, 1), (2, 2), (3, 3)),
    pytest.param((28, 28, 1), (3, 3), (1, 1), marks=pytest.mark.slow),
    pytest.param((28, 28, 1), (3, 3), (2, 2), marks=pytest.mark.slow),
    pytest.param((28, 28, 1), (5, 3), (2, 1), marks=pytest.mark.slow),
    pytest.param((7, 9, 2), (5, 3), (2, 1), marks=pytest.mark.slow),
    pytest.param((7, 9, 2), (4, 4), (2, 2), marks=pytest.mark.slow),
    pytest.param((32, 32, 3), (4, 4), (2, 2), marks=pytest.mark.slow),
    pytest.param((64, 64, 3), (4, 4), (2, 2), marks=pytest.mark.slow),
]
PAIRS = [(Conv, nn.Conv), (ConvTranspose, nn.ConvTranspose)]


def _relative(a, b) -> float:
    return float(jnp.max(jnp.abs(a - b)) / (jnp.max(jnp.abs(b)) + 1e-12))


@pytest.mark.parametrize(("ours", "flax_layer"), PAIRS, ids=["conv", "conv_transpose"])
@pytest.mark.parametrize(
    ("shape", "kernel", "strides"),
    CASES,
    ids=[
        "28x28x1-4x4s2",
        "28x28x1-2x2s3",
        "28x28x1-3x3s1",
        "28x28x1-3x3s2",
        "28x28x1-5x3s2x1",
        "7x9x2-5x3s2x1",
        "7x9x2-4x4s2",
        "32x32x3-4x4s2",
        "64x64x3-4x4s2",
    ],
)
def test_matmul_layers_equal_flax_forward_and_gradients(ours, flax_layer, kernel, strides, shape):
    x = jax.random.uniform(jax.random.key(1), (2, *shape))
    ref = flax_layer(5, kernel, strides)
    params = ref.init(jax.random.key(0), x)
    layer = ours(5, kernel, strides, impl="matmul")
    # Same parameter tree and the same draws for the same key: checkpoints load either way.
    chex.assert_trees_all_equal(layer.init(jax.random.key(0), x), params)
    # Jitted: one compile per program instead of a dispatch per operation.
    want, got = jax.jit(ref.apply)(params, x), jax.jit(layer.apply)(params, x)
    assert got.shape == want.shape
    assert _relative(got, want) < 1e-5

    def grads(module):
        loss = lambda p, inputs: jnp.sum(jnp.sin(module.apply(p, inputs)))  # noqa: E731
        return jax.jit(jax.grad(loss, argnums=(0, 1)))(params, x)

    want_grads, got_grads = grads(ref), grads(layer)
    for g, w in zip(jax.tree.leaves(got_grads), jax.tree.leaves(want_grads), strict=True):
        assert _relative(g, w) < 1e-4


def test_impl_is_chosen_by_backend_and_can_be_forced():
    cpu = "onednn" if _onednn.available() else "matmul"
    assert resolve_impl("auto") == (cpu if jax.default_backend() == "cpu" else "xla")
    assert resolve_impl("xla") == "xla" and resolve_impl("matmul") == "matmul"
    with pytest.raises(aezoo.ConfigError, match="unknown conv_impl 'cudnn'"):
        resolve_impl("cudnn")
    assert CONV_IMPLS == ("auto", "onednn", "matmul", "xla")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vae", "aae", "vqvae"])
def test_conv_models_give_the_same_outputs_with_either_impl(name, rng):
    x = jax.random.uniform(jax.random.key(2), (4, 28, 28, 1))
    kw = {"image_shape": (28, 28, 1), "latent_dim": 2, "hidden_dims": (16,), "arch": "conv"}
    _, matmul = aezoo.get(name, conv_impl="matmul", **kw)
    params = aezoo.train.init_params(matmul, rng)
    a = jax.jit(lambda p: matmul.apply({"params": p}, x, method="reconstruct")["mean"])(params)
    impls = ["xla", "onednn"] if _onednn.available() else ["xla"]
    for impl in impls:  # checkpoints load across impls: the same parameters
        _, other = aezoo.get(name, conv_impl=impl, **kw)
        chex.assert_trees_all_equal_shapes(params, aezoo.train.init_params(other, rng))
        f = jax.jit(lambda p, m=other: m.apply({"params": p}, x, method="reconstruct")["mean"])
        np.testing.assert_allclose(a, f(params), atol=1e-5)


@pytest.mark.optax
@pytest.mark.slow
def test_fused_conv_epoch_has_no_native_convolution():
    """The point of the matmul layers: no XLA convolution inside the scan on CPU (where it
    runs 10-20x slower than outside a loop); the native impl still has them."""
    spec, module = aezoo.get("vae", image_shape=(28, 28, 1), hidden_dims=(32,), arch="conv")
    optimizer = optax.adam(1e-3)
    state = create_train_state(spec, module, optimizer, jax.random.key(0))
    x, y = jnp.zeros((64, 28, 28, 1), jnp.uint8), jnp.zeros((64,), jnp.int32)
    key = jax.random.key(1)

    def hlo(mod):
        epoch = make_train_epoch(spec, mod, optimizer, batch_size=32, binarize="dynamic")
        return epoch.lower(state, x, y, key, key).as_text()

    assert "convolution" not in hlo(module.clone(config=module.config))
    native = module.clone(
        config=spec.make_config(**{**module.config.to_dict(), "conv_impl": "xla"})
    )
    assert "convolution" in hlo(native)


@pytest.mark.slow  # the fast tier stays < 2 min
def test_residual_block_is_identity_plus_two_convolutions(rng):
    x = jax.random.normal(rng, (2, 5, 7, 4))
    block = ResBlock(4, impl="matmul")
    params = block.init(rng, x)
    zero = jax.tree.map(jnp.zeros_like, params)
    np.testing.assert_array_equal(block.apply(zero, x), x)  # no residual: the identity
    p = params["params"]
    conv = nn.Conv(4, (3, 3))
    h = conv.apply({"params": p["conv_a"]}, jax.nn.relu(x))
    want = x + conv.apply({"params": p["conv_b"]}, jax.nn.relu(h))
    np.testing.assert_allclose(block.apply(params, x), want, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("shape", [(28, 28, 1), (7, 9, 2)])
def test_resnet_arch_mirrors_any_image_size(shape, rng):
    _, module = aezoo.get("ae", image_shape=shape, latent_dim=3, hidden_dims=(8,), arch="resnet")
    params = aezoo.train.init_params(module, rng)
    out = jax.jit(lambda p, x: module.apply({"params": p}, x)["mean"])(
        params, jnp.ones((2, *shape))
    )
    assert out.shape == (2, *shape)
    assert {"stem", "res_0", "down_0", "res_2"} <= set(params["encoder"])


def _colour_rectangles(n: int, seed: int) -> np.ndarray:
    """``[n, 32, 32, 3]`` uint8: one random-coloured rectangle per image on a dark background."""
    rng = np.random.default_rng(seed)
    images = np.full((n, 32, 32, 3), 20, np.uint8)
    for img in images:
        y0, x0 = rng.integers(0, 20, 2)
        h, w = rng.integers(6, 13, 2)
        img[y0 : y0 + h, x0 : x0 + w] = rng.integers(60, 256, 3)
    return images


@pytest.mark.slow
@pytest.mark.optax
@pytest.mark.parametrize("arch", ["conv", "resnet"])
def test_colour_images_train_and_write_figures(arch, tmp_path):
    """A 32x32x3 run (Gaussian decoder, no binarization) lowers its loss and writes the
    figures a user looks at."""
    train = (_colour_rectangles(256, 0), None)
    test = (_colour_rectangles(64, 1), None)
    result = aezoo.fit(
        "vae",
        train,
        test,
        workdir=tmp_path,
        epochs=3,
        batch_size=32,
        progress=False,
        model_config={
            "arch": arch,
            "likelihood": "gaussian",
            "latent_dim": 8,
            "hidden_dims": (64,),
        },
    )
    losses = [r["test/loss"] for r in result.history]
    assert losses[-1] < losses[0] and np.all(np.isfinite(losses))
    assert result.train_config.binarize == "none"
    for name in ("reconstructions.png", "samples.png"):
        assert (tmp_path / name).stat().st_size > 0


@pytest.mark.parametrize("name", ["tanh", "elu"])
def test_the_dense_hidden_layers_use_the_named_activation(name, rng):
    x = jax.random.uniform(rng, (3, 4, 4, 1))
    enc = Encoder((8, 6), 2, activation=name)
    params = enc.init(rng, x)["params"]["mlp"]
    h = x.reshape(3, -1)
    for i in range(2):
        h = ACTIVATIONS[name](
            h @ params[f"dense_{i}"]["kernel"] + params[f"dense_{i}"]["bias"][None]
        )
    want = h @ params["dense_2"]["kernel"] + params["dense_2"]["bias"][None]
    np.testing.assert_allclose(enc.apply({"params": {"mlp": params}}, x), want, rtol=1e-5)


def test_a_gated_layer_is_twice_as_wide_and_gates_its_first_half(rng):
    # Tomczak & Welling's gated dense unit: h = (W x + b) * sigmoid(V x + c), one kernel
    # [in, 2 * width] holding W and V side by side.
    x = jax.random.uniform(rng, (3, 4, 4, 1))
    enc = Encoder((8, 6), 2, activation="gated")
    params = enc.init(rng, x)["params"]["mlp"]
    assert params["dense_0"]["kernel"].shape == (16, 16)
    assert params["dense_1"]["kernel"].shape == (8, 12)
    assert params["dense_2"]["kernel"].shape == (6, 2)  # the output layer is not gated
    h = x.reshape(3, -1)
    for i, width in enumerate((8, 6)):
        pre = h @ params[f"dense_{i}"]["kernel"] + params[f"dense_{i}"]["bias"][None]
        h = pre[:, :width] * jax.nn.sigmoid(pre[:, width:])
    want = h @ params["dense_2"]["kernel"] + params["dense_2"]["bias"][None]
    np.testing.assert_allclose(enc.apply({"params": {"mlp": params}}, x), want, rtol=1e-5)


@pytest.mark.parametrize("model", ["vamp", pytest.param("m2", marks=pytest.mark.slow)])
def test_a_model_with_gated_layers_has_finite_loss_and_gradients(model, rng):
    spec = MODELS[model]
    config = spec.config_cls(image_shape=(4, 4, 1), hidden_dims=(8, 6), activation="gated")
    if model == "vamp":
        config = dataclasses.replace(config, pseudo_inputs=3)
    module = spec.module_cls(config)
    batch = {"image": jax.random.uniform(rng, (2, 4, 4, 1)), "label": jnp.array([0, 1])}
    params = module.init(rng, batch["image"], rng=rng)["params"]
    loss, grads = jax.value_and_grad(lambda p: spec.loss_fn(p, batch, rng, module=module)[0])(
        params
    )
    assert np.isfinite(loss)
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
    # The first gated layer computes twice its width (m2: its class-conditioned layer too,
    # which Flax would otherwise accept at half width without complaint).
    first = (
        params["class_term"] if model == "m2" else params["encoder"]["encoder"]["mlp"]["dense_0"]
    )
    assert first["kernel"].shape[-1] == 16


# Each dense stack fed the same input under both activations: (model, what to call, the
# config field giving its input width). Fed a shared input, a stack that ignored the
# setting would give the same output.
SLOW = pytest.mark.slow
STACKS = [
    pytest.param("vae", lambda m, v: m.encoder(v)[0], "image", id="vae-encoder"),
    pytest.param("vae", lambda m, v: m.decoder(v)["logits"], "latent_dim", id="vae-decoder"),
    # zoo models' own stacks: the full suite
    pytest.param("hvae2", lambda m, v: m.q_top(v)[0], "latent_dim", id="hvae2-q_top", marks=SLOW),
    pytest.param(
        "hvae2", lambda m, v: m.p_mid(v)[0], "top_latent_dim", id="hvae2-p_mid", marks=SLOW
    ),
    pytest.param("m2", lambda m, v: m.posterior(v), "hidden_dims", id="m2-posterior", marks=SLOW),
]


@pytest.mark.parametrize(
    ("model", "stack", "width"), STACKS, ids=lambda v: getattr(v, "__name__", v)
)
def test_the_activation_reaches_every_dense_stack_of_a_model(model, stack, width, rng):
    # Same parameters, other activation: the stack's output changes, its parameters do not.
    spec = MODELS[model]
    relu, tanh = (
        spec.module_cls(spec.config_cls(image_shape=(4, 4, 1), hidden_dims=(8, 6), activation=a))
        for a in ("relu", "tanh")
    )
    x = jax.random.uniform(rng, (2, 4, 4, 1))
    params = relu.init(rng, x, rng=rng)
    chex.assert_trees_all_equal_shapes(params, tanh.init(rng, x, rng=rng))
    if width == "image":
        v = x
    else:
        size = getattr(relu.config, width)
        v = jax.random.normal(rng, (2, size[0] if width == "hidden_dims" else size))
    a, b = relu.apply(params, v, method=stack), tanh.apply(params, v, method=stack)
    assert not np.allclose(a, b)


@pytest.mark.unit
def test_an_unknown_activation_is_a_one_line_error():
    with pytest.raises(ConfigError, match="unknown activation 'sigmoid'; expected one of relu"):
        MODELS["vae"].config_cls(activation="sigmoid")


def test_bfloat16_compute_keeps_parameters_and_loss_in_float32(rng):
    spec = MODELS["vae"]
    x = jax.random.uniform(rng, (4, 8, 8, 1))
    nets = {
        d: spec.module_cls(
            spec.config_cls(image_shape=(8, 8, 1), hidden_dims=(16,), compute_dtype=d)
        )
        for d in ("float32", "bfloat16")
    }
    params, bf16_params = (jax.jit(nets[d].init)(rng, x, rng=rng)["params"] for d in nets)
    chex.assert_trees_all_equal_shapes_and_dtypes(params, bf16_params)
    f32, bf16 = (
        jax.jit(lambda p, d=d: spec.loss_fn(p, {"image": x}, rng, module=nets[d])[0]) for d in nets
    )
    loss, grads = jax.jit(jax.value_and_grad(bf16))(params)
    assert loss.dtype == jnp.float32
    np.testing.assert_allclose(loss, f32(params), rtol=2e-2)
    chex.assert_trees_all_equal_dtypes(grads, params)
    chex.assert_tree_all_finite(grads)
    assert "bf16" in bf16.lower(params).as_text()
    assert "bf16" not in f32.lower(params).as_text()


@pytest.mark.parametrize("layer", [Conv, ConvTranspose])
def test_conv_layers_compute_in_the_dtype_they_are_given(layer, rng):
    x = jax.random.uniform(rng, (2, 6, 6, 3))
    f32, bf16 = (
        layer(4, (4, 4), (2, 2), impl="matmul"),
        layer(4, (4, 4), (2, 2), "matmul", jnp.bfloat16),
    )
    params = f32.init(rng, x)
    want = f32.apply(params, x)
    got = bf16.apply(params, x)
    assert got.dtype == jnp.bfloat16
    np.testing.assert_allclose(got.astype(jnp.float32), want, atol=3e-2)
    assert "bf16" in jax.jit(bf16.apply).lower(params, x).as_text()


@pytest.mark.unit
def test_an_unknown_compute_dtype_is_a_one_line_error():
    with pytest.raises(ConfigError, match="unknown compute_dtype 'float16'; expected one of"):
        MODELS["vae"].config_cls(compute_dtype="float16")
