"""Real faces for tests that need them."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
import torch


def dcgan_faces(seeds: Iterable[int]) -> torch.Tensor:
    """Real faces from the embedded DCGAN; skips (with the reason) if it cannot be loaded."""
    try:
        from generators import load_generator

        gen = load_generator("dcgan-digiface")
    except (ImportError, FileNotFoundError) as exc:
        pytest.skip(f"DCGAN generator unavailable ({exc})")
    return gen.images_for_seeds(list(seeds))
