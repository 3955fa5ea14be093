"""The device side of a run: N >= 1 models trained by one compiled program.

The host loop (:mod:`aezoo.train.loop`) sees one interface, :class:`Program`: start or
restore the models, compile, run an epoch, evaluate, write the final outputs. Metrics come
back as host arrays with a leading member axis ``[N]`` (``N = 1`` for a single run), so the
loop has one code path for records, NaN reports, progress and checkpoints.

One :class:`Program` value, built complete by one of two factories that differ where they
must:

- :func:`single_run`: one model, data parallel over a device mesh (rows sharded over the
  ``data`` axis, state replicated or FSDP-sharded), fused or per-step, any number of
  processes; its checkpoint holds one unstacked state (what ``aezoo.load`` reads).
- :func:`members`: ``seeds`` x ``sweep`` models vmapped along a leading axis, the member
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

from aezoo.errors import ConfigError
from aezoo.models import BaseConfig, ModelSpec
from aezoo.rundir.record import RunRecord
from aezoo.train import inputs, records, runners, sharding, workdir
from aezoo.train import members as members_io
from aezoo.train.config import TrainConfig
from aezoo.train.figures import write_figures
from aezoo.train.inputs import Split
from aezoo.train.members import Member
from aezoo.train.optim import make_optimizer
from aezoo.train.runners import Carry, EpochRunner, HeldOut
from aezoo.train.sharding import LocalRows
from aezoo.train.state import create_train_state
from aezoo.train.step import (
    EVAL_SEED,
)
from aezoo.train.warm import warm_start


@dataclasses.dataclass(frozen=True, eq=False)
class Program:
    """N models on the devices, built complete by :func:`single_run` or :func:`members`:
    what the host loop calls, in this order (start or restore, compile, train an epoch,
    evaluate, finish). ``runner`` is how an epoch runs; ``held_out`` the per-epoch
    evaluation (None without a test or val split)."""

    spec: ModelSpec
    module: nn.Module
    config: BaseConfig  # the model config (member 0's for a sweep)
    train_config: TrainConfig
    members: tuple[Member, ...]
    mesh: Any
    optimizer: optax.GradientTransformation
    runner: EpochRunner
    held_out: HeldOut | None
    steps_per_epoch: int
    figure_split: Split  # the split the final figures are drawn from
    eval_prefix: str = "test"  # the per-epoch metrics' split: "val" when one is given
    fingerprints: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    custom_optimizer: bool = False  # an optax value given to fit(optimizer=...)
    hparams: dict[str, jax.Array] = dataclasses.field(default_factory=dict)
    sweep_name: str | None = None
    configs: tuple[BaseConfig, ...] = ()  # each member's model config (vmapped)
    lrs: tuple[float, ...] = ()  # each member's learning rate (vmapped)
    initial_params: Any = None  # a warm start's (--init-from; a single run)

    @property
    def vmapped(self) -> bool:
        return self.train_config.vmapped

    @property
    def devices(self) -> int:
        return sharding.mesh_size(self.mesh)

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
        """The initial state(s) and keys (each member's from its own seed)."""
        return self._start_members() if self.vmapped else self._start_one()

    def _start_one(self) -> Carry:
        init_key, rng, order_key = jax.random.split(jax.random.key(self.train_config.seed), 3)
        init = functools.partial(create_train_state, self.spec, self.module, self.optimizer)
        shardings = sharding.state_shardings(
            jax.eval_shape(init, init_key), self.mesh, self.train_config.shard_params
        )
        if self.initial_params is None:
            return Carry(jax.jit(init, out_shardings=shardings)(init_key), rng, order_key)
        state = jax.device_put(init(init_key, self.initial_params), shardings)
        return Carry(state, rng, order_key)

    def _start_members(self) -> Carry:
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
        by_member = sharding.row_sharding(self.mesh)
        states = jax.jit(jax.vmap(init), out_shardings=by_member)(keys[:, 0], lrs)
        return Carry(states, *self._place_keys((keys[:, 1], keys[:, 2])))

    def restored(self, tree: Mapping[str, Any]) -> Carry:
        """The carry a checkpoint tree (see :meth:`saved`) holds."""
        keys = (jax.random.wrap_key_data(tree["rng"]), jax.random.wrap_key_data(tree["order_rng"]))
        return Carry(tree["state"], *self._place_keys(keys))

    def _place_keys(self, keys: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        if not self.vmapped:
            return keys
        return jax.device_put(keys, sharding.row_sharding(self.mesh))  # the member axis

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
        if self.vmapped:
            return self._finish_members(out_dir, carry, history, figures)
        if out_dir is None:
            return []
        params = sharding.fetch(carry.state.params)  # a collective when the params are sharded
        if jax.process_index() == 0:
            workdir.save_params(out_dir / "params.msgpack", params)
            if figures:
                split = inputs.arrays(self.figure_split)
                write_figures(out_dir, self.spec, self.module, params, split, history=history)
        return []

    def _finish_members(self, out_dir, carry, history, figures) -> list[dict[str, Any]]:
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
                self.figure_split if figures else None,
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


def host(tree: Any) -> Any:
    """Host copies with a leading member axis (a single run's scalars become ``[1]``)."""
    return jax.tree.map(np.atleast_1d, sharding.fetch(tree))


def single_run(
    spec: ModelSpec, ready: inputs.Prepared, optimizer: optax.GradientTransformation | None
) -> Program:
    """One model, data parallel over a mesh of ``train.devices`` devices: rows sharded over
    the mesh (or streamed), the held-out split binarized once on device."""
    config, train_config, train, held = ready.config, ready.train_config, ready.train, ready.held
    module = spec.module_cls(config=config)
    mesh = sharding.make_mesh(train_config.devices)
    devices = sharding.mesh_size(mesh)
    if train_config.batch_size % devices:
        raise ConfigError(
            f"batch_size {train_config.batch_size} must be a multiple of the "
            f"{devices} devices it is split over (or use --devices)"
        )
    if not train_config.fused and jax.process_count() > 1:
        raise ConfigError("the per-step loop runs on one process; use the fused epoch")
    steps = inputs.num_examples(train) // train_config.batch_size
    tx = optimizer or make_optimizer(train_config, train_config.epochs * steps)
    return Program(
        spec,
        module,
        config,
        train_config,
        (Member(0, train_config.seed, f"seed{train_config.seed}"),),
        mesh,
        tx,
        runners.single_run(spec, module, tx, train, train_config, mesh),
        runners.held_out(spec, module, held, train_config, mesh),
        steps,
        held if held is not None else train,
        ready.eval_prefix,
        ready.fingerprints,
        custom_optimizer=optimizer is not None,
        initial_params=warm_start(spec, module, train, train_config),
    )


def members(
    spec: ModelSpec, ready: inputs.Prepared, optimizer: optax.GradientTransformation | None
) -> Program:
    """``seeds`` x ``sweep`` models in one vmapped program, members split over the devices,
    the data on every device."""
    train_config, train, held = ready.train_config, ready.train, ready.held
    _check_members(train, train_config)
    if train_config.init_from is not None:
        raise ConfigError("--init-from starts one model: drop --seeds / --sweep")
    sweep_name, values = members_io.check_sweep(spec, train_config.sweep)
    found, configs, lrs = members_io.expand(spec, ready.config, train_config, sweep_name, values)
    if optimizer is not None and sweep_name == "lr":
        raise ConfigError(
            "a learning-rate sweep builds its optimizers from the settings; drop "
            "optimizer= (or sweep another setting)"
        )
    module = spec.module_cls(config=configs[0])
    mesh = sharding.make_mesh(members_io.member_devices(len(found), train_config.devices))
    steps = inputs.num_examples(train) // train_config.batch_size
    tx = optimizer or make_optimizer(
        train_config, train_config.epochs * steps, lr_swept=sweep_name == "lr"
    )
    hparams = {}
    if sweep_name not in (None, "lr"):
        swept = jnp.asarray([m.sweep_value for m in found], jnp.float32)
        hparams = {sweep_name: jax.device_put(swept, sharding.row_sharding(mesh))}
    return Program(
        spec,
        module,
        configs[0],
        train_config,
        tuple(found),
        mesh,
        tx,
        runners.members(spec, module, tx, train, train_config, mesh, hparams),
        runners.members_held_out(spec, module, held, train_config, mesh),
        steps,
        held if held is not None else train,
        ready.eval_prefix,
        ready.fingerprints,
        custom_optimizer=optimizer is not None,
        hparams=hparams,
        sweep_name=sweep_name,
        configs=tuple(configs),
        lrs=tuple(lrs),
    )


def _check_members(train: Split, train_config: TrainConfig) -> None:
    if isinstance(train, LocalRows) or jax.process_count() > 1 or train_config.shard_params:
        raise ConfigError(
            "seeds/sweep (vmapped members) run in one process and shard the members, "
            "not the params, over its devices; drop --shard-params / multi-host flags"
        )
    if not train_config.fused:
        raise ConfigError("vmapped members run the fused epoch; drop --per-step (fused=False)")


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
    ``seeds`` or ``sweep`` is set). The per-epoch metrics come from ``val`` when given,
    else from ``test``; ``optimizer`` replaces the one the settings describe."""
    ready = inputs.prepare(spec, train, test, val, train_config, model_config)
    if ready.train_config.keep_best and (ready.train_config.vmapped or ready.held is None):
        raise ConfigError(
            "--keep-best keeps one model by its validation (or test) loss: it needs a single "
            "run (no --seeds/--sweep) and a val or test split"
        )
    build = members if ready.train_config.vmapped else single_run
    return build(spec, ready, optimizer)


__all__ = ["Carry", "Program", "host", "make_program", "members", "single_run"]
