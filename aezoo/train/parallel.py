"""Many models in one compile: the shared train step under ``jax.vmap``.

A leading axis of size N on the train state and the keys trains N independent models
(different initializations and data orders) with one compiled program; the data are shared.
``fit(..., seeds=..., sweep=...)`` (:mod:`aezoo.train.programs`) is built on these.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import optax

from aezoo.models import ModelSpec
from aezoo.train.state import TrainState, create_train_state
from aezoo.train.step import TRAIN_COMPILER_OPTIONS, make_train_epoch


def create_train_states(
    spec: ModelSpec, module: nn.Module, optimizer: optax.GradientTransformation, keys: jax.Array
) -> TrainState:
    """N train states stacked on a leading axis, one per key in ``keys`` (``[N]`` keys)."""
    return jax.vmap(lambda k: create_train_state(spec, module, optimizer, k))(keys)


def make_vmapped_train_epoch(
    spec: ModelSpec,
    module: nn.Module,
    optimizer: optax.GradientTransformation,
    *,
    batch_size: int,
    binarize: str | None = None,
    on_nonfinite: str = "stop",
) -> Callable[..., tuple[TrainState, dict[str, jax.Array]]]:
    """Jitted ``(states[N], images, labels, rngs[N], epoch_keys[N][, hparams]) -> (states,
    metrics[N])``; ``hparams`` maps sweepable config fields to ``[N]`` values (traced).

    Member i is exactly the fused epoch of :func:`make_train_epoch` run with ``states[i]``,
    ``rngs[i]``, ``epoch_keys[i]`` (and its values); the states are donated.
    """
    epoch = make_train_epoch(
        spec,
        module,
        optimizer,
        batch_size=batch_size,
        binarize=binarize,
        on_nonfinite=on_nonfinite,
        jit=False,
    )

    def members(states, images, labels, rngs, epoch_keys, hparams=None):
        hparams = hparams or {}
        return jax.vmap(epoch, in_axes=(0, None, None, 0, 0, 0))(
            states, images, labels, rngs, epoch_keys, hparams
        )

    return jax.jit(members, donate_argnums=0, compiler_options=TRAIN_COMPILER_OPTIONS)
