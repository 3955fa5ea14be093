"""The one place option checks live: config fields that carry their checks, and the checks.

A config dataclass declares each field with :func:`option` (help text for its CLI flag, and
``choices`` / ``low`` / ``high`` for its check); :func:`check_fields` checks every field from
its annotation and that metadata. Model configs and :class:`aezoo.train.TrainConfig` both
use it, so a float is always finite and in range, an int always an int, a name always one
of its choices, with the same one-line :class:`ConfigError` wording everywhere.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import pathlib
import re
import tempfile
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

from aezoo.errors import ConfigError


def option(default: Any, help: str, **metadata: Any) -> Any:
    """A config field with the help text the CLI shows for its flag.

    Metadata read by :func:`check_fields`: ``choices`` (accepted names), ``low`` / ``high``
    (inclusive bounds of a number), ``open`` (``"low"``, ``"high"`` or ``"both"``: those
    bounds exclusive), ``empty=True`` (a tuple of ints that may be empty: ``--flag none``).
    Others: ``cli=False`` (no flag), ``sweep=True`` (vmappable),
    ``resumable=True`` (may change when a run is resumed), ``flag`` (the flag's name).
    """
    if isinstance(default, list | dict | set):
        raise TypeError("config defaults must be immutable (use a tuple)")
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


INT32_MAX = 2**31 - 1  # the largest count, step or seed the device programs hold
NAME_MAX = 255  # bytes in one file name (Linux, macOS and Windows file systems alike)


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int >= 1, else a one-line :class:`ConfigError`."""
    return int_in(name, value, 1)


def int_in(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]`` (a bound of None is open-ended)."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    ok = ok and (low is None or value >= low) and (high is None or value <= high)
    if not ok:
        raise ConfigError(f"{name} must be {_int_range(low, high)}; got {value!r}")
    return int(value)


def finite(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    open: str = "",
) -> float:
    """``value`` as a finite float within the bounds (``open``: which bounds are exclusive)."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    ok = number and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if open in ("low", "both") else value >= low
    if ok and high is not None:
        ok = value < high if open in ("high", "both") else value <= high
    if not ok:
        raise ConfigError(
            f"{name} must be a finite number{_float_range(low, high, open)}; got {value!r}"
        )
    return float(value)


def one_of(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices``, else ``unknown NAME 'x'; expected one of ...``."""
    if value not in choices:
        raise ConfigError(
            f"unknown {name} {value!r}; expected one of {', '.join(map(str, choices))}"
        )
    return value


def positive_ints(name: str, value: Any, *, empty: bool = False) -> tuple[int, ...]:
    """A tuple of positive ints (layer widths), non-empty unless ``empty``."""
    if not isinstance(value, tuple | list) or not (value or empty):
        what = "a list" if empty else "a non-empty list"
        raise ConfigError(f"{name} must be {what} of positive integers; got {value!r}")
    return tuple(positive_int(f"{name} entries", v) for v in value)


def check_fields(config: Any, *, as_flags: bool = False) -> None:
    """Check every field of the dataclass ``config`` from its annotation and metadata
    (``as_flags``: errors name the field's flag, ``--nll-samples``)."""
    hints = type_hints(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        hint, optional = _unwrap_optional(hints[f.name])
        if value is None and optional:
            continue
        check_value(flag_of(f) if as_flags else f.name, value, hint, f.metadata)


def flag_of(f: dataclasses.Field) -> str:
    """The command-line flag of a config field: ``--field-name`` (or its ``flag``)."""
    return "--" + f.metadata.get("flag", f.name.replace("_", "-"))


@dataclasses.dataclass(frozen=True)
class Options:
    """The typed options of a plug-in (an evaluator, a sampler, a task): a frozen dataclass
    of :func:`option` fields, checked when made; the CLI generates its flags from them and
    errors name the flags."""

    def __post_init__(self) -> None:
        check_fields(self, as_flags=True)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every field's default, by name."""
        return {f.name: f.default for f in dataclasses.fields(cls)}

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def check_value(name: str, value: Any, hint: Any, meta: typing.Mapping[str, Any]) -> None:
    """The check of one field's value (see :func:`check_fields`)."""
    if "choices" in meta:
        one_of(meta.get("what", name), value, meta["choices"])
    elif hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false; got {value!r}")
    elif hint is int:
        int_in(name, value, meta.get("low"), meta.get("high"))
        if "high" not in meta and value > INT32_MAX:  # counts and steps are int32 on device
            raise ConfigError(f"{name} must be at most {INT32_MAX} (an int32); got {value}")
    elif hint is float:
        finite(name, value, meta.get("low"), meta.get("high"), open=meta.get("open", ""))
    elif typing.get_origin(hint) is tuple:
        positive_ints(name, value, empty=meta.get("empty", False))
    elif hint is str and not isinstance(value, str):
        raise ConfigError(f"{name} must be a string; got {value!r}")


@functools.cache
def type_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``; anything else -> ``(hint, False)``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(args) < len(typing.get_args(hint)):
            return args[0], True
    return hint, False


def _int_range(low: int | None, high: int | None) -> str:
    if low == 1 and high is None:
        return "a positive integer"
    if high is None:
        return "an integer" + (f" >= {low}" if low is not None else "")
    return f"an integer in [{low}, {high}]" if low is not None else f"an integer <= {high}"


def _float_range(low: float | None, high: float | None, open: str) -> str:
    lo_open, hi_open = open in ("low", "both"), open in ("high", "both")
    if low is not None and high is not None:
        return f" in {'(' if lo_open else '['}{low:g}, {high:g}{')' if hi_open else ']'}"
    if low is not None:
        return f" {'>' if lo_open else '>='} {low:g}"
    if high is not None:
        return f" {'<' if hi_open else '<='} {high:g}"
    return ""


__all__ = [
    "Options",
    "check_fields",
    "flag_of",
    "check_value",
    "finite",
    "int_in",
    "one_of",
    "option",
    "positive_int",
    "positive_ints",
]


def writable_dir(path: str | os.PathLike, what: str) -> pathlib.Path:
    """``path`` as a directory this process can create or write, else a one-line
    :class:`ConfigError`. Checked by creating (and at once deleting) a temporary file in
    the directory or its nearest existing parent, so permissions, read-only filesystems
    and files in the way are all caught; nothing is left behind."""
    if not str(path).strip():
        raise ConfigError(f"{what} is empty; give a directory")
    p = pathlib.Path(path)
    for part in p.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise ConfigError(
                f"cannot write to {what} {str(p)[:60]}...: file name too long "
                f"({len(os.fsencode(part))} bytes in one name; the limit is {NAME_MAX})"
            )
    probe = p
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"cannot write to {what} {p}: {probe} is a file, not a directory")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as e:
        raise ConfigError(f"cannot write to {what} {p}: {e.strerror or e}") from None
    return p


def writable_file(path: str | os.PathLike, what: str) -> pathlib.Path:
    """``path`` as a file this process can write (its directory must exist), else a
    one-line :class:`ConfigError`."""
    p = pathlib.Path(path)
    if not str(path).strip() or p.is_dir():
        raise ConfigError(f"{what} {str(path)!r} is not a file path")
    if not p.parent.is_dir():
        raise ConfigError(f"cannot write {what} {p}: directory {p.parent} does not exist")
    writable_dir(p.parent, what)
    if p.exists() and not os.access(p, os.W_OK):
        raise ConfigError(f"cannot write {what} {p}: permission denied")
    return p


def output_file(
    path: str | os.PathLike,
    what: str,
    *,
    overwrite: bool = False,
    datasets: Sequence[str | os.PathLike] = (),
    owned: Callable[[pathlib.Path], bool] | None = None,
) -> pathlib.Path:
    """``path`` as a new output file, else a one-line :class:`ConfigError`: never inside a
    run folder (its config, params and checkpoints are not outputs), never inside or onto a
    dataset in ``datasets``, never over an existing file unless ``overwrite`` (or ``owned``
    says the file is one this command wrote before), never through a symbolic link. Every
    command that writes a file a user names goes through here."""
    if pathlib.Path(path).is_symlink():
        raise ConfigError(
            f"{what} {path} is a symbolic link; aezoo never writes through one: name the "
            "file itself"
        )
    p = writable_file(path, what)
    target = p.resolve()
    for source in datasets:
        root = pathlib.Path(source).expanduser().resolve()
        if target == root or root in target.parents:
            raise ConfigError(f"{what} {p} is inside the dataset {root}; write outside the data")
    run = enclosing_run(target)
    if run is not None:
        raise ConfigError(
            f"{what} {p} is inside the run folder {run}; write outside it (a run's files "
            "are only written by the command that owns them)"
        )
    if p.exists() and not overwrite and not (owned is not None and owned(p)):
        raise ConfigError(f"{what} {p} exists; pass --overwrite to replace it")
    return p


def output_dir(
    path: str | os.PathLike,
    what: str,
    *,
    datasets: Sequence[str | os.PathLike] = (),
    runs: bool = True,
) -> pathlib.Path:
    """``path`` as a folder for a command's outputs, else a one-line :class:`ConfigError`:
    never inside a dataset in ``datasets`` (the next read would take the outputs for data),
    and (``runs``) never inside a run folder."""
    p = writable_dir(path, what)
    target = p.resolve()
    for source in datasets:
        root = pathlib.Path(source).expanduser().resolve()
        if target == root or root in target.parents:
            raise ConfigError(
                f"{what} {p} is inside the dataset {root}; its outputs would be read as data"
            )
    run = enclosing_run(target / "output")
    if runs and run is not None:
        raise ConfigError(f"{what} {p} is inside the run folder {run}; write outside it")
    return p


def enclosing_run(path: pathlib.Path) -> pathlib.Path | None:
    """The aezoo run folder (``config.json`` beside ``checkpoints/``, ``params.msgpack`` or
    ``metrics.jsonl``) that holds ``path``, if any."""
    for folder in pathlib.Path(path).parents:
        if (folder / "config.json").is_file() and any(
            (folder / name).exists() for name in ("checkpoints", "params.msgpack", "metrics.jsonl")
        ):
            return folder
    return None


_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def byte_size(name: str, text: str | int | None) -> int | None:
    """``"512M"``, ``"1.5G"``, ``"4096"`` (bytes; K/M/G/T are powers of 1024) as an int >= 1;
    ``None`` stays ``None``; anything else a one-line :class:`ConfigError`."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)i?B?\s*", str(text), flags=re.I)
    value = float(m.group(1)) * _UNITS[m.group(2).upper()] if m else 0.0
    if not m or not math.isfinite(value) or value < 1:
        raise ConfigError(f"{name} must be a size like 512M, 1.5G or 4096 (bytes); got {text!r}")
    return int(value)
