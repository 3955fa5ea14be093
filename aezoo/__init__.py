"""aezoo: the JAX model zoo for autoencoders.

Train a model, load it back, evaluate it:

>>> import aezoo
>>> train, test = aezoo.data.load("digits", "train"), aezoo.data.load("digits", "test")
>>> config = aezoo.TrainConfig(epochs=2, batch_size=64)
>>> result = aezoo.fit("ae", train, test, config=config, progress=False,
...                    model_config={"hidden_dims": (64,), "latent_dim": 8})
>>> len(result.history), sorted(aezoo.MODELS)[:3]
(2, ['aae', 'adgm', 'ae'])
>>> spec, module = aezoo.get("vae", image_shape=(8, 8, 1), latent_dim=4)
>>> spec.name, module.config.latent_dim
('vae', 4)

The public API is what this module exports: ``fit``, ``TrainConfig``, ``load``,
``evaluate``, ``get``, ``MODELS``, the errors, and ``option`` / ``Options`` (the typed
settings of a plug-in: a model's config field, an evaluator's or a sampler's options); step
builders live in :mod:`aezoo.train`, data in :mod:`aezoo.data`, likelihoods in
:mod:`aezoo.losses`, blocks in :mod:`aezoo.nn`.
Each name is imported on first use (PEP 562), so ``import aezoo`` and the ``aezoo`` command's
``--help`` cost no JAX start-up; ``from aezoo import fit`` works as ever.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from aezoo.errors import (
    AezooError,
    CheckpointError,
    ConfigError,
    DataError,
    NonFiniteError,
    ShapeError,
)

if TYPE_CHECKING:  # what the lazy names are, for type checkers and IDEs
    from aezoo import data, losses, models, nn, samplers, tasks
    from aezoo._validate import Options, option
    from aezoo.eval import evaluate
    from aezoo.models import MODELS, ModelSpec, get
    from aezoo.train import FitResult, TrainConfig, fit, load

__version__ = "0.1.0"

_SUBMODULES = (
    "data",
    "eval",
    "losses",
    "models",
    "nn",
    "recipes",
    "rundir",
    "samplers",
    "tasks",
    "train",
)
_ATTRIBUTES = {
    "evaluate": "aezoo.eval",
    "MODELS": "aezoo.models",
    "ModelSpec": "aezoo.models",
    "get": "aezoo.models",
    "FitResult": "aezoo.train",
    "TrainConfig": "aezoo.train",
    "fit": "aezoo.train",
    "load": "aezoo.train",
    "option": "aezoo._validate",
    "Options": "aezoo._validate",
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"aezoo.{name}")
    if name in _ATTRIBUTES:
        value = getattr(importlib.import_module(_ATTRIBUTES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'aezoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBMODULES, *_ATTRIBUTES})


__all__ = [
    "MODELS",
    "AezooError",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "FitResult",
    "ModelSpec",
    "NonFiniteError",
    "Options",
    "ShapeError",
    "TrainConfig",
    "data",
    "evaluate",
    "fit",
    "get",
    "load",
    "losses",
    "models",
    "nn",
    "option",
    "samplers",
    "tasks",
]
