"""Fixtures shared by several test modules."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny networks: one thread is as fast, and does not spin against other CPU users."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def dcgan_faces(seeds: Iterable[int]) -> torch.Tensor:
    """Real faces from the embedded DCGAN; skips (with the reason) if it cannot be loaded."""
    try:
        from generators import load_generator

        gen = load_generator("dcgan-digiface")
    except (ImportError, FileNotFoundError) as exc:
        pytest.skip(f"DCGAN generator unavailable ({exc})")
    return gen.images_for_seeds(list(seeds))
