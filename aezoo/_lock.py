"""One command per run folder: an exclusive lock file held while a command writes there.

Two processes in one folder (a live run and a ``--resume`` of it, a job requeued while the
first still runs, a command launched twice) would interleave checkpoints and metric lines.
The lock file, ``RUN/.aezoo.lock``, is created exclusively (``O_CREAT | O_EXCL``) and holds
the holder's pid, host, start time, the process's own start (boot id and start tick, so a
pid reused after a restart is not mistaken for the holder) and command; a second process fails
with one line naming the holder. The file is written whole beside the lock and linked into
place (``os.link`` fails when the lock exists), so a failed write (a full disk) leaves no lock
and a lock is never seen half-written: an empty or unreadable lock file is stale. A lock whose
holder died on this host (its pid is gone, or now names another process) is taken over,
saying so; one left on another host must be removed by hand (the message says which file).
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import json
import os
import pathlib
import socket
import sys
import tempfile
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
        "pid_start": process_start(os.getpid()),
    }
    _acquire(path, mine)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            if (_holder(path) or {}).get("pid") == mine["pid"]:
                path.unlink()


def check_unlocked(folder: str | os.PathLike, *, below: bool = False) -> None:
    """One line naming the holder when a live process holds ``folder``'s lock or (``below``)
    the lock of any folder below it (what must not be removed while it runs)."""
    root = pathlib.Path(folder)
    found = root.rglob(LOCK_NAME) if below else [root / LOCK_NAME]
    for path in found:
        if below and path.parent == root:
            continue  # the caller's own
        holder = _holder(path) if path.is_file() else {"released": True}
        if holder is not None and not _stale(holder, socket.gethostname()):
            raise ConfigError(_busy(path, holder))


def command_line() -> str:
    """This process's command, as a lock names its holder."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    return " ".join([name, *sys.argv[1:]])[:300]


def _acquire(path: pathlib.Path, mine: dict[str, Any]) -> None:
    for _ in range(3):  # a stale lock is removed, then taken: at most twice more
        if _create(path, mine):
            return
        holder = _holder(path)
        if holder is not None and not _stale(holder, mine["host"]):
            raise ConfigError(_busy(path, holder))
        if holder is None or not holder.get("released"):
            print(
                f"aezoo: taking over the stale lock of {path.parent} ({_why_stale(holder)})",
                file=sys.stderr,
            )
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    raise ConfigError(f"cannot take the lock {path}: another process keeps taking it")


def _why_stale(holder: dict[str, Any] | None) -> str:
    if holder is None:
        return "an empty or unreadable lock file"
    return f"pid {holder.get('pid')} on this host, started {holder.get('started')}, is gone"


def _create(path: pathlib.Path, mine: dict[str, Any]) -> bool:
    """Write the lock whole beside ``path``, then link it into place: False when ``path``
    exists; a failed write (disk full, read-only) is one line and leaves nothing."""
    tmp = None
    try:
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=".aezoo-lock-", delete=False
        ) as f:
            tmp = f.name
            f.write(_text(mine))
        _link(tmp, path)
    except FileExistsError:
        return False
    except OSError as e:
        raise ConfigError(f"cannot take the lock {path}: {e.strerror or e}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return True


def _link(tmp: str, path: pathlib.Path) -> None:
    """``os.link``; on a file system without hard links, an exclusive create and a copy of
    the written text (FileExistsError when the lock exists, either way)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EOPNOTSUPP):
            raise
        text = pathlib.Path(tmp).read_bytes()
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        try:
            os.write(fd, text)
        except OSError:
            os.close(fd)
            path.unlink()
            raise
        os.close(fd)


def _text(mine: dict[str, Any]) -> str:
    return json.dumps(mine)


def _holder(path: pathlib.Path) -> dict[str, Any] | None:
    """What the lock says (None: empty or unreadable, which an atomic write never leaves)."""
    try:
        found = json.loads(path.read_text())
    except FileNotFoundError:
        return {"released": True}  # released meanwhile: stale, the next try takes it
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and found else None


def _stale(holder: dict[str, Any], host: str) -> bool:
    """Whether the holder is a process of this host that no longer runs (its pid is gone,
    or belongs to a process that started at another time: a pid reused after a restart)."""
    if holder.get("released"):
        return True
    pid = holder.get("pid")
    if holder.get("host") != host or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        pass
    started = holder.get("pid_start")
    return started is not None and started != process_start(pid)


def process_start(pid: int) -> str | None:
    """The identity of process ``pid``'s start: the boot id and its start tick (Linux's
    /proc), None where the system does not say."""
    try:
        boot = pathlib.Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return f"{boot}:{fields[19]}" if len(fields) > 19 else None


def _busy(path: pathlib.Path, holder: dict[str, Any]) -> str:
    return (
        f"{path.parent} is in use by `{holder.get('command')}` (pid {holder.get('pid')} on "
        f"{holder.get('host')}, since {holder.get('started')}); wait for it to finish or stop "
        f"it (a lock left by a process that died on another host: remove {path})"
    )


__all__ = ["LOCK_NAME", "check_unlocked", "command_line", "process_start", "run_lock"]
