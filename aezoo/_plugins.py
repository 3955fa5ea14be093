"""Plug-ins: code outside aezoo that registers models, evaluators, samplers, tasks, recipes or
datasets, found the way pytest and MkDocs find theirs.

Three ways in, all loaded before any registry is first read:

- an installed package's entry point in the ``aezoo.plugins`` group (``pyproject.toml``:
  ``[project.entry-points."aezoo.plugins"] mine = "mypkg.aezoo_models"``): the module is
  imported (a callable entry point is called);
- ``$AEZOO_PLUGINS``: module paths (``mypkg.models``) or ``.py`` files, separated by ``,``;
- ``aezoo --plugin MODULE_OR_FILE COMMAND ...`` (repeatable), which also puts the plug-in in
  ``$AEZOO_PLUGINS`` so that the commands a recipe starts see it too.

A plug-in registers at import time (``aezoo.models.MODELS.register(SPEC)``, ...). A run
trained with a plug-in model records the plug-in in ``config.json``; opened without it, the
run says in one line which plug-in to load. Nothing named in a run's files is ever imported.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import pathlib
import sys
import threading

from aezoo.errors import ConfigError

GROUP = "aezoo.plugins"
ENV = "AEZOO_PLUGINS"

_LOCK = threading.RLock()
_loaded: dict[str, str] = {}  # module name -> the plug-in as it was given
_started = False


def load() -> None:
    """Import every plug-in (entry points, then ``$AEZOO_PLUGINS``) once per process."""
    global _started
    with _LOCK:
        if _started:
            return
        _started = True
        for entry in importlib.metadata.entry_points(group=GROUP):
            _load_entry_point(entry)
        for given in entries(os.environ.get(ENV, "")):
            _import(given)


def add(given: str) -> None:
    """Load the plug-in ``given`` (a module path or a ``.py`` file) now and record it in
    ``$AEZOO_PLUGINS`` for the processes this one starts."""
    load()
    _import(given)
    known = entries(os.environ.get(ENV, ""))
    if given.endswith(".py"):  # the processes it starts may run elsewhere
        given = str(pathlib.Path(given).expanduser().resolve())
    if given not in known:
        os.environ[ENV] = ",".join([*known, given])


def entries(text: str) -> list[str]:
    """The plug-ins a ``$AEZOO_PLUGINS`` value names."""
    return [part.strip() for part in text.split(",") if part.strip()]


def origin(value: object) -> str | None:
    """The plug-in that defined ``value`` (as it was given: a module path or a file), or
    None for aezoo's own values."""
    module = getattr(value, "__module__", None) or ""
    if module == "aezoo" or module.startswith("aezoo."):
        return None
    if module == "__main__":  # defined in a script: the script is the plug-in
        return getattr(sys.modules.get("__main__"), "__file__", None)
    with _LOCK:
        return _loaded.get(module, module or None)


def missing(kind: str, name: str, plugin: str | None) -> str:
    """The one line for a run whose ``kind`` ``name`` came from a plug-in not loaded now."""
    if plugin is None:
        return f"unknown {kind} {name!r}"
    return (
        f"the run's {kind} {name!r} comes from plug-in {plugin!r}, which is not loaded: "
        f"pass --plugin {plugin} (or set {ENV}, or install the package that provides it)"
    )


def _load_entry_point(entry: importlib.metadata.EntryPoint) -> None:
    try:
        value = entry.load()
        if callable(value):
            value()
    except ConfigError:
        raise
    except Exception as e:  # a plug-in's own failure: one line naming it
        raise ConfigError(
            f"plug-in {entry.name!r} ({entry.value}, entry point group {GROUP}) failed to "
            f"load: {type(e).__name__}: {e}"
        ) from None
    with _LOCK:
        _loaded.setdefault(entry.value.split(":")[0], entry.value)


def _import(given: str) -> None:
    with _LOCK:
        if given in _loaded.values():
            return
    path = pathlib.Path(given).expanduser()
    is_file = given.endswith(".py") or os.sep in given
    try:
        module = _import_file(path) if is_file else importlib.import_module(given)
    except ConfigError:
        raise
    except ModuleNotFoundError as e:
        itself = e.name is not None and (given == e.name or given.startswith(f"{e.name}."))
        if is_file or not itself:  # the plug-in imports something that is not installed
            raise ConfigError(f"plug-in {given!r} failed to load: {e}") from None
        raise ConfigError(
            f"plug-in {given!r} is not an importable module (a file: give its path ending in .py)"
        ) from None
    except Exception as e:  # a plug-in's own failure: one line naming it
        raise ConfigError(f"plug-in {given!r} failed to load: {type(e).__name__}: {e}") from None
    with _LOCK:
        _loaded[module.__name__] = given


def _import_file(path: pathlib.Path):
    """A plug-in file imported as the module its name says (``laplace_vae.py`` ->
    ``laplace_vae``), so that ``import laplace_vae`` later finds the same module."""
    if path.suffix != ".py" or not path.is_file():
        raise ConfigError(f"plug-in file {str(path)!r} is not a readable .py file")
    name, where = path.stem, str(path.resolve())
    existing = sys.modules.get(name)
    if existing is not None:
        if getattr(existing, "__file__", None) == where:
            return existing
        raise ConfigError(
            f"plug-in file {str(path)!r}: a module named {name!r} is imported already "
            f"(from {getattr(existing, '__file__', None) or 'elsewhere'}); rename the file"
        )
    spec = importlib.util.spec_from_file_location(name, where)
    if spec is None or spec.loader is None:
        raise ConfigError(f"plug-in file {str(path)!r} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


__all__ = ["ENV", "GROUP", "add", "entries", "load", "missing", "origin"]
