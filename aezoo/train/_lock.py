"""One command per run folder: an exclusive lock file held while a command writes there.

Two processes in one folder (a live run and a ``--resume`` of it, a job requeued while the
first still runs, a command launched twice) would interleave checkpoints and metric lines.
The lock file, ``RUN/.aezoo.lock``, is created exclusively (``O_CREAT | O_EXCL``) and holds
the holder's pid, host, start time and command; a second process fails with one line naming
the holder. A lock whose holder died on this host (its pid is gone) is taken over, saying so;
one left on another host must be removed by hand (the message says which file).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import pathlib
import socket
import sys
from collections.abc import Iterator
from typing import Any

from aezoo.errors import ConfigError

LOCK_NAME = ".aezoo.lock"


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike, command: str) -> Iterator[pathlib.Path]:
    """Hold ``folder``'s lock for the ``with`` block (the folder is created if needed)."""
    root = pathlib.Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    mine = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": command,
    }
    _acquire(path, mine)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            if _holder(path).get("pid") == mine["pid"]:
                path.unlink()


def command_line() -> str:
    """This process's command, as a lock names its holder."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    return " ".join([name, *sys.argv[1:]])[:300]


def _acquire(path: pathlib.Path, mine: dict[str, Any]) -> None:
    for _ in range(3):  # a stale lock is removed, then taken: at most twice more
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(path)
            if not _stale(holder, mine["host"]):
                raise ConfigError(_busy(path, holder)) from None
            print(
                f"aezoo: taking over the stale lock of {path.parent} (pid {holder.get('pid')} "
                f"on this host, started {holder.get('started')}, is gone)",
                file=sys.stderr,
            )
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(mine, f)
        return
    raise ConfigError(f"cannot take the lock {path}: another process keeps taking it")


def _holder(path: pathlib.Path) -> dict[str, Any]:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # being written, or torn: treated as held
    return found if isinstance(found, dict) else {}


def _stale(holder: dict[str, Any], host: str) -> bool:
    """Whether the holder is a process of this host that no longer runs."""
    pid = holder.get("pid")
    if holder.get("host") != host or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _busy(path: pathlib.Path, holder: dict[str, Any]) -> str:
    if not holder:
        return f"{path.parent} is in use by another aezoo process (lock {path})"
    return (
        f"{path.parent} is in use by `{holder.get('command')}` (pid {holder.get('pid')} on "
        f"{holder.get('host')}, since {holder.get('started')}); wait for it to finish or stop "
        f"it (a lock left by a process that died on another host: remove {path})"
    )


__all__ = ["LOCK_NAME", "command_line", "run_lock"]
