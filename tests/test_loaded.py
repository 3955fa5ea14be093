"""One API for people who import the models: every model's helpers take the same inputs and
return the same keys (``z`` from ``encode``; ``decode`` takes what ``encode`` returns)."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import aezoo
from aezoo.train.load import LoadedModel
from tests.conftest import every_model


def _loaded(name: str) -> LoadedModel:
    """A freshly initialised model of ``name`` behind the helpers of ``aezoo.load``."""
    spec, module = aezoo.get(name, image_shape=(8, 8, 1), hidden_dims=(16,), latent_dim=3)
    x = jnp.zeros((2, 8, 8, 1))
    variables = module.init(jax.random.key(0), x, label=jnp.zeros(2, jnp.int32))
    return LoadedModel(spec, module, module.config, variables["params"], {}, 0)


def _images(n=4):
    return np.random.default_rng(0).integers(0, 256, (n, 8, 8, 1)).astype(np.uint8)


def _label(m: LoadedModel, n=4):
    return np.arange(n) % 10 if m.spec.conditional else None


NAMES = every_model(sorted(aezoo.MODELS))  # FAST_MODELS in the fast tier


@pytest.mark.parametrize("name", NAMES)
def test_encode_gives_z_and_decode_takes_what_encode_gives(name):
    m = _loaded(name)
    x, label = _images(), _label(m)
    q = m.encode(x, label=label)
    assert "z" in q and q["z"].ndim == 2 and q["z"].shape[0] == 4
    assert m.code_shape() == q["z"].shape[1:]
    if "z_mean" in q:  # the code to use is the posterior mean
        chex.assert_trees_all_close(q["z"], q["z_mean"])
    from_dict = m.decode(q, label=label)
    chex.assert_trees_all_close(from_dict, m.decode(q["z"], label=label))
    chex.assert_trees_all_close(from_dict, m.reconstruct(x, label=label), atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(aezoo.MODELS))
def test_uint8_and_its_float_image_give_the_same_codes(name):
    m = _loaded(name)
    x, label = _images(), _label(m)
    as_float = x.astype(np.float32) / 255.0
    chex.assert_trees_all_close(
        m.encode(x, label=label)["z"], m.encode(as_float, label=label)["z"], atol=1e-6
    )


def test_conditional_model_takes_labels_in_every_helper():
    m = _loaded("cvae")
    x, label = _images(), np.array([0, 1, 2, 3])
    assert m.reconstruct(x, label=label)["logits"].shape == (4, 8, 8, 1)
    assert m.sample(4, jax.random.key(0), label=label)["logits"].shape == (4, 8, 8, 1)
    with pytest.raises(aezoo.ConfigError, match="conditioned on labels: pass label="):
        m.reconstruct(x)
    with pytest.raises(aezoo.ShapeError, match=r"labels must lie in 0..9; got 0..10"):
        m.reconstruct(x, label=np.array([0, 1, 2, 10]))
    # The label reaches the decoder: two labels give two different images.
    z = m.encode(x, label=label)
    a = m.decode(z, label=np.zeros(4, int))["logits"]
    b = m.decode(z, label=np.ones(4, int))["logits"]
    assert not np.allclose(a, b)


def test_classify_gives_logits_of_a_semi_supervised_model_only():
    m = _loaded("m2")
    logits = m.classify(_images())
    assert logits.shape == (4, 10)
    guess = np.argmax(np.asarray(logits), -1)
    np.testing.assert_array_equal(m.encode(_images())["y"], guess)  # no label: the guess
    with pytest.raises(aezoo.errors.ConfigError, match="classify needs a model that can"):
        _loaded("vae").classify(_images())
