"""A run's record as training writes and compares it: the record of a run about to be
trained (:func:`run_record`), what ``config.json`` adds (:func:`config_record`), and the one
check of whether a run may resume another (:func:`differences`). The record itself, and its
reading, is :class:`aezoo.rundir.RunRecord`; the files are written by
:mod:`aezoo.train.workdir`."""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

import jax

from aezoo.errors import CheckpointError, ConfigError
from aezoo.models import BaseConfig, ModelSpec
from aezoo.rundir.record import MemberRecord, RunRecord
from aezoo.train.config import TrainConfig


def run_record(
    spec: ModelSpec,
    config: BaseConfig,
    train: TrainConfig,
    *,
    members: Sequence[MemberRecord] = (),
    custom_optimizer: bool = False,
) -> RunRecord:
    """The record of a run (``config.json`` and checkpoint metadata)."""
    return RunRecord.new(
        spec,
        config.to_dict(),
        train.to_record(),
        members=tuple(members),
        custom_optimizer=custom_optimizer,
    )


def config_record(run: RunRecord, **extra: Any) -> RunRecord:
    """What ``config.json`` holds: the run record plus versions and the device."""
    return run.with_fields(
        versions={"jax": jax.__version__, "aezoo": _version()},
        device=jax.devices()[0].device_kind,
        **extra,
    )


def differences(saved: RunRecord, run: RunRecord) -> list[str]:
    """What keeps ``run`` from resuming ``saved``: model, set of members, model settings and
    the training settings that may not change (``TrainConfig.diff``)."""
    diffs = []
    if saved.model != run.model:
        diffs.append(f"model {saved.model!r} != {run.model!r}")
    if saved.members != run.members:
        diffs.append(f"{_describe(saved.members)} != {_describe(run.members)}")
    old, new = saved.model_config, run.model_config
    resumable = {
        f.name for f in dataclasses.fields(run.spec().config_cls) if f.metadata.get("resumable")
    }
    for key in sorted(set(old) | set(new) - resumable):
        if old.get(key) != new.get(key):
            diffs.append(f"{key} {old.get(key)!r} != {new.get(key)!r}")
    diffs += TrainConfig.from_record(run.train).diff(saved.train)
    if saved.custom_optimizer != run.custom_optimizer:
        diffs.append(f"optimizer {_optimizer(saved)} != {_optimizer(run)}")
    return diffs


def _optimizer(run: RunRecord) -> str:
    return "given to fit()" if run.custom_optimizer else "built from the settings"


def _describe(members: Sequence[MemberRecord]) -> str:
    if not members:
        return "one model"
    return f"{len(members)} vmapped models ({', '.join(m.name for m in members)})"


def saved_run(workdir: pathlib.Path) -> RunRecord:
    """The record of the run in ``workdir`` to resume (one error when there is none)."""
    path = pathlib.Path(workdir) / "config.json"
    if not path.is_file():
        raise CheckpointError(f"nothing to resume: {workdir} holds no run (no config.json)")
    return RunRecord.read(path)


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
        if saved.model != spec.name:
            raise ConfigError(
                f"{workdir} holds a {saved.model!r} run, not {spec.name!r}; resume it "
                f"with `aezoo train {saved.model} --resume --workdir {workdir}`"
            )
        train = {**TrainConfig.from_record(saved.train).to_record(), **given}
        model = {**saved.model_config, **given_model}
        model.pop("image_shape", None)
    config = spec.make_config(**model)
    return TrainConfig(**train).resolved(config.likelihood), config


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aezoo")
    except PackageNotFoundError:
        return "unknown"


__all__ = ["config_record", "differences", "resolve_settings", "run_record", "saved_run"]
