"""How an epoch runs on the devices: fused over device-resident data (one ``lax.scan``),
per step, or in chunks streamed from the host; each ``compile(carry, epoch)`` then
``runner(carry, epoch) -> (state, metrics)``, over a :class:`Carry` of the state and keys."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import flax.struct
import jax
import numpy as np
import optax

from aezoo import data
from aezoo._validate import byte_size
from aezoo.errors import ConfigError
from aezoo.models import ModelSpec
from aezoo.train import inputs, sharding, stream
from aezoo.train.config import TrainConfig
from aezoo.train.inputs import Split
from aezoo.train.parallel import make_vmapped_train_epoch
from aezoo.train.sharding import LocalRows
from aezoo.train.state import TrainState
from aezoo.train.step import (
    make_eval_fn,
    make_train_chunk,
    make_train_epoch,
    make_train_step,
    run_epoch_per_step,
)


@flax.struct.dataclass
class Carry:
    """What changes from epoch to epoch: the train state(s) and their two keys."""

    state: TrainState
    rng: jax.Array  # the step keys: fold_in(rng, step)
    order_key: jax.Array  # the data order: fold_in(order_key, epoch)


@dataclasses.dataclass
class ResidentEpoch:
    """The fused epoch over device-resident data: one ``lax.scan`` (vmapped for members)."""

    epoch: Any  # jitted (state, x, y, rng, epoch_key, hparams) -> (state, metrics)
    x: jax.Array
    y: jax.Array
    hparams: dict[str, jax.Array]
    fold: Callable[[jax.Array, int], jax.Array] = jax.random.fold_in

    def _args(self, carry: Carry, epoch: int) -> tuple:
        keys = self.fold(carry.order_key, epoch)
        return carry.state, self.x, self.y, carry.rng, keys, self.hparams

    def compile(self, carry: Carry, epoch: int) -> float:
        """Compile ahead of time (so epoch timings are steady-state); seconds."""
        t0 = time.perf_counter()
        self.epoch = self.epoch.lower(*self._args(carry, epoch)).compile()
        return time.perf_counter() - t0

    def __call__(self, carry: Carry, epoch: int) -> tuple[TrainState, Any]:
        return self.epoch(*self._args(carry, epoch))


@dataclasses.dataclass
class PerStepEpoch:
    """The per-step jitted loop over device-resident data (same keys, same result)."""

    step: Any
    x: jax.Array
    y: jax.Array
    batch_size: int
    num_examples: int

    def compile(self, carry: Carry, epoch: int) -> None:
        return None  # the step compiles on its first call

    def __call__(self, carry: Carry, epoch: int) -> tuple[TrainState, Any]:
        keys = jax.random.fold_in(carry.order_key, epoch)
        return run_epoch_per_step(
            self.step,
            carry.state,
            self.x,
            self.y,
            carry.rng,
            keys,
            self.batch_size,
            self.num_examples,
        )


@dataclasses.dataclass
class StreamedRunner:
    """The fused epoch in chunks fed from the host (data above the device budget)."""

    streamed: stream.StreamedEpoch

    def compile(self, carry: Carry, epoch: int) -> float:
        return self.streamed.compile(carry.state, carry.rng)

    def __call__(self, carry: Carry, epoch: int) -> tuple[TrainState, Any]:
        return self.streamed(carry.state, carry.rng, jax.random.fold_in(carry.order_key, epoch))


EpochRunner = ResidentEpoch | PerStepEpoch | StreamedRunner


def single_run(
    spec: ModelSpec,
    module: nn.Module,
    optimizer: optax.GradientTransformation,
    train: Split,
    train_config: TrainConfig,
    mesh,
) -> EpochRunner:
    """One model's epoch: streamed when the data exceed the device budget, else fused or
    per-step over rows sharded on ``mesh`` (each process places its own rows)."""
    n = inputs.num_examples(train)
    streamed = _streamed(spec, module, optimizer, train, train_config, mesh)
    if streamed is not None:
        return StreamedRunner(streamed)
    x, y = inputs.place(train, mesh)
    kw = {
        "binarize": train_config.binarize,
        "on_nonfinite": train_config.on_nonfinite,
        "mesh": mesh,
        "shard_params": train_config.shard_params,
    }
    if not train_config.fused:
        step = make_train_step(spec, module, optimizer, **kw)
        return PerStepEpoch(step, x, y, train_config.batch_size, n)
    epoch = make_train_epoch(
        spec, module, optimizer, batch_size=train_config.batch_size, num_examples=n, **kw
    )
    return ResidentEpoch(epoch, x, y, {})


def _streamed(spec, module, optimizer, train, train_config, mesh) -> stream.StreamedEpoch | None:
    """The streamed epoch when the (fused) training images exceed the device budget."""
    if not train_config.fused:
        return None
    budget = stream.device_budget(byte_size("device_memory", train_config.device_memory))
    images = data.for_device(inputs.arrays(train)[0])
    if not stream.needs_streaming(images, sharding.mesh_size(mesh), budget):
        return None
    if isinstance(train, LocalRows) or jax.process_count() > 1:
        raise ConfigError("streaming data larger than --device-memory runs on one process")
    kw = {"binarize": train_config.binarize, "on_nonfinite": train_config.on_nonfinite}
    chunk = make_train_chunk(
        spec, module, optimizer, **kw, mesh=mesh, shard_params=train_config.shard_params
    )
    labels = np.asarray(inputs.arrays(train)[1], np.int32)
    return stream.StreamedEpoch(chunk, images, labels, train_config.batch_size, mesh, budget)


def members(
    spec: ModelSpec,
    module: nn.Module,
    optimizer: optax.GradientTransformation,
    train: Split,
    train_config: TrainConfig,
    mesh,
    hparams: dict[str, jax.Array],
) -> ResidentEpoch:
    """The vmapped members' fused epoch: the data on every device (checked against the
    budget), the member axis over ``mesh``."""
    images, labels = inputs.arrays(train)
    budget = stream.device_budget(byte_size("device_memory", train_config.device_memory))
    if stream.needs_streaming(data.for_device(images), 1, budget):
        raise ConfigError(
            f"vmapped members keep the data on every device, and {images.nbytes} bytes "
            f"exceed --device-memory ({budget} bytes): raise it or train one model"
        )
    everywhere = sharding.replicated(mesh)  # each device trains on all the data
    x = jax.device_put(data.for_device(images), everywhere)
    y = jax.device_put(np.asarray(labels, np.int32), everywhere)
    epoch = make_vmapped_train_epoch(
        spec,
        module,
        optimizer,
        batch_size=train_config.batch_size,
        binarize=train_config.binarize,
        on_nonfinite=train_config.on_nonfinite,
    )
    fold = jax.vmap(jax.random.fold_in, in_axes=(0, None))
    return ResidentEpoch(epoch, x, y, hparams, fold)


@dataclasses.dataclass
class HeldOut:
    """The per-epoch evaluation split on the devices (binarized once) and its eval fn."""

    x: jax.Array
    y: jax.Array
    num_examples: int
    eval_fn: Any


def held_out(spec, module, held, train_config: TrainConfig, mesh) -> HeldOut | None:
    """The held-out split placed like the training rows, binarized once on device."""
    if held is None:
        return None
    x, y = inputs.place(held, mesh)
    eval_fn = make_eval_fn(spec, module, batch_size=train_config.eval_batch_size, mesh=mesh)
    x = inputs.binarize_on(x, train_config.binarize, mesh)
    return HeldOut(x, y, inputs.num_examples(held), eval_fn)


def members_held_out(spec, module, held, train_config: TrainConfig, mesh) -> HeldOut | None:
    """The held-out split on every device (binarized once) and the vmapped eval fn."""
    if held is None:
        return None
    everywhere = sharding.replicated(mesh)
    x = data.binarize_once(data.for_device(held[0]), train_config.binarize)
    y = np.asarray(held[1], np.int32)
    eval_fn = make_eval_fn(spec, module, batch_size=train_config.eval_batch_size, members=True)
    return HeldOut(*jax.device_put((x, y), everywhere), len(y), eval_fn)


__all__ = [
    "Carry",
    "EpochRunner",
    "HeldOut",
    "PerStepEpoch",
    "ResidentEpoch",
    "StreamedRunner",
    "held_out",
    "members",
    "members_held_out",
    "single_run",
]
