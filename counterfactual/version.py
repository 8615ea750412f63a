"""The project's version and, when it runs from a git checkout, the commit.

from counterfactual.version import version_string
version_string()   # "counterfactual-fd 0.1.0 (git 1a2b3c4d5e6f, uncommitted changes)"
"""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "counterfactual-fd"
_SOURCE_ROOT = Path(__file__).resolve().parents[1]


def project_version() -> str:
    """The installed distribution's version ("unknown" when not installed)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def git_commit(root: Path = _SOURCE_ROOT) -> str | None:
    """The checkout's commit (suffix "+dirty" with uncommitted changes to tracked files), or
    None outside a git checkout or without git."""
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def version_string() -> str:
    """ "counterfactual-fd VERSION" plus the commit when in a checkout."""
    commit = git_commit()
    return f"{DISTRIBUTION} {project_version()}" + (f" (git {commit})" if commit else "")
