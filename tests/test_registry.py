"""The registry: each model declares what it can do (ModelSpec.capabilities); a declared
capability has its method, an undeclared one is refused in one line that names the models
which have it (read from MODELS, never typed by hand)."""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import aezoo
from aezoo.eval.likelihood import make_log_px_fn
from aezoo.models import CAPABILITIES, MODELS, having, register, require
from aezoo.models._few_labels import FewLabelsConfig, hide_labels
from aezoo.train.load import LoadedModel
from tests.conftest import FAST_MODELS

# capability -> the module methods it promises
METHODS = {
    "encode": ("encode", "decode", "reconstruct"),
    "generative": ("sample",),
    "classify": ("classify",),
    "clusters": ("classify",),
    "semi_supervised": ("classify",),
    "density": (),
    "conditional": ("encode", "decode"),
    "discrete": ("encode", "decode_codes"),
    "normal_prior": ("encode",),
}


@pytest.mark.unit
def test_every_capability_has_its_promised_methods_listed():
    assert set(METHODS) == set(CAPABILITIES)


@pytest.mark.unit
@pytest.mark.parametrize("name", sorted(MODELS))
def test_declared_capabilities_have_their_methods(name):
    spec = MODELS[name]
    for capability in spec.capabilities:
        for method in METHODS[capability]:
            assert callable(getattr(spec.module_cls, method, None)), (capability, method)
    if "density" in spec.capabilities:
        assert callable(spec.density)
    if "discrete" in spec.capabilities:
        positions, vocabulary = spec.code_grid(spec.make_config(image_shape=(8, 8, 1)))
        assert positions >= 1 and vocabulary >= 2
    if "conditional" in spec.capabilities:
        takes = inspect.signature(spec.module_cls.decode).parameters
        assert "label" in takes or any(p.kind is p.VAR_KEYWORD for p in takes.values())
    config = spec.make_config(image_shape=(8, 8, 1))
    if "semi_supervised" in spec.capabilities:
        assert isinstance(config, FewLabelsConfig) and spec.training_split is hide_labels
    if spec.capabilities & {"conditional", "classify"}:
        assert spec.classes(config) >= 1
    else:
        assert spec.classes(config) == 0 and spec.label_range(config) is None


def _loaded(name: str) -> LoadedModel:
    spec, module = aezoo.get(name, image_shape=(8, 8, 1), hidden_dims=(8,), latent_dim=2)
    params = module.init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)), label=jnp.zeros(1, int))
    return LoadedModel(spec, module, module.config, params["params"], {}, 0)


def _refusal(name: str, capability: str):
    """The call that needs ``capability``, on an initialised ``name`` model."""
    images = np.zeros((2, 8, 8, 1), np.uint8)
    calls = {
        "generative": lambda m: m.sample(2, jax.random.key(0)),
        "classify": lambda m: m.classify(images),
        "density": lambda m: make_log_px_fn(m.spec, m.module, num_samples=2, batch_size=2),
        "discrete": lambda m: m.decode_codes(np.zeros((2, 2), np.int32)),
    }
    return calls[capability], _loaded(name)


@pytest.mark.parametrize(
    ("name", "capability"),
    [
        (n, c) if n in FAST_MODELS else pytest.param(n, c, marks=pytest.mark.slow)
        for n, s in sorted(MODELS.items())
        for c in ("generative", "classify", "density", "discrete")
        if c not in s.capabilities
    ],
)
def test_an_undeclared_capability_is_refused_in_one_line_naming_who_has_it(name, capability):
    call, model = _refusal(name, capability)
    with pytest.raises(aezoo.ConfigError) as err:
        call(model)
    message = str(err.value)
    assert "\n" not in message and message.endswith(f"; {name} cannot")
    assert f"({', '.join(having(capability))})" in message


@pytest.mark.unit
def test_require_names_the_models_from_the_registry():
    with pytest.raises(aezoo.ConfigError, match=r"^--labels needs a model that can learn from a"):
        require(MODELS["vae"], "semi_supervised", "--labels")
    assert having("semi_supervised") == sorted(n for n, s in MODELS.items() if s.semi_supervised)
    with pytest.raises(ValueError, match="unknown capability"):
        require(MODELS["vae"], "fly", "x")


@pytest.mark.unit
def test_register_refuses_a_taken_name_and_a_non_spec():
    with pytest.raises(aezoo.ConfigError, match="'vae' is registered already"):
        register(MODELS["vae"])
    with pytest.raises(aezoo.ConfigError, match="register takes a ModelSpec; got str"):
        register("vae")
