"""Writing files safely (ground floor): every write goes to a temporary file beside its
target and is renamed over it, so a crash never leaves a torn file and a symbolic link at
the target is replaced, never written through (a run folder from someone else cannot turn a
figure into an overwrite of ``~/.bashrc``)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import pathlib
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any


def atomic_write(path: str | os.PathLike, text: str | bytes) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, with the mode a
    plain ``open`` would give (0666 less the umask: readable by others on a shared disk)."""
    mode = "wb" if isinstance(text, bytes) else "w"
    with replacing(path, mode) as f:
        f.write(text)


def atomic_save(path: str | os.PathLike, save: Callable[[IO], None]) -> None:
    """``save(file)`` into a temporary binary file, then renamed over ``path``."""
    with replacing(path, "wb") as f:
        save(f)


@contextlib.contextmanager
def replacing(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """A temporary file beside ``path``, renamed over it when the block ends without an
    error (removed when it raises)."""
    path = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def strict_json(value: Any, **kwargs: Any) -> str:
    """``value`` as strict JSON (RFC 8259 has no NaN or Infinity): a non-finite float
    becomes null, and a dict holding such values directly names their keys in
    ``"nonfinite"`` (so a reader can tell "not measured" from "NaN")."""
    return json.dumps(_finite(value), allow_nan=False, **kwargs)


# The files aezoo's evaluators, samplers and plug-ins wrote into a run folder, one name per
# entry: what they declare when they write (Run.write), and what --overwrite removes.
OUTPUTS_FILE = ".aezoo-outputs"


def record_output(folder: str | os.PathLike, name: str) -> None:
    """Add ``name`` (a file or folder directly in ``folder``) to the folder's outputs."""
    path = pathlib.Path(folder) / OUTPUTS_FILE
    names = recorded_outputs(folder)
    if name not in names:
        atomic_write(path, json.dumps([*names, name], indent=1) + "\n")


def recorded_outputs(folder: str | os.PathLike) -> list[str]:
    """The outputs recorded in ``folder``: plain names only (a damaged or edited list, or a
    name that leaves the folder, is ignored: nothing outside it is ever touched)."""
    try:
        names = json.loads((pathlib.Path(folder) / OUTPUTS_FILE).read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(names, list):
        return []
    return [n for n in names if isinstance(n, str) and _plain_name(n)]


def _plain_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        bad = [k for k, v in value.items() if isinstance(v, float) and not math.isfinite(v)]
        out = {k: _finite(v) for k, v in value.items()}
        if bad:
            out["nonfinite"] = sorted({*out.get("nonfinite", []), *map(str, bad)})
        return out
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


__all__ = ["atomic_save", "atomic_write", "replacing", "strict_json"]
