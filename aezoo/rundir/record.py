"""The run record: what ``config.json`` (and every checkpoint's metadata) says about a run,
as one typed, frozen value. It is the only reader of ``config.json`` and the only builder of
what is written there; everything else asks it by attribute, never by a string key.

The checks of a record read from disk are structural and one line each (a field of the wrong
kind, a member name that is not a folder name, a fingerprint that is not one): a damaged or
hand-edited file is refused, never half-used.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import types
from collections.abc import Mapping
from typing import Any

from aezoo import _plugins, data
from aezoo.errors import CheckpointError
from aezoo.models import MODELS, ModelSpec

# TrainConfig's dataset when fit() is given arrays without a name: nothing can reload them.
ARRAYS = "custom"


@dataclasses.dataclass(frozen=True)
class MemberRecord:
    """One of a vmapped run's models: its index, seed, folder name under ``members/`` and
    swept value (if any)."""

    index: int
    seed: int
    name: str
    sweep_value: float | None = None


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """A run, as recorded.

    Attributes:
      model: the model's registry name.
      model_config: the model config's fields (JSON values).
      train: the training settings (``TrainConfig.to_record()``).
      members: the models of a vmapped run (empty for one model).
      plugins: the plug-ins the run needs, by kind (``{"model": "laplace_vae.py"}``).
      custom_optimizer: the optimizer was given to ``fit`` (not built from the settings).
      data_fingerprint: per split, what the data was (rows, shape, dtype, hash).
      data_changed: per split, how the data changed when the run was resumed anyway.
      raw: the whole record as written (versions, device, a user source's description).
    """

    model: str
    model_config: Mapping[str, Any]
    train: Mapping[str, Any]
    members: tuple[MemberRecord, ...] = ()
    plugins: Mapping[str, str] = dataclasses.field(default_factory=dict)
    custom_optimizer: bool = False
    data_fingerprint: Mapping[str, Any] | None = None
    data_changed: Mapping[str, str] | None = None
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    # --- reading ---------------------------------------------------------------------

    @classmethod
    def read(cls, path: str | pathlib.Path) -> RunRecord:
        """The record in ``path`` (a ``config.json``); one line naming what is wrong."""
        try:
            record = json.loads(pathlib.Path(path).read_bytes().decode("utf-8"))
        except OSError as e:
            raise CheckpointError(f"cannot read {path}: {e.strerror or e}") from None
        except ValueError as e:  # invalid UTF-8 or JSON
            raise CheckpointError(f"{path} is not valid JSON ({e})") from None
        return cls.from_dict(record, where=str(path))

    @classmethod
    def of(cls, workdir: str | pathlib.Path) -> RunRecord:
        """The record of the run in ``workdir`` (one line when it holds none)."""
        path = pathlib.Path(workdir) / "config.json"
        if not path.is_file():
            raise CheckpointError(f"no run in {workdir}: config.json is missing")
        return cls.read(path)

    @classmethod
    def from_dict(cls, record: Any, *, where: str = "the run record") -> RunRecord:
        """A record from its JSON object, its structure checked."""
        if not isinstance(record, dict):
            raise CheckpointError(f"{where} must hold a JSON object; got {type(record).__name__}")
        problem = _record_problem(record)
        if problem is not None:
            raise CheckpointError(f"{where}: {problem}")
        members = tuple(
            MemberRecord(
                int(m.get("index", i)), int(m.get("seed", 0)), m["name"], m.get("sweep_value")
            )
            for i, m in enumerate(record.get("members") or ())
        )
        return cls(
            model=record["model"],
            model_config=types.MappingProxyType(dict(record["model_config"])),
            train=types.MappingProxyType(dict(record["train"])),
            members=members,
            plugins=types.MappingProxyType(dict(record.get("plugins") or {})),
            custom_optimizer=bool(record.get("custom_optimizer")),
            data_fingerprint=record.get("data_fingerprint"),
            data_changed=record.get("data_changed"),
            raw=types.MappingProxyType(json.loads(json.dumps(record))),
        )

    # --- writing ---------------------------------------------------------------------

    @classmethod
    def new(
        cls,
        spec: ModelSpec,
        model_config: Mapping[str, Any],
        train: Mapping[str, Any],
        *,
        members: tuple[MemberRecord, ...] = (),
        custom_optimizer: bool = False,
    ) -> RunRecord:
        """The record of a run about to be trained (what checkpoints carry)."""
        record: dict[str, Any] = {"model": spec.name, "model_config": dict(model_config)}
        record["train"] = dict(train)
        plugins = plugins_of(spec, str(train.get("dataset")))
        if plugins:
            record["plugins"] = plugins
        if members:
            record["members"] = [dataclasses.asdict(m) for m in members]
        if custom_optimizer:
            record["custom_optimizer"] = True
        return cls.from_dict(json.loads(json.dumps(record)))

    def with_fields(self, **fields: Any) -> RunRecord:
        """This record with more top-level fields (``config.json``'s versions, device, data
        description, fingerprints, ...)."""
        return RunRecord.from_dict({**self.to_dict(), **fields})

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, as written."""
        return json.loads(json.dumps(dict(self.raw)))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    # --- what callers ask ------------------------------------------------------------

    @property
    def dataset(self) -> str | None:
        """The dataset to reload the run's data by; None for arrays given to ``fit``."""
        name = self.train["dataset"]
        return None if name == ARRAYS else name

    @property
    def dataset_name(self) -> str:
        """The dataset as recorded (``custom`` for arrays given to ``fit``)."""
        return self.train["dataset"]

    @property
    def binarize(self) -> str:
        return self.train.get("binarize") or "none"

    @property
    def sweep_name(self) -> str | None:
        """The swept field of a sweep (None: no sweep)."""
        sweep = self.train.get("sweep")
        return next(iter(sweep)) if sweep else None

    @property
    def vmapped(self) -> bool:
        return bool(self.members)

    def get(self, key: str, default: Any = None) -> Any:
        """A top-level field of the JSON (for the rare one without an attribute)."""
        return self.raw.get(key, default)

    def spec(self) -> ModelSpec:
        """The run's model; a plug-in model or dataset that is not loaded now is one line
        naming the plug-in (nothing named in a run's files is imported)."""
        for kind, registry, name in (
            ("model", MODELS, self.model),
            ("dataset", data.DATASETS, self.dataset_name),
        ):
            if kind in self.plugins and name not in registry:
                raise CheckpointError(_plugins.missing(kind, name, self.plugins[kind]))
        spec = MODELS.get(self.model, None)
        if spec is None:
            raise CheckpointError(MODELS.unknown(self.model))
        return spec


def plugins_of(spec: ModelSpec, dataset: str) -> dict[str, str]:
    """The plug-ins a run needs (its model's, its dataset's), as they were given."""
    found = {"model": _plugins.origin(spec.module_cls)}
    dataset_spec = data.spec_of(dataset)
    if dataset_spec is not None:
        found["dataset"] = _plugins.origin(dataset_spec.loader)
    return {k: v for k, v in found.items() if v is not None}


def dataset_of(workdir: str | pathlib.Path) -> str | None:
    """The dataset the run in ``workdir`` was trained on (None when it has no readable
    record: loading the run reports that in one line)."""
    try:
        return RunRecord.of(workdir).dataset_name
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
        for key in ("index", "seed"):
            if not isinstance(member.get(key, 0), int):
                return f"members[{i}].{key} must be an integer"
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


__all__ = ["ARRAYS", "MemberRecord", "RunRecord", "dataset_of", "plugins_of"]
