"""A run's record: what ``config.json`` and every checkpoint's metadata say about it, and
the one check of whether a run may resume another (:func:`differences`). Reading and
comparing only; the files are written by :mod:`aezoo.train.workdir`."""

from __future__ import annotations

import dataclasses
import json
import pathlib
from collections.abc import Mapping
from typing import Any

import jax

from aezoo.errors import CheckpointError, ConfigError
from aezoo.models import BaseConfig, ModelSpec, get_spec
from aezoo.train.config import TrainConfig


def run_record(
    spec: ModelSpec, config: BaseConfig, train: TrainConfig, **extra: Any
) -> dict[str, Any]:
    """The JSON description of a run (``config.json`` and checkpoint metadata)."""
    record = {"model": spec.name, "model_config": config.to_dict(), "train": train.to_record()}
    return json.loads(json.dumps({**record, **extra}))


def config_record(run: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """What ``config.json`` holds: the run record plus versions and the device."""
    return {
        **run,
        "versions": {"jax": jax.__version__, "aezoo": _version()},
        "device": jax.devices()[0].device_kind,
        **extra,
    }


def differences(saved: Mapping[str, Any], run: Mapping[str, Any]) -> list[str]:
    """What keeps ``run`` from resuming ``saved``: model, set of members, model settings and
    the training settings that may not change (``TrainConfig.diff``)."""
    diffs = []
    if saved.get("model") != run["model"]:
        diffs.append(f"model {saved.get('model')!r} != {run['model']!r}")
    if saved.get("members") != run.get("members"):
        diffs.append(f"{_describe(saved.get('members'))} != {_describe(run.get('members'))}")
    old, new = saved.get("model_config", {}), run["model_config"]
    resumable = {
        f.name
        for f in dataclasses.fields(get_spec(run["model"]).config_cls)
        if f.metadata.get("resumable")
    }
    for key in sorted(set(old) | set(new) - resumable):
        if old.get(key) != new.get(key):
            diffs.append(f"{key} {old.get(key)!r} != {new.get(key)!r}")
    diffs += TrainConfig.from_record(run["train"]).diff(saved.get("train", {}))
    if bool(saved.get("custom_optimizer")) != bool(run.get("custom_optimizer")):
        diffs.append(f"optimizer {_optimizer(saved)} != {_optimizer(run)}")
    return diffs


def _optimizer(run: Mapping[str, Any]) -> str:
    return "given to fit()" if run.get("custom_optimizer") else "built from the settings"


def _describe(members: Any) -> str:
    if not members:
        return "one model"
    return f"{len(members)} vmapped models ({', '.join(m['name'] for m in members)})"


def saved_run(workdir: pathlib.Path) -> dict[str, Any]:
    """The record of the run in ``workdir`` to resume (one error when there is none)."""
    path = pathlib.Path(workdir) / "config.json"
    if not path.is_file():
        raise CheckpointError(f"nothing to resume: {workdir} holds no run (no config.json)")
    return read_config(path)


def resolve_settings(
    spec: ModelSpec,
    workdir: pathlib.Path,
    given: Mapping[str, Any],
    given_model: Mapping[str, Any],
    *,
    resume: bool,
) -> tuple[TrainConfig, BaseConfig]:
    """The settings of a command-line run: the flags given over the defaults or, to resume,
    over the run saved in ``workdir`` (a flag that contradicts it is then reported by
    :func:`prepare`, with the other differences)."""
    train: dict[str, Any] = dict(given)
    model = dict(given_model)
    if resume:
        saved = saved_run(workdir)
        if saved.get("model") != spec.name:
            raise ConfigError(
                f"{workdir} holds a {saved.get('model')!r} run, not {spec.name!r}; resume it "
                f"with `aezoo train {saved.get('model')} --resume --workdir {workdir}`"
            )
        train = {**TrainConfig.from_record(saved.get("train", {})).to_record(), **given}
        model = {**saved.get("model_config", {}), **given_model}
        model.pop("image_shape", None)
    config = spec.make_config(**model)
    return TrainConfig(**train).resolved(config.likelihood), config


def read_config(path: pathlib.Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"cannot read {path}: {e}") from None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aezoo")
    except PackageNotFoundError:
        return "unknown"


__all__ = [
    "config_record",
    "differences",
    "read_config",
    "resolve_settings",
    "run_record",
    "saved_run",
]
