"""Atomic file writes: a hidden temp file in the target's folder, then ``os.replace``.

A process killed at any moment leaves either the old file or the complete new one, plus at
worst a temp file whose name starts with `TEMP_MARK` (`remove_partials` deletes those).
This is the project's only implementation; every writer of results, caches or exports uses it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

TEMP_MARK = ".partial-"


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temp path next to `path` (same suffix) to write to; moved onto `path` on success,
    removed on failure. For writers that want a file name (ONNX export, np.savez ...)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TEMP_MARK}{uuid.uuid4().hex[:8]}-{path.name}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[IO[Any]], Any],
    mode: str = "wb",
    sync: bool = True,
) -> Path:
    """Call `write(fh)` on a temp file opened with `mode`, fsync it (when `sync`), then move
    it onto `path` atomically. Returns `path`. An OSError without a file name (a full disk
    mid-write) is raised again naming `path`."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            with open(tmp, mode) as fh:
                write(fh)
                fh.flush()
                if sync:
                    os.fsync(fh.fileno())
    except OSError as exc:
        unnamed = exc.filename is None or TEMP_MARK in str(exc.filename)
        if exc.errno is not None and unnamed:  # e.g. a full disk mid-write: name the file
            raise type(exc)(exc.errno, exc.strerror, str(path)) from exc
        raise
    return path


def write_bytes(path: str | os.PathLike[str], data: bytes, sync: bool = True) -> Path:
    return atomic_write(path, lambda fh: fh.write(data), sync=sync)


def write_text(path: str | os.PathLike[str], text: str, sync: bool = True) -> Path:
    return write_bytes(path, text.encode("utf-8"), sync=sync)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def write_json(path: str | os.PathLike[str], obj: Any, sync: bool = True) -> Path:
    """Indented JSON (numpy scalars and arrays as numbers/lists, anything else as str)."""
    text = json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n"
    return write_text(path, text, sync=sync)


def read_json(path: str | os.PathLike[str]) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def save_npy(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    return atomic_write(
        path, lambda fh: np.save(fh, np.ascontiguousarray(array), allow_pickle=False)
    )


def remove_partials(root: str | os.PathLike[str]) -> int:
    """Delete the temp files killed writers left under `root`; returns how many."""
    removed = 0
    for path in Path(root).rglob(f"{TEMP_MARK}*"):
        if path.is_file():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


__all__ = [
    "TEMP_MARK",
    "atomic_path",
    "atomic_write",
    "read_json",
    "remove_partials",
    "save_npy",
    "write_bytes",
    "write_json",
    "write_text",
]
