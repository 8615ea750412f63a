"""Where the shared reference fixtures live: `../shared/fixtures` beside the checkout (CI and
development), else $COUNTERFACTUAL_SHARED/fixtures. A missing fixture fails the test that needs
it, loudly: a reference check that silently skips proves nothing."""
from __future__ import annotations

import os
from pathlib import Path

_CANDIDATES = [Path(__file__).resolve().parents[2] / "shared"]
if os.environ.get("COUNTERFACTUAL_SHARED"):
    _CANDIDATES.insert(0, Path(os.environ["COUNTERFACTUAL_SHARED"]))


def fixture_dir(name: str) -> Path:
    """The directory of fixture `name`; AssertionError naming the places searched if absent."""
    for root in _CANDIDATES:
        path = root / "fixtures" / name
        if path.is_dir():
            return path
    raise AssertionError(f"fixture {name!r} not found under: "
                         + ", ".join(str(r / 'fixtures') for r in _CANDIDATES)
                         + " (set COUNTERFACTUAL_SHARED to the shared/ directory)")
