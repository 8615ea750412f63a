"""Content hashing: canonical JSON and sha256 of objects and files (the one implementation).

`canonical_json` is deterministic (sorted keys, compact separators, ASCII) and strict: NaN and
objects JSON cannot represent faithfully are refused rather than silently stringified, so two
different inputs never share a key by accident.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

_HASH_CACHE: dict[tuple[str, int, int], str] = {}
_CHUNK = 1 << 20


def _jsonable(obj: Any) -> Any:
    import numpy as np  # numpy scalars/arrays appear in descriptions

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (Path, os.PathLike)):
        return os.fspath(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, bytes):
        return obj.hex()
    raise TypeError(f"cannot use a {type(obj).__name__} in a content hash (cache key): {obj!r}")


def canonical_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, compact separators, ASCII, no NaN/inf."""
    return json.dumps(
        obj,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
        default=_jsonable,
    )


def content_hash(obj: Any) -> str:
    """sha256 hex of `canonical_json(obj)`."""
    return hashlib.sha256(canonical_json(obj).encode("ascii")).hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, cached by (resolved path, mtime, size)."""
    resolved = Path(path).resolve()
    st = resolved.stat()
    key = (str(resolved), st.st_mtime_ns, st.st_size)
    digest = _HASH_CACHE.get(key)
    if digest is None:
        h = hashlib.sha256()
        with open(resolved, "rb") as f:
            for block in iter(lambda: f.read(_CHUNK), b""):
                h.update(block)
        digest = _HASH_CACHE[key] = h.hexdigest()
    return digest


__all__ = ["canonical_json", "content_hash", "sha256_bytes", "sha256_file"]
