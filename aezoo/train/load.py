"""``aezoo.load(DIR)``: a trained model back from its workdir, ready to use in a new process."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from typing import Any

import flax.linen as nn
import jax
import numpy as np
import optax

from aezoo import data
from aezoo.errors import CheckpointError, ConfigError
from aezoo.models import BaseConfig, ModelSpec, get_spec
from aezoo.train.checkpoint import Checkpointer
from aezoo.train.state import create_train_state


@dataclasses.dataclass
class LoadedModel:
    """A model, its parameters and its run description, with jitted helpers.

    The helpers accept uint8 images (0..255) or floats in [0, 1], ``[B, H, W, C]``.
    """

    spec: ModelSpec
    module: nn.Module
    config: BaseConfig
    params: Any
    run: dict[str, Any]
    epoch: int

    def _apply(self, method: str, *args: Any) -> dict[str, jax.Array]:
        fn = _jitted(self.module, method)
        return fn({"params": self.params}, *args)

    def encode(self, images) -> dict[str, jax.Array]:
        return self._apply("encode", data.to_float(jax.numpy.asarray(images)))

    def decode(self, z) -> dict[str, jax.Array]:
        return self._apply("decode", jax.numpy.asarray(z))

    def reconstruct(self, images) -> dict[str, jax.Array]:
        return self._apply("reconstruct", data.to_float(jax.numpy.asarray(images)))

    def sample(self, n: int, rng: jax.Array) -> dict[str, jax.Array]:
        if not self.spec.generative:
            raise ConfigError(f"model {self.spec.name!r} has no prior to sample from")
        return _jitted(self.module, "sample", static=(1,))({"params": self.params}, n, rng)


_JIT_CACHE: dict[tuple, Any] = {}


def _jitted(module: nn.Module, method: str, static: tuple[int, ...] = ()):
    key = (module, method, static)
    if key not in _JIT_CACHE:
        _JIT_CACHE[key] = jax.jit(
            lambda variables, *args: module.apply(variables, *args, method=method),
            static_argnums=static,
        )
    return _JIT_CACHE[key]


def load(
    workdir: str | os.PathLike, *, epoch: int | None = None, model: str | None = None
) -> LoadedModel:
    """Load the newest valid checkpoint (or ``epoch``) of the run in ``workdir``.

    Args:
      workdir: a directory written by ``aezoo train`` / :func:`aezoo.fit`.
      epoch: a specific checkpointed epoch instead of the newest.
      model: if given, the checkpoint must be of this model (one-line error otherwise).

    Raises:
      CheckpointError: no run, no checkpoint, corrupt or truncated files, another model.
    """
    root = pathlib.Path(workdir)
    config_path = root / "config.json"
    if not config_path.is_file():
        raise CheckpointError(f"no run in {root}: config.json is missing")
    try:
        run = json.loads(config_path.read_text())
        spec = get_spec(run["model"])
        config = spec.config_cls(**run["model_config"])
        lr = float(run["train"]["learning_rate"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{config_path} is unreadable or incomplete: {e}") from None
    if run.get("members"):
        names = ", ".join(m["name"] for m in run["members"][:4])
        more = ", ..." if len(run["members"]) > 4 else ""
        raise CheckpointError(
            f"{root} holds {len(run['members'])} vmapped models; load one of them from "
            f"{root / 'members'}/NAME ({names}{more})"
        )
    if model is not None and model != spec.name:
        raise CheckpointError(f"checkpoint in {root} is a {spec.name!r} model, not {model!r}")
    ckpt_dir = root / "checkpoints"
    if not ckpt_dir.is_dir():
        raise CheckpointError(f"no checkpoint in {root} (no checkpoints/ directory)")
    module = spec.module_cls(config=config)
    optimizer = optax.adam(lr)
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
        raise CheckpointError(f"every checkpoint in {ckpt_dir} is corrupt or truncated")
    return restored[0], restored[1]
