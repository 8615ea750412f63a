"""Where the tests and their reference fixtures live.

Fixtures are `tests/data/<name>/`, vendored with the tests so that a plain clone runs the suite
(each holds a README with its provenance). A missing fixture fails the test that needs it,
loudly: a reference check that silently skips proves nothing.
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
DATA = TESTS / "data"


def fixture_dir(name: str) -> Path:
    """The directory of fixture `name`; AssertionError naming the place searched if absent."""
    path = DATA / name
    if not path.is_dir():
        raise AssertionError(f"fixture {name!r} not found at {path}")
    return path


def subprocess_pythonpath(*extra: str) -> str:
    """A PYTHONPATH for a child interpreter that imports the packages and `helpers`."""
    import os

    parts = [str(ROOT), str(TESTS), *extra, os.environ.get("PYTHONPATH", "")]
    return os.pathsep.join(p for p in parts if p)
