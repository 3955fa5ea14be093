"""``aezoo.load(DIR)``: a trained model back from its workdir, ready to use in a new process."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import numpy as np

from aezoo import data
from aezoo.errors import CheckpointError, ConfigError, DataError, ShapeError
from aezoo.models import BaseConfig, ModelSpec, require
from aezoo.rundir.record import ARRAYS, RunRecord
from aezoo.train.checkpoint import Checkpointer
from aezoo.train.config import TrainConfig
from aezoo.train.optim import make_optimizer
from aezoo.train.state import create_train_state, init_params
from aezoo.train.workdir import load_params


@dataclasses.dataclass
class LoadedModel:
    """A model, its parameters and its run description, with jitted helpers.

    Images follow the one rule of :func:`aezoo.data.model_input`: uint8 ``[B, H, W, C]``
    (0..255) or floats in [0, 1], of the model's image shape. ``label=`` (int ``[B]``) is
    required by conditional models (``cvae``) and ignored by the others.

    - ``encode(images, label=None)``: ``{"z": [B, D], ...}``; ``z`` is the code to use (the
      posterior mean of a VAE), extras are model-specific (``z_mean``, ``z_logvar``,
      ``codes``).
    - ``decode(z, label=None)``: ``z`` ``[B, D]`` or what ``encode`` returned ->
      ``{"mean": [B, H, W, C], ...}`` (distribution parameters: ``logits`` or ``mean``).
    - ``reconstruct(images, label=None)``: decode the code of ``images``.
    - ``sample(n, rng, label=None)``: ``n`` decodes of prior draws (generative models).
    - ``decode_codes(codes)``: codebook indices ``[B, positions]`` -> ``{"mean": ...}``
      (models with a discrete code: ``vqvae``).
    - ``classify(images)``: ``[B, classes]`` logits (semi-supervised models: ``m2``;
      clustering ones: ``gmvae``).
    """

    spec: ModelSpec
    module: nn.Module
    config: BaseConfig
    params: Any
    record: RunRecord
    epoch: int

    def __post_init__(self) -> None:
        # A model put together in memory (no run folder): a record of it, no data to reload.
        if not isinstance(self.record, RunRecord):
            given = dict(self.record or {})
            self.record = (
                RunRecord.from_dict(given)
                if given
                else RunRecord.new(self.spec, self.config.to_dict(), {"dataset": ARRAYS})
            )

    @property
    def run(self) -> dict[str, Any]:
        """The run record as the JSON of ``config.json`` (``record`` is the typed one)."""
        return self.record.to_dict()

    def _apply(self, method: str, x: jax.Array, label: Any) -> dict[str, jax.Array]:
        cond = {} if label is None else {"label": self._labels(label, x.shape[0])}
        return _jitted(self.module, method)({"params": self.params}, x, **cond)

    def _images(self, images: Any) -> jax.Array:
        return data.model_input(images, self.config.image_shape)

    def _labels(self, label: Any, n: int) -> jax.Array:
        label = np.asarray(label)
        if label.shape != (n,) or not np.issubdtype(label.dtype, np.integer):
            raise ShapeError(f"label must be ints of shape [{n}]; got {label.dtype} {label.shape}")
        classes = self.spec.classes(self.config)
        if classes and (label.min() < 0 or label.max() >= classes):
            raise ShapeError(
                f"labels must lie in 0..{classes - 1}; got {label.min()}..{label.max()}"
            )
        return jax.numpy.asarray(label, jax.numpy.int32)

    def code_shape(self) -> tuple[int, ...]:
        """The shape of one example's ``encode(...)["z"]``."""
        x = jax.ShapeDtypeStruct((1, *self.config.image_shape), jax.numpy.float32)
        label = jax.ShapeDtypeStruct((1,), jax.numpy.int32)
        q = jax.eval_shape(
            lambda x, y: self.module.apply({"params": self.params}, x, label=y, method="encode"),
            x,
            label,
        )
        return tuple(q["z"].shape[1:])

    def dataset(
        self,
        split: str = "test",
        *,
        data_dir: str | None = None,
        cache_dir: str | None = None,
        allow_changed_data: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(images, labels)`` of ``split`` of the run's dataset, read as for training and
        checked against the data fingerprint the run recorded (one-line DataError when it
        changed, unless ``allow_changed_data``)."""
        x, y, _ = load_split(
            self.record,
            split,
            data_dir=data_dir,
            cache_dir=cache_dir,
            allow_changed_data=allow_changed_data,
        )
        return x, y

    def encode(self, images: Any, *, label: Any = None) -> dict[str, jax.Array]:
        return self._apply("encode", self._images(images), label)

    def decode(self, z: Any, *, label: Any = None) -> dict[str, jax.Array]:
        if isinstance(z, Mapping):
            if "z" not in z:
                raise ShapeError(f"decode takes codes or encode's output; got keys {sorted(z)}")
            z = z["z"]
        z = jax.numpy.asarray(z, jax.numpy.float32)
        width = self.code_shape()
        if z.ndim < 2 or z.shape[0] == 0 or int(np.prod(z.shape[1:])) != int(np.prod(width)):
            raise ShapeError(
                f"codes must have shape [B, {', '.join(map(str, width))}] (B >= 1); "
                f"got {tuple(z.shape)}"
            )
        if not bool(jax.numpy.isfinite(z).all()):
            raise ShapeError("codes must be finite; got NaN or infinite values")
        return self._apply("decode", z.reshape(z.shape[0], *width), label)

    def decode_codes(self, codes: Any) -> dict[str, jax.Array]:
        """Decode integer codebook indices ``[B, positions]`` (models with a discrete code)."""
        require(self.spec, "discrete", "decode_codes")
        positions, vocabulary = self.spec.code_grid(self.config)
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[1] != positions or codes.shape[0] == 0:
            raise ShapeError(f"codes must have shape [B, {positions}]; got {codes.shape}")
        if not np.issubdtype(codes.dtype, np.integer):
            raise ShapeError(f"codes must be integer codebook indices; got dtype {codes.dtype}")
        if codes.min() < 0 or codes.max() >= vocabulary:
            raise ShapeError(
                f"codes must lie in 0..{vocabulary - 1}; got {codes.min()}..{codes.max()}"
            )
        codes = jax.numpy.asarray(codes, jax.numpy.int32)
        return _jitted(self.module, "decode_codes")({"params": self.params}, codes)

    def reconstruct(self, images: Any, *, label: Any = None) -> dict[str, jax.Array]:
        return self._apply("reconstruct", self._images(images), label)

    def classify(self, images: Any) -> jax.Array:
        """``[B, classes]`` class logits of a semi-supervised model's classifier (``m2``) or
        cluster logits of a clustering model (``gmvae``)."""
        require(self.spec, "classify", "classify")
        return _jitted(self.module, "classify")({"params": self.params}, self._images(images))

    def sample(self, n: int, rng: jax.Array, *, label: Any = None) -> dict[str, jax.Array]:
        require(self.spec, "generative", "sample")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ConfigError(f"sample needs a positive int number of samples; got {n!r}")
        if not (
            isinstance(rng, jax.Array)
            and jax.dtypes.issubdtype(rng.dtype, jax.dtypes.prng_key)
            and rng.shape == ()
        ):
            raise ConfigError(f"sample needs one key from jax.random.key(seed); got {rng!r:.60}")
        cond = {} if label is None else {"label": self._labels(label, int(n))}
        fn = _jitted(self.module, "sample", static=(1,))
        return fn({"params": self.params}, int(n), rng, **cond)


_JIT_CACHE: dict[tuple, Any] = {}


def _jitted(module: nn.Module, method: str, static: tuple[int, ...] = ()):
    key = (module, method, static)
    if key not in _JIT_CACHE:
        _JIT_CACHE[key] = jax.jit(
            lambda variables, *args, **kw: module.apply(variables, *args, method=method, **kw),
            static_argnums=static,
        )
    return _JIT_CACHE[key]


def load(
    workdir: str | os.PathLike,
    *,
    epoch: int | None = None,
    model: str | None = None,
    best: bool = False,
) -> LoadedModel:
    """Load the newest valid checkpoint (or ``epoch``) of the run in ``workdir``.

    Args:
      workdir: a directory written by ``aezoo train`` / :func:`aezoo.fit`.
      epoch: a specific checkpointed epoch instead of the newest.
      model: if given, the checkpoint must be of this model (one-line error otherwise).
      best: the params of the epoch with the lowest validation (or test) loss, kept by
        ``keep_best`` / ``--keep-best`` in ``workdir/best/``.

    Raises:
      CheckpointError: no run, no checkpoint, corrupt or truncated files, another model.
    """
    root = pathlib.Path(workdir)
    config_path = root / "config.json"
    if not config_path.is_file():
        raise CheckpointError(f"no run in {root}: config.json is missing")
    run = RunRecord.read(config_path)
    spec = run.spec()
    try:
        config = spec.config_cls(**run.model_config)
        train_config = TrainConfig.from_record(run.train)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{config_path} is unreadable or incomplete: {e}") from None
    if run.members:
        names = ", ".join(m.name for m in run.members[:4])
        more = ", ..." if len(run.members) > 4 else ""
        raise CheckpointError(
            f"{root} holds {len(run.members)} vmapped models; load one of them from "
            f"{root / 'members'}/NAME ({names}{more})"
        )
    if model is not None and model != spec.name:
        raise CheckpointError(f"checkpoint in {root} is a {spec.name!r} model, not {model!r}")
    module = spec.module_cls(config=config)
    if best:
        return _load_best(root, spec, module, config, run)
    ckpt_dir = root / "checkpoints"
    if not ckpt_dir.is_dir():
        raise CheckpointError(f"no checkpoint in {root} (no checkpoints/ directory)")
    if run.custom_optimizer:
        got_epoch, params = _restore_params(ckpt_dir, spec, module, epoch)
        return LoadedModel(spec, module, config, params, run, got_epoch)
    optimizer = make_optimizer(train_config)  # the state's structure, not its values
    abstract = jax.eval_shape(
        lambda: {
            "state": create_train_state(spec, module, optimizer, jax.random.key(0)),
            "rng": jax.random.key_data(jax.random.key(0)),
            "order_rng": jax.random.key_data(jax.random.key(0)),
        }
    )
    got_epoch, tree = _restore(ckpt_dir, abstract, epoch, spec.name)
    params = jax.tree.map(np.asarray, tree["state"].params)
    return LoadedModel(spec, module, config, params, run, got_epoch)


def _load_best(root: pathlib.Path, spec, module, config, run) -> LoadedModel:
    """The params ``keep_best`` kept, checked against the model's parameter shapes."""
    info_path, params_path = root / "best" / "best.json", root / "best" / "params.msgpack"
    if not info_path.is_file() or not params_path.is_file():
        raise CheckpointError(f"no best params in {root} (train with --keep-best)")
    try:
        info = json.loads(info_path.read_text())
        epoch = int(info["epoch"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{info_path} is unreadable or incomplete: {e}") from None
    params = load_params(params_path)
    check_fits(params, module, f"{params_path} does not fit the model in {root / 'config.json'}")
    return LoadedModel(spec, module, config, params, run, epoch)


def check_fits(
    params: Any, module: nn.Module, message: str, error: type[Exception] = CheckpointError
) -> None:
    """``message`` as ``error`` unless ``params`` has the module's layers and shapes."""
    expected = jax.eval_shape(lambda: init_params(module, jax.random.key(0)))
    shapes = jax.tree.map(np.shape, params)
    if shapes != jax.tree.map(lambda a: a.shape, expected):
        raise error(message)


def _restore_params(ckpt_dir: pathlib.Path, spec: ModelSpec, module: nn.Module, epoch: int | None):
    """``(epoch, params)`` of a run whose optimizer was given to ``fit`` (its state's
    structure is unknown here, so the checkpoint is read as saved and only its params kept)."""
    got_epoch, tree = _restore(ckpt_dir, None, epoch, spec.name)
    params = jax.tree.map(np.asarray, tree["state"]["params"])
    check_fits(params, module, f"the params in {ckpt_dir} do not fit the model's config")
    return got_epoch, params


def _restore(ckpt_dir: pathlib.Path, abstract: Any, epoch: int | None, model: str):
    """``(epoch, tree)`` of the asked-for (or newest valid) checkpoint in ``ckpt_dir``."""
    ckpt = Checkpointer(ckpt_dir, keep=10**6)
    try:
        available = ckpt.epochs()
        if not available:
            raise CheckpointError(f"no complete checkpoint in {ckpt_dir}")
        if epoch is not None and epoch not in available:
            raise CheckpointError(
                f"no checkpoint of epoch {epoch} in {ckpt_dir}; available: {available}"
            )
        if epoch is None:
            restored = ckpt.restore_latest(abstract, model=model)
        else:
            restored = (epoch, *ckpt.restore(epoch, abstract, model=model))
    finally:
        ckpt.close()
    if restored is None:
        raise CheckpointError(_why_none_restored(ckpt_dir))
    return restored[0], restored[1]


def _why_none_restored(ckpt_dir: pathlib.Path) -> str:
    """Corrupt checkpoints, or a config.json edited after training (its model settings no
    longer those the checkpoints were written with): which one, in words."""
    run = RunRecord.read(ckpt_dir.parent / "config.json")
    ckpt = Checkpointer(ckpt_dir, keep=10**6)
    try:
        saved = next((m for e in reversed(ckpt.epochs()) if (m := ckpt.meta(e))), None)
    finally:
        ckpt.close()
    was = RunRecord.from_dict(saved).model_config if saved else {}
    now = run.model_config
    changed = [k for k in sorted(set(was) | set(now)) if was.get(k) != now.get(k)]
    if saved is None or not changed:
        return f"every checkpoint in {ckpt_dir} is corrupt or truncated"
    k = changed[0]
    return (
        f"config.json in {ckpt_dir.parent} says {k}={now.get(k)!r}, but the checkpoints were "
        f"written with {k}={was.get(k)!r}: config.json was changed after training; put the "
        "training settings back"
    )


def load_split(
    record: RunRecord,
    split: str,
    *,
    data_dir: str | None = None,
    cache_dir: str | None = None,
    allow_changed_data: bool = False,
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """``(images, labels, why)``: a split of a run's dataset read as for training (grey
    levels, labels int32), checked against the data fingerprint the run recorded: a one-line
    DataError when the data behind the name changed, unless ``allow_changed_data`` (then
    ``why`` says what changed). Arrays given to ``fit`` cannot be reloaded: one line."""
    if record.dataset is None:
        raise DataError(
            "this run was trained on arrays passed to fit: its data cannot be reloaded by "
            "name; set TrainConfig(dataset=NAME) when training"
        )
    return data.fingerprints.load_checked(
        record.dataset,
        split,
        record.data_fingerprint,
        allow=allow_changed_data,
        data_dir=data_dir,
        cache_dir=cache_dir,
        options=TrainConfig.from_record(record.train).data_options(),
    )
