"""Where the reference fixtures live: `tests/data/<name>/`, vendored with the tests so that a
plain clone runs the suite (each holds a README with its provenance). A missing fixture fails
the test that needs it, loudly: a reference check that silently skips proves nothing."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def fixture_dir(name: str) -> Path:
    """The directory of fixture `name`; AssertionError naming the place searched if absent."""
    path = DATA / name
    if not path.is_dir():
        raise AssertionError(f"fixture {name!r} not found at {path}")
    return path
