"""aezoo: the JAX model zoo for autoencoders."""

from aezoo import data, losses, models, nn
from aezoo.errors import (
    AezooError,
    CheckpointError,
    ConfigError,
    DataError,
    NonFiniteError,
    ShapeError,
)
from aezoo.models import MODELS, ModelSpec, get
from aezoo.train import TrainState, fit, load, make_train_epoch, make_train_step

__version__ = "0.1.0"

__all__ = [
    "MODELS",
    "AezooError",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "ModelSpec",
    "NonFiniteError",
    "ShapeError",
    "TrainState",
    "data",
    "fit",
    "get",
    "load",
    "losses",
    "make_train_epoch",
    "make_train_step",
    "models",
    "nn",
]
