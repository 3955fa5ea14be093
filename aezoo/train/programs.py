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
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from aezoo import data
from aezoo._validate import byte_size
from aezoo.errors import AezooError, ConfigError, ShapeError
from aezoo.models import BaseConfig, ModelSpec
from aezoo.models._spec import sweepable
from aezoo.train import members as members_io
from aezoo.train import records, sharding, stream, workdir
from aezoo.train.config import LR_NAMES, TrainConfig
from aezoo.train.figures import write_figures
from aezoo.train.members import Member
from aezoo.train.optim import make_optimizer
from aezoo.train.parallel import make_vmapped_train_epoch
from aezoo.train.sharding import LocalRows
from aezoo.train.state import TrainState, create_train_state
from aezoo.train.step import (
    EVAL_SEED,
    check_batch,
    make_eval_fn,
    make_train_chunk,
    make_train_epoch,
    make_train_step,
    run_epoch_per_step,
)

Arrays = tuple[np.ndarray, np.ndarray]
Split = Arrays | LocalRows


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

    def record(self) -> dict[str, Any]:
        """The run record (``config.json``, checkpoint metadata)."""
        members = [dataclasses.asdict(m) for m in self.members] if self.vmapped else None
        extra: dict[str, Any] = {"members": members} if members else {}
        if self.custom_optimizer:
            extra["custom_optimizer"] = True
        return records.run_record(self.spec, self.config, self.train_config, **extra)

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
        n = num_examples(train)
        self.steps_per_epoch = n // train_config.batch_size
        self.custom_optimizer = optimizer is not None
        self.optimizer = optimizer or make_optimizer(
            train_config, train_config.epochs * self.steps_per_epoch
        )
        # Data go to the devices once, as uint8 rows sharded over the mesh (each process
        # holds its own rows), or stream from the host when they exceed the budget; the test
        # set is binarized once on device with a fixed key.
        self.runner = self._runner(train, train_config, n)
        if test is not None:
            x_test, y_test = _place(test, self.mesh)
            eval_fn = make_eval_fn(
                spec, self.module, batch_size=train_config.eval_batch_size, mesh=self.mesh
            )
            x_test = _binarize_once(x_test, train_config.binarize, self.mesh)
            self.held_out = HeldOut(x_test, y_test, num_examples(test), eval_fn)

    def _runner(self, train: Split, train_config: TrainConfig, n: int) -> EpochRunner:
        """Streamed when the data exceed the device budget, else fused or per-step."""
        streamed = self._streamed(train, train_config, n) if train_config.fused else None
        if streamed is not None:
            return StreamedRunner(streamed)
        x, y = _place(train, self.mesh)
        kw = {
            "binarize": train_config.binarize,
            "on_nonfinite": train_config.on_nonfinite,
            "mesh": self.mesh,
            "shard_params": train_config.shard_params,
        }
        if not train_config.fused:
            step = make_train_step(self.spec, self.module, self.optimizer, **kw)
            return PerStepEpoch(step, x, y, train_config.batch_size, n)
        epoch = make_train_epoch(
            self.spec,
            self.module,
            self.optimizer,
            batch_size=train_config.batch_size,
            num_examples=n,
            **kw,
        )
        return ResidentEpoch(epoch, x, y, self.hparams)

    def _streamed(
        self, train: Split, train_config: TrainConfig, n: int
    ) -> stream.StreamedEpoch | None:
        """The streamed epoch when the training images exceed the device budget."""
        budget = stream.device_budget(byte_size("device_memory", train_config.device_memory))
        images = data.for_device(_arrays(train)[0])
        if not stream.needs_streaming(images, self.devices, budget):
            return None
        if isinstance(train, LocalRows) or jax.process_count() > 1:
            raise ConfigError("streaming data larger than --device-memory runs on one process")
        kw = {
            "binarize": train_config.binarize,
            "on_nonfinite": train_config.on_nonfinite,
            "mesh": self.mesh,
        }
        chunk = make_train_chunk(
            self.spec, self.module, self.optimizer, **kw, shard_params=train_config.shard_params
        )
        labels = np.asarray(_arrays(train)[1], np.int32)
        return stream.StreamedEpoch(
            chunk, images, labels, train_config.batch_size, self.mesh, budget
        )

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
                split = _arrays(self._figure_split)
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
        self.sweep_name, values = _check_sweep(spec, train_config.sweep)
        self.members, self.configs, self.lrs = _members(
            spec, config, train_config, self.sweep_name, values
        )
        self.config = self.configs[0]
        self.module = spec.module_cls(config=self.config)
        self.mesh = sharding.make_mesh(_member_devices(len(self.members), train_config.devices))
        self.devices = sharding.mesh_size(self.mesh)
        self._by_member = sharding.row_sharding(self.mesh)  # the member axis over the devices
        everywhere = sharding.replicated(self.mesh)  # each device trains on all the data
        if optimizer is not None and self.sweep_name == "lr":
            raise ConfigError(
                "a learning-rate sweep builds its optimizers from the settings; drop "
                "optimizer= (or sweep another setting)"
            )
        self.custom_optimizer = optimizer is not None
        total_steps = train_config.epochs * (num_examples(train) // train_config.batch_size)
        self.optimizer = optimizer or make_optimizer(
            train_config, total_steps, lr_swept=self.sweep_name == "lr"
        )
        self.hparams = {}
        if self.sweep_name not in (None, "lr"):
            swept = jnp.asarray([m.sweep_value for m in self.members], jnp.float32)
            self.hparams = {self.sweep_name: jax.device_put(swept, self._by_member)}
        images, labels = train
        budget = stream.device_budget(byte_size("device_memory", train_config.device_memory))
        if stream.needs_streaming(data.for_device(images), 1, budget):
            raise ConfigError(
                f"vmapped members keep the data on every device, and {images.nbytes} bytes "
                f"exceed --device-memory ({budget} bytes): raise it or train one model"
            )
        self.steps_per_epoch = len(images) // train_config.batch_size
        x = jax.device_put(data.for_device(images), everywhere)
        y = jax.device_put(np.asarray(labels, np.int32), everywhere)
        if test is not None:
            x_test = data.binarize_once(data.for_device(test[0]), train_config.binarize)
            y_test = np.asarray(test[1], np.int32)
            eval_fn = make_eval_fn(
                spec, self.module, batch_size=train_config.eval_batch_size, members=True
            )
            self.held_out = HeldOut(
                *jax.device_put((x_test, y_test), everywhere), len(y_test), eval_fn
            )
        epoch = make_vmapped_train_epoch(
            spec,
            self.module,
            self.optimizer,
            batch_size=train_config.batch_size,
            binarize=train_config.binarize,
            on_nonfinite=train_config.on_nonfinite,
        )
        fold = jax.vmap(jax.random.fold_in, in_axes=(0, None))
        self.runner = ResidentEpoch(epoch, x, y, self.hparams, fold)

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
    if val is not None:
        train, val, _ = check_splits(train, val, what="validation")
    train, test, image_shape = check_splits(train, test)
    fingerprints = _fingerprints(train_config, {"train": train, "test": test, "val": val})
    if isinstance(model_config, BaseConfig):
        config = dataclasses.replace(model_config, image_shape=image_shape)
    else:
        config = spec.make_config(**{**dict(model_config or {}), "image_shape": image_shape})
    train_config = train_config.resolved(config.likelihood)
    train = _model_split(spec, config, train)
    n = num_examples(train)
    check_batch(train_config.batch_size, n)
    _check_data_fits_model(spec, config, train, test if val is None else val)
    if train_config.keep_best and (train_config.vmapped or (val is None and test is None)):
        raise ConfigError(
            "--keep-best keeps one model by its validation (or test) loss: it needs a single "
            "run (no --seeds/--sweep) and a val or test split"
        )
    program = (Members if train_config.vmapped else SingleRun)(
        spec, config, train_config, (train, test if val is None else val), optimizer
    )
    program.eval_prefix = "test" if val is None else "val"
    program.fingerprints = fingerprints
    return program


def _fingerprints(
    train_config: TrainConfig, splits: Mapping[str, Split | None]
) -> dict[str, dict[str, Any]]:
    """The data fingerprint of every split of a user source (``folder:`` / ``npz:`` /
    ``npy:``, the data that can change behind its name; named datasets are versioned or
    drawn in code) given whole: a part of a split, or one process's rows, is not the split a
    reader will load by name."""
    name = train_config.dataset
    if not data.is_user_source(name):
        return {}
    options = train_config.data_options()
    return {
        split: data.fingerprints.fingerprint(*arrays)
        for split, arrays in splits.items()
        if arrays is not None
        and not isinstance(arrays, LocalRows)
        and len(arrays[0]) == _rows_by_name(name, split, options)
    }


def _rows_by_name(name: str, split: str, options: data.DataOptions) -> int | None:
    """How many rows ``split`` of ``name`` holds when read by name (None: it cannot be)."""
    try:
        return data.num_examples(name, split, options=options)
    except AezooError:
        return None


def check_splits(
    train: Split, test: Split | None, what: str = "test"
) -> tuple[Split, Split | None, tuple]:
    """One-line errors for unusable training/test data; returns both splits (labels None
    becomes -1, unlabelled) and the image shape."""
    train, test = _labelled(train, "training"), _labelled(test, what)
    images, labels = _arrays(train)
    data.check_dataset(images, labels, what="training images")
    if test is not None:
        data.check_dataset(*_arrays(test), what=f"{what} images")
        if tuple(_arrays(test)[0].shape[1:]) != tuple(images.shape[1:]):
            raise ShapeError(
                f"{what} images {tuple(_arrays(test)[0].shape[1:])} differ in shape from "
                f"training images {tuple(images.shape[1:])}"
            )
    return train, test, tuple(int(d) for d in images.shape[1:])


def _labelled(split: Any, what: str) -> Any:
    if split is None or isinstance(split, LocalRows):
        return split
    if not isinstance(split, tuple | list) or len(split) != 2:
        raise ShapeError(
            f"{what} data must be an (images, labels) pair, e.g. from aezoo.data.load; "
            f"got {type(split).__name__}"
        )
    images, labels = split
    if labels is None:
        labels = np.full(np.shape(images)[0] if np.ndim(images) else 0, -1, np.int32)
    return images, labels


def num_examples(split: Split) -> int:
    return split.num_examples if isinstance(split, LocalRows) else len(split[0])


def _arrays(split: Split) -> Arrays:
    return (split.images, split.labels) if isinstance(split, LocalRows) else split


def _model_split(spec: ModelSpec, config: BaseConfig, train: Split) -> Split:
    """The training split as the model prepares it (``spec.training_split``: e.g. all but
    ``--labels N`` labels hidden)."""
    if spec.training_split is None:
        return train
    if isinstance(train, LocalRows):
        raise ConfigError(
            f"{spec.name} prepares its training split from the whole split; train it in one process"
        )
    return spec.training_split(config, *train)


def _check_data_fits_model(
    spec: ModelSpec, config: BaseConfig, train: Split, test: Split | None
) -> None:
    """Tabular vectors need a real-valued likelihood; a conditional model, labels in range
    (a semi-supervised one accepts -1, unlabelled)."""
    if data.is_vectors(config.image_shape) and config.likelihood not in (
        "gaussian",
        "gaussian_pixel",
    ):
        raise ConfigError(
            f"tabular vectors {tuple(config.image_shape)} are real-valued: train them with "
            f"--likelihood gaussian or gaussian_pixel, not {config.likelihood}"
        )
    accepted = spec.label_range(config)
    for split_name, split in (("training", train), ("test", test)):
        if accepted is not None and split is not None:
            labels = _arrays(split)[1]
            lo, hi = int(np.min(labels)), int(np.max(labels))
            if lo < accepted[0] or hi > accepted[1]:
                raise ConfigError(
                    f"{split_name} labels span {lo}..{hi} but the model is conditioned on "
                    f"{accepted[1] + 1} classes (labels 0..{accepted[1]})"
                )


def _place(split: Split, mesh) -> tuple[jax.Array, jax.Array]:
    """A split as global uint8 images and int32 labels, rows sharded over ``mesh``."""
    images, labels = _arrays(split)
    layout = sharding.row_layout(num_examples(split), mesh)
    if isinstance(split, LocalRows):
        if split.start != layout.start or len(images) != layout.real_stop - layout.start:
            raise ConfigError(
                f"process {jax.process_index()} was given rows {split.start}.."
                f"{split.start + len(images)} but owns rows {layout.start}..{layout.real_stop} "
                "on this mesh (load them with aezoo.train.sharding.load_local_rows)"
            )
    else:
        images = images[layout.start : layout.real_stop]
        labels = labels[layout.start : layout.real_stop]
    x = sharding.put_rows(data.for_device(images), layout, mesh)
    y = sharding.put_rows(np.asarray(labels, np.int32), layout, mesh)
    return x, y


def _binarize_once(x: jax.Array, mode: str, mesh) -> jax.Array:
    """:func:`aezoo.data.binarize_once` of the global array, computed where its rows live."""
    if mode == "none":
        return x
    binarize = functools.partial(data.binarize_once, mode=mode)
    return jax.jit(binarize, out_shardings=sharding.row_sharding(mesh))(x)


def _check_sweep(spec: ModelSpec, sweep) -> tuple[str | None, list[float | None]]:
    if sweep is None:
        return None, [None]
    ((name, values),) = sweep.items()
    allowed = ("lr", *sweepable(spec.config_cls))
    if name not in allowed:
        raise ConfigError(
            f"cannot sweep {name!r} for model {spec.name!r}: sweepable are {', '.join(allowed)}"
        )
    return name, list(values)


def _members(
    spec: ModelSpec,
    config: BaseConfig,
    train_config: TrainConfig,
    sweep_name: str | None,
    values: Sequence[float | None],
) -> tuple[list[Member], list[BaseConfig], list[float]]:
    """Every swept value x every seed: the members, their (checked) model configs and lrs."""
    members, configs, lrs = [], [], []
    for value in values:
        for seed in train_config.member_seeds():
            cfg = config
            if sweep_name not in (None, *LR_NAMES):
                cfg = spec.make_config(**{**config.to_dict(), sweep_name: value})
            name = f"seed{seed}" if sweep_name is None else f"{sweep_name}{value:g}-seed{seed}"
            members.append(Member(len(members), seed, name, value))
            configs.append(cfg)
            lrs.append(value if sweep_name == "lr" else train_config.learning_rate)
    if sweep_name == "lr":
        for lr in lrs:
            dataclasses.replace(train_config, learning_rate=lr)  # checks each swept rate
    return members, configs, lrs


def _member_devices(n: int, devices: int | None) -> int:
    available = jax.local_device_count()
    if devices is None:
        return max(d for d in range(1, min(n, available) + 1) if n % d == 0)
    if devices > available:
        raise ConfigError(f"devices must be in 1..{available}; got {devices!r}")
    if n % devices:
        raise ConfigError(
            f"{n} members cannot be split evenly over {devices} devices; use a --seeds / "
            "--sweep count that the device count divides, or --devices"
        )
    return devices


__all__ = ["Carry", "Members", "Program", "SingleRun", "check_splits", "host", "make_program"]
