"""Command-line flags generated from config dataclasses: one ``--flag`` per field declared
with :func:`aezoo._validate.option`, typed from its annotation, grouped by its ``group``."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Sequence
from typing import Any

from aezoo._validate import flag_of
from aezoo._validate import type_hints as hints_of

GROUPS = {
    "data": "data",
    None: "training",
    "optimizer": "optimizer (one Optax transformation)",
    "scaling": "scaling (many models, many devices, many hosts)",
    "outputs": "outputs and checkpoints",
}


def parse_int_tuple(text: str) -> tuple[int, ...]:
    """``512,256`` (or ``512 256``) -> ``(512, 256)``; ``none`` -> ``()``."""
    if text.strip().lower() == "none":
        return ()
    try:
        values = tuple(int(v) for v in text.replace(" ", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers like 512,256 (or none); got {text!r}"
        ) from None
    return values


def field_flag(
    parser: argparse._ActionsContainer, f: dataclasses.Field, hint: Any, shown: Any = None
) -> None:
    """Add the flag of one config field (``--field-name``), typed from its annotation
    (``shown``: the default its help names, when it is not the field's own)."""
    meta = f.metadata
    flag = flag_of(f)
    default = meta.get("cli_default", f.default) if shown is None else shown
    if typing.get_origin(hint) in (typing.Union, types.UnionType):  # Optional[X] -> X
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    kwargs: dict[str, Any] = {"dest": f.name, "default": None}
    if meta.get("negate"):  # a flag that turns a default-on setting off (--per-step)
        kwargs.update(action="store_const", const=False)
    elif hint is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    elif typing.get_origin(hint) is tuple:
        kwargs.update(type=parse_int_tuple, metavar="N,N,...")
        default = ",".join(map(str, default)) if isinstance(default, tuple) else default
    elif hint in (int, float, str):
        kwargs.update(type=hint, choices=meta.get("choices"), metavar=meta.get("metavar"))
    else:  # parsed by the config itself (--sweep NAME=V1,V2)
        kwargs["metavar"] = meta.get("metavar")
    shown = "" if meta.get("negate") or default is None else f" (default: {default})"
    parser.add_argument(flag, help=meta.get("help", "") + shown, **kwargs)


def add_config_flags(
    parser: argparse.ArgumentParser, cls: type, title: str = "", only: Sequence[str] = ()
) -> None:
    """One flag per field of the config dataclass ``cls`` (``option(..., cli=False)`` none;
    with ``only``, just those fields)."""
    hints = hints_of(cls)
    groups: dict[Any, argparse._ArgumentGroup] = {}
    for f in dataclasses.fields(cls):
        if f.metadata.get("cli", True) and (not only or f.name in only):
            name = title or GROUPS[f.metadata.get("group")]
            group = groups.setdefault(name, parser.add_argument_group(name))
            field_flag(group, f, hints[f.name])


def given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The fields of ``cls`` given as flags (a flag left out is None)."""
    return {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(cls)
        if getattr(args, f.name, None) is not None
    }


__all__ = ["GROUPS", "add_config_flags", "field_flag", "given", "hints_of", "parse_int_tuple"]
