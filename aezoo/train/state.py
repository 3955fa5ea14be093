"""The training state: step, params, optimizer state. Randomness is an explicit key."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import optax

from aezoo.models import ModelSpec


@flax.struct.dataclass
class TrainState:
    """Everything that changes during training (a pytree; donated to the jitted step)."""

    step: jax.Array
    params: Any
    opt_state: tuple[optax.OptState, ...]  # one per training phase


def init_params(module: nn.Module, rng: jax.Array) -> Any:
    """Initialize ``module``'s parameters from a dummy batch of its image shape."""
    x = jnp.zeros((1, *module.config.image_shape), jnp.float32)
    init_rng, sample_rng = jax.random.split(rng)
    # Every module takes a label keyword (conditional models use it, the others ignore it).
    label = jnp.zeros((1,), jnp.int32)
    return module.init(init_rng, x, rng=sample_rng, label=label)["params"]


def create_train_state(
    spec: ModelSpec,
    module: nn.Module,
    optimizer: optax.GradientTransformation,
    rng: jax.Array,
    params: Any = None,
) -> TrainState:
    """A fresh :class:`TrainState` (step 0) with params drawn from ``rng``, or the given
    ``params`` (a warm start: ``--init-from``).

    ``opt_state`` holds one optimizer state per training phase of ``spec``.
    """
    if params is None:
        params = init_params(module, rng)
    txs = spec.optimizers(module.config, optimizer)
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        opt_state=tuple(tx.init(params) for tx in txs),
    )
