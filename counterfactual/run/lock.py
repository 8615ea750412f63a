"""One writer per run directory: an exclusive `fcntl.flock` on RUN_DIR/.lock for a run's life.

The writer holds the lock from before it reads the manifest until it returns (or dies: the
kernel drops a dead process's lock, so a killed run never leaves a stale lock). The lock file
holds the writer's pid, host, start time and command, so a second writer is refused with one
message naming the holder. The file itself is never deleted (deleting a lock file others have
open would let two writers in). Readers (`report`) call `writer_of(root)` to learn whether a
writer is running, without taking the lock.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from counterfactual.errors import UserError

LOCK_NAME = ".lock"
_HOLDER_WAIT_S = 2.0  # how long a refused writer waits for the holder to write its details


class RunLockedError(UserError):
    """Another process is writing this run directory."""


def describe_holder(holder: dict[str, Any] | None) -> str:
    """ "pid 123 on host h since 2026-12-01 08:00:00 UTC (counterfactual sweep ...)" """
    if not holder:
        return "another process (its details are not readable)"
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(holder.get("started", 0))))
    command = f" ({holder['command']})" if holder.get("command") else ""
    return f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')} since {when}{command}"


def _read_holder(fd: int) -> dict[str, Any] | None:
    try:
        data = os.pread(fd, 65536, 0)
        holder = json.loads(data.decode("utf-8")) if data.strip() else None
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


class RunLock:
    """The exclusive writer lock of one run directory (a context manager)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.path = self.root / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> RunLock:
        """Take the lock, or raise RunLockedError naming the holder (without waiting for the
        holder to finish; only up to `_HOLDER_WAIT_S` for a new holder to write its details)."""
        if self._fd is not None:
            return self
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + _HOLDER_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
            # a writer that has not written its details yet, or a reader's instant probe
            holder = _read_holder(fd)
            if holder is not None or time.monotonic() > deadline:
                os.close(fd)
                raise RunLockedError(
                    f"{self.root} is being written by {describe_holder(holder)}; wait for it to "
                    "finish, or choose another --out"
                )
            time.sleep(0.02)
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.time(),
            "command": " ".join(
                os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv)
            )[:500],
        }
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(holder) + "\n").encode("utf-8"), 0)
        except OSError:  # a full disk: the lock holds, its details are missing
            pass
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # no holder any more (the file stays)
        except OSError:
            pass
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def writer_of(root: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The holder details when a writer holds `root`'s lock (an empty dict when it has not
    written them yet), else None. Takes no lock a writer would notice beyond an instant."""
    path = Path(root) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            return _read_holder(fd) or {}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


__all__ = ["LOCK_NAME", "RunLock", "RunLockedError", "describe_holder", "writer_of"]
