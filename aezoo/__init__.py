"""aezoo: the JAX model zoo for autoencoders.

Train a model, load it back, evaluate it:

>>> import aezoo
>>> train, test = aezoo.data.load("digits", "train"), aezoo.data.load("digits", "test")
>>> config = aezoo.TrainConfig(epochs=2, batch_size=64)
>>> result = aezoo.fit("ae", train, test, config=config, progress=False,
...                    model_config={"hidden_dims": (64,), "latent_dim": 8})
>>> len(result.history), sorted(aezoo.MODELS)[:3]
(2, ['aae', 'ae', 'annealed_vae'])
>>> spec, module = aezoo.get("vae", image_shape=(8, 8, 1), latent_dim=4)
>>> spec.name, module.config.latent_dim
('vae', 4)

The public API is what this module exports: ``fit``, ``TrainConfig``, ``load``,
``evaluate``, ``get``, ``MODELS`` and the errors; step builders live in :mod:`aezoo.train`,
data in :mod:`aezoo.data`, likelihoods in :mod:`aezoo.losses`, blocks in :mod:`aezoo.nn`.
"""

from aezoo import (
    data,
    losses,
    models,
    nn,
    samplers,
    tasks,  # registers the run-scoring tasks as evaluators
)
from aezoo.errors import (
    AezooError,
    CheckpointError,
    ConfigError,
    DataError,
    NonFiniteError,
    ShapeError,
)
from aezoo.eval import evaluate
from aezoo.models import MODELS, ModelSpec, get
from aezoo.train import FitResult, TrainConfig, fit, load

__version__ = "0.1.0"

__all__ = [
    "MODELS",
    "AezooError",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "FitResult",
    "ModelSpec",
    "NonFiniteError",
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
    "samplers",
    "tasks",
]
