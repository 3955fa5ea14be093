"""The device side of a run: N >= 1 models trained by one compiled program.

The host loop (:mod:`aezoo.train.loop`) sees one interface, :class:`Program`: start or
restore the models, compile, run an epoch, evaluate, write the final outputs. Metrics come
back as host arrays with a leading member axis ``[N]`` (``N = 1`` for a single run), so the
loop has one code path for records, NaN reports, progress and checkpoints.

Two programs differ where they must:

- :class:`SingleRun`: one model, data parallel over a device mesh (rows sharded over the
  ``data`` axis, state replicated or FSDP-sharded), fused or per-step, any number of
  processes; its checkpoint holds one unstacked state (what ``aezoo.load`` reads).
- :class:`Members`: ``seeds`` x ``sweep`` models vmapped along a leading axis, the member
  axis sharded over the devices, the data replicated. Member i follows exactly the keys of a
  single run with its seed, so it equals that run up to float rounding (tested). A swept
  value is traced, not baked in: ``lr`` lives in the optimizer state
  (``optax.inject_hyperparams``), a model field marked ``sweep=True`` reaches the loss as a
  traced config value.
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from aezoo import data
from aezoo.errors import ConfigError
from aezoo.models import BaseConfig, ModelSpec
from aezoo.runs.record import RunRecord
from aezoo.train import inputs, records, runners, sharding, workdir
from aezoo.train import members as members_io
from aezoo.train.config import TrainConfig
from aezoo.train.figures import write_figures
from aezoo.train.inputs import Split
from aezoo.train.members import Member
from aezoo.train.optim import make_optimizer
from aezoo.train.runners import Carry, EpochRunner
from aezoo.train.sharding import LocalRows
from aezoo.train.state import create_train_state
from aezoo.train.step import (
    EVAL_SEED,
    make_eval_fn,
)


@dataclasses.dataclass
class HeldOut:
    """The per-epoch evaluation split on the devices (binarized once) and its eval fn."""

    x: jax.Array
    y: jax.Array
    num_examples: int
    eval_fn: Any


class Program:
    """N models on the devices: what the host loop calls, in this order. Each program
    sets ``runner`` (how an epoch runs) and ``held_out`` (the per-epoch evaluation, or
    None) when it is built."""

    spec: ModelSpec
    module: nn.Module
    config: BaseConfig  # the model config (member 0's for a sweep)
    train_config: TrainConfig
    members: list[Member]
    sweep_name: str | None = None
    devices: int = 1
    eval_prefix: str = "test"  # the per-epoch metrics' split: "val" when one is given
    fingerprints: dict[str, dict[str, Any]] | None = None  # what each split was (config.json)
    hparams: dict[str, jax.Array]
    steps_per_epoch: int
    custom_optimizer: bool = False  # an optax value given to fit(optimizer=...)
    runner: EpochRunner
    held_out: HeldOut | None = None

    @property
    def vmapped(self) -> bool:
        return self.train_config.vmapped

    def record(self) -> RunRecord:
        """The run record (``config.json``, checkpoint metadata)."""
        return records.run_record(
            self.spec,
            self.config,
            self.train_config,
            members=self.members if self.vmapped else (),
            custom_optimizer=self.custom_optimizer,
        )

    def start(self) -> Carry:
        raise NotImplementedError

    def restored(self, tree: Mapping[str, Any]) -> Carry:
        """The carry a checkpoint tree (see :meth:`saved`) holds."""
        keys = (jax.random.wrap_key_data(tree["rng"]), jax.random.wrap_key_data(tree["order_rng"]))
        return Carry(tree["state"], *self._place_keys(keys))

    def saved(self, carry: Carry) -> dict[str, Any]:
        """What a checkpoint holds: the state(s) and the keys' data."""
        return {
            "state": carry.state,
            "rng": np.asarray(jax.random.key_data(carry.rng)),
            "order_rng": np.asarray(jax.random.key_data(carry.order_key)),
        }

    def compile(self, carry: Carry, epoch: int) -> float | None:
        """Compile the epoch ahead of time (so epoch timings are steady-state); seconds."""
        return self.runner.compile(carry, epoch)

    def train_epoch(self, carry: Carry, epoch: int) -> tuple[Carry, dict[str, np.ndarray]]:
        """One epoch; its metrics as ``[N]`` host arrays (the one host fetch of the epoch)."""
        state, metrics = self.runner(carry, epoch)
        return carry.replace(state=state), host(metrics)

    def evaluate(self, carry: Carry) -> dict[str, np.ndarray]:
        """Held-out metrics as ``[N]`` host arrays ({} without a held-out split)."""
        if self.held_out is None:
            return {}
        h, rng = self.held_out, jax.random.key(EVAL_SEED)
        params = carry.state.params
        return host(h.eval_fn(params, h.x, h.y, rng, self.hparams, num_examples=h.num_examples))

    def steps(self, carry: Carry) -> np.ndarray:
        return host(carry.state.step)

    def finish(
        self, out_dir: pathlib.Path | None, carry: Carry, history: list, figures: bool
    ) -> list[dict[str, Any]]:
        """Write the final outputs; returns the summary over members (``[]`` for one)."""
        raise NotImplementedError

    def _place_keys(self, keys: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        return keys


def host(tree: Any) -> Any:
    """Host copies with a leading member axis (a single run's scalars become ``[1]``)."""
    return jax.tree.map(np.atleast_1d, sharding.fetch(tree))


class SingleRun(Program):
    """One model, data parallel over a mesh of ``train.devices`` devices."""

    def __init__(
        self,
        spec,
        config,
        train_config: TrainConfig,
        splits: tuple[Split, Split | None],
        optimizer: optax.GradientTransformation | None,
    ):
        train, test = splits
        self.spec, self.config, self.train_config = spec, config, train_config
        self._figure_split = test if test is not None else train
        self.module = spec.module_cls(config=config)
        self.members = [Member(0, train_config.seed, f"seed{train_config.seed}")]
        self.mesh = sharding.make_mesh(train_config.devices)
        self.devices = sharding.mesh_size(self.mesh)
        if train_config.batch_size % self.devices:
            raise ConfigError(
                f"batch_size {train_config.batch_size} must be a multiple of the "
                f"{self.devices} devices it is split over (or use --devices)"
            )
        if not train_config.fused and jax.process_count() > 1:
            raise ConfigError("the per-step loop runs on one process; use the fused epoch")
        self.hparams = {}
        self.steps_per_epoch = inputs.num_examples(train) // train_config.batch_size
        self.custom_optimizer = optimizer is not None
        self.optimizer = optimizer or make_optimizer(
            train_config, train_config.epochs * self.steps_per_epoch
        )
        # Rows sharded over the mesh (or streamed); the test set binarized once on device.
        self.runner = runners.single_run(
            spec, self.module, self.optimizer, train, train_config, self.mesh
        )
        if test is not None:
            x_test, y_test = inputs.place(test, self.mesh)
            eval_fn = make_eval_fn(
                spec, self.module, batch_size=train_config.eval_batch_size, mesh=self.mesh
            )
            x_test = inputs.binarize_on(x_test, train_config.binarize, self.mesh)
            self.held_out = HeldOut(x_test, y_test, inputs.num_examples(test), eval_fn)

    def start(self) -> Carry:
        init_key, rng, order_key = jax.random.split(jax.random.key(self.train_config.seed), 3)
        init = functools.partial(create_train_state, self.spec, self.module, self.optimizer)
        shardings = sharding.state_shardings(
            jax.eval_shape(init, init_key), self.mesh, self.train_config.shard_params
        )
        return Carry(jax.jit(init, out_shardings=shardings)(init_key), rng, order_key)

    def finish(self, out_dir, carry, history, figures) -> list[dict[str, Any]]:
        if out_dir is None:
            return []
        params = sharding.fetch(carry.state.params)  # a collective when the params are sharded
        if jax.process_index() == 0:
            workdir.save_params(out_dir / "params.msgpack", params)
            if figures:
                split = inputs.arrays(self._figure_split)
                write_figures(out_dir, self.spec, self.module, params, split)
        return []


class Members(Program):
    """``seeds`` x ``sweep`` models in one vmapped program, members split over the devices."""

    def __init__(
        self,
        spec,
        config,
        train_config: TrainConfig,
        splits: tuple[Split, Split | None],
        optimizer: optax.GradientTransformation | None,
    ):
        train, test = splits
        if isinstance(train, LocalRows) or jax.process_count() > 1 or train_config.shard_params:
            raise ConfigError(
                "seeds/sweep (vmapped members) run in one process and shard the members, "
                "not the params, over its devices; drop --shard-params / multi-host flags"
            )
        if not train_config.fused:
            raise ConfigError("vmapped members run the fused epoch; drop --per-step (fused=False)")
        self.spec, self.train_config = spec, train_config
        self._figure_split = test if test is not None else train
        self.sweep_name, values = members_io.check_sweep(spec, train_config.sweep)
        self.members, self.configs, self.lrs = members_io.expand(
            spec, config, train_config, self.sweep_name, values
        )
        self.config = self.configs[0]
        self.module = spec.module_cls(config=self.config)
        self.mesh = sharding.make_mesh(
            members_io.member_devices(len(self.members), train_config.devices)
        )
        self.devices = sharding.mesh_size(self.mesh)
        self._by_member = sharding.row_sharding(self.mesh)  # the member axis over the devices
        everywhere = sharding.replicated(self.mesh)  # each device trains on all the data
        if optimizer is not None and self.sweep_name == "lr":
            raise ConfigError(
                "a learning-rate sweep builds its optimizers from the settings; drop "
                "optimizer= (or sweep another setting)"
            )
        self.custom_optimizer = optimizer is not None
        total_steps = train_config.epochs * (inputs.num_examples(train) // train_config.batch_size)
        self.optimizer = optimizer or make_optimizer(
            train_config, total_steps, lr_swept=self.sweep_name == "lr"
        )
        self.hparams = {}
        if self.sweep_name not in (None, "lr"):
            swept = jnp.asarray([m.sweep_value for m in self.members], jnp.float32)
            self.hparams = {self.sweep_name: jax.device_put(swept, self._by_member)}
        self.steps_per_epoch = inputs.num_examples(train) // train_config.batch_size
        if test is not None:
            x_test = data.binarize_once(data.for_device(test[0]), train_config.binarize)
            y_test = np.asarray(test[1], np.int32)
            eval_fn = make_eval_fn(
                spec, self.module, batch_size=train_config.eval_batch_size, members=True
            )
            self.held_out = HeldOut(
                *jax.device_put((x_test, y_test), everywhere), len(y_test), eval_fn
            )
        self.runner = runners.members(
            spec, self.module, self.optimizer, train, train_config, self.mesh, self.hparams
        )

    def start(self) -> Carry:
        keys = jnp.stack(
            [jnp.stack(jax.random.split(jax.random.key(m.seed), 3)) for m in self.members]
        )
        lr_swept = self.sweep_name == "lr"

        def init(key, lr):
            state = create_train_state(self.spec, self.module, self.optimizer, key)
            if lr_swept:
                opt_state = optax.tree_utils.tree_set(state.opt_state, learning_rate=lr)
                state = state.replace(opt_state=opt_state)
            return state

        lrs = jnp.asarray(self.lrs, jnp.float32)
        states = jax.jit(jax.vmap(init), out_shardings=self._by_member)(keys[:, 0], lrs)
        return Carry(states, *self._place_keys((keys[:, 1], keys[:, 2])))

    def _place_keys(self, keys):
        return jax.device_put(keys, self._by_member)

    def finish(self, out_dir, carry, history, figures) -> list[dict[str, Any]]:
        summary = members_io.summarize_members(history, self.members, self.sweep_name)
        if out_dir is not None:
            members_io.write_members(
                out_dir,
                self.spec,
                self.members,
                self.configs,
                self.member_configs(),
                self.saved(carry),
                history,
                self._figure_split if figures else None,
                lr_swept=self.sweep_name == "lr",
                sweep_name=self.sweep_name,
            )
            members_io.write_summary(out_dir, summary, self.sweep_name)
        return summary

    def member_configs(self) -> list[TrainConfig]:
        """Each member's own training settings, as a single run with its seed would have."""
        return [
            dataclasses.replace(
                self.train_config, seed=m.seed, learning_rate=lr, seeds=None, sweep=None
            )
            for m, lr in zip(self.members, self.lrs, strict=True)
        ]


def make_program(
    spec: ModelSpec,
    train: Split,
    test: Split | None,
    train_config: TrainConfig,
    model_config: BaseConfig | Mapping[str, Any] | None,
    val: Split | None = None,
    optimizer: optax.GradientTransformation | None = None,
) -> Program:
    """Check the data and settings, then build the program for them (members when
    ``seeds`` or ``sweep`` is set). Returns it with ``train`` resolved for the model. The
    per-epoch metrics come from ``val`` when given, else from ``test``; ``optimizer``
    replaces the one the settings describe."""
    ready = inputs.prepare(spec, train, test, val, train_config, model_config)
    if ready.train_config.keep_best and (ready.train_config.vmapped or ready.held is None):
        raise ConfigError(
            "--keep-best keeps one model by its validation (or test) loss: it needs a single "
            "run (no --seeds/--sweep) and a val or test split"
        )
    build = Members if ready.train_config.vmapped else SingleRun
    program = build(spec, ready.config, ready.train_config, (ready.train, ready.held), optimizer)
    program.eval_prefix = "test" if val is None else "val"
    program.fingerprints = ready.fingerprints
    return program


__all__ = ["Carry", "Members", "Program", "SingleRun", "host", "make_program"]
