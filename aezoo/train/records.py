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

from aezoo import _plugins, data
from aezoo.errors import CheckpointError, ConfigError
from aezoo.models import MODELS, BaseConfig, ModelSpec, get_spec
from aezoo.train.config import TrainConfig


def run_record(
    spec: ModelSpec, config: BaseConfig, train: TrainConfig, **extra: Any
) -> dict[str, Any]:
    """The JSON description of a run (``config.json`` and checkpoint metadata)."""
    record = {"model": spec.name, "model_config": config.to_dict(), "train": train.to_record()}
    plugins = plugins_of(spec, train.dataset)
    if plugins:
        record["plugins"] = plugins
    return json.loads(json.dumps({**record, **extra}))


def plugins_of(spec: ModelSpec, dataset: str) -> dict[str, str]:
    """The plug-ins a run needs (its model's, its dataset's), as they were given."""
    found = {"model": _plugins.origin(spec.module_cls)}
    dataset_spec = data.spec_of(dataset)
    if dataset_spec is not None:
        found["dataset"] = _plugins.origin(dataset_spec.loader)
    return {k: v for k, v in found.items() if v is not None}


def model_of(run: Mapping[str, Any]) -> ModelSpec:
    """The model of a run record; a plug-in model or dataset that is not loaded now is one
    line naming the plug-in (nothing named in a run's files is imported)."""
    plugins = run.get("plugins") or {}
    for kind, registry, name in (
        ("model", MODELS, run["model"]),
        ("dataset", data.DATASETS, run["train"]["dataset"]),
    ):
        if kind in plugins and name not in registry:
            raise CheckpointError(_plugins.missing(kind, name, plugins[kind]))
    spec = MODELS.get(run["model"], None)
    if spec is None:
        raise CheckpointError(MODELS.unknown(run["model"]))
    return spec


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
    """The run record in ``path`` (a ``config.json``), its structure checked: one line
    naming the field that is wrong (:class:`CheckpointError`), never a traceback, and no
    field that is silently ignored (a fingerprint that is not one would disable the data
    check)."""
    try:
        record = json.loads(pathlib.Path(path).read_bytes().decode("utf-8"))
    except OSError as e:
        raise CheckpointError(f"cannot read {path}: {e.strerror or e}") from None
    except ValueError as e:  # invalid UTF-8 or JSON
        raise CheckpointError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(record, dict):
        raise CheckpointError(f"{path} must hold a JSON object; got {type(record).__name__}")
    problem = _record_problem(record)
    if problem is not None:
        raise CheckpointError(f"{path}: {problem}")
    return record


def dataset_of(workdir: str | pathlib.Path) -> str | None:
    """The dataset the run in ``workdir`` was trained on (None when it has no readable
    record: loading the run reports that in one line)."""
    try:
        return read_config(pathlib.Path(workdir) / "config.json")["train"]["dataset"]
    except CheckpointError:
        return None


def _record_problem(record: dict[str, Any]) -> str | None:
    """What is wrong with a run record's structure, in words (None: nothing)."""
    if not isinstance(record.get("model"), str):
        return "model must be a model name"
    for key in ("model_config", "train"):
        if not isinstance(record.get(key), dict):
            return f"{key} must be an object"
    if not isinstance(record["train"].get("dataset"), str):
        return "train.dataset must be a dataset name"
    plugins = record.get("plugins", {})
    if not isinstance(plugins, dict) or not all(isinstance(v, str) for v in plugins.values()):
        return "plugins must be an object of plug-in names"
    return _members_problem(record.get("members")) or _fingerprint_problem(
        record.get("data_fingerprint")
    )


def _members_problem(members: Any) -> str | None:
    if members is None:
        return None
    if not isinstance(members, list):
        return f"members must be a list of members; got {type(members).__name__}"
    for i, member in enumerate(members):
        if not isinstance(member, dict) or not isinstance(member.get("name"), str):
            return f"members[{i}] has no name"
        if not _safe_name(member["name"]):
            return f"members[{i}].name {member['name']!r} is not a folder name"
    return None


def _safe_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name


_FINGERPRINT = {"rows": int, "shape": list, "dtype": str, "hash": str}


def _fingerprint_problem(fingerprints: Any) -> str | None:
    if fingerprints is None:
        return None
    if not isinstance(fingerprints, dict):
        return f"data_fingerprint must be an object; got {type(fingerprints).__name__}"
    for split, found in fingerprints.items():
        if not isinstance(found, dict):
            return f"data_fingerprint.{split} must be an object"
        for key, kind in _FINGERPRINT.items():
            if not isinstance(found.get(key), kind):
                return f"data_fingerprint.{split} lacks {key} ({kind.__name__})"
    return None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aezoo")
    except PackageNotFoundError:
        return "unknown"


__all__ = [
    "config_record",
    "dataset_of",
    "differences",
    "read_config",
    "resolve_settings",
    "run_record",
    "saved_run",
]
