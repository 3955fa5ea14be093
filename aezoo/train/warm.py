"""``--init-from RUN``: a run that starts from another run's parameters.

What is taken from the source run is the model's own rule (:attr:`ModelSpec.warm_start`):
``gmvae`` takes an ``ae``'s encoder and decoder and fits its prior's components to the
ae's codes of the training images (VaDE's pretraining, Jiang et al. 2017). The starting
parameters are made when the run is set up, before its folder is written, so a source that
does not fit is a one-line error that leaves nothing behind. A resumed run continues from
its own checkpoint (the source is read again when it is set up, so it must still be there).
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import numpy as np

from aezoo.errors import ConfigError
from aezoo.models import ModelSpec
from aezoo.train.config import TrainConfig
from aezoo.train.inputs import Split
from aezoo.train.load import check_fits, load
from aezoo.train.sharding import LocalRows
from aezoo.train.state import init_params


def warm_start(spec: ModelSpec, module: nn.Module, train: Split, train_config: TrainConfig) -> Any:
    """The params ``module`` starts from with ``train_config.init_from`` (None without it):
    the model's ``warm_start`` given the fresh params' shapes, the loaded source run, the
    training images and the seed."""
    source_dir = train_config.init_from
    if source_dir is None:
        return None
    if spec.warm_start is None:
        raise ConfigError(f"{spec.name} cannot start from another run (--init-from)")
    if isinstance(train, LocalRows):
        raise ConfigError("--init-from needs the training images in memory (one process)")
    source = load(source_dir)
    shape = module.config.image_shape
    if tuple(source.config.image_shape) != tuple(shape):
        raise ConfigError(
            f"--init-from {source_dir}: its images are {tuple(source.config.image_shape)}, "
            f"this run's {tuple(shape)}"
        )
    fresh = jax.eval_shape(functools.partial(init_params, module), jax.random.key(0))
    params = spec.warm_start(module.config, fresh, source, np.asarray(train[0]), train_config.seed)
    check_fits(params, module, f"{spec.name}'s warm start returned other params", ConfigError)
    return params


__all__ = ["warm_start"]
