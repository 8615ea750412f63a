"""Fixtures shared by several test modules.

Test stand-ins enter the real registries only through fixtures (`helpers.registries`), which
remove them again afterwards; no test module registers anything at import time.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny networks: one thread is as fast, and does not spin against other CPU users."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def sweep_fakes() -> Iterator[ModuleType]:
    """`helpers.sweep_fakes` registered ("fake-gen", "fake-a", "fake-b", "fake_latent",
    "fakeblur", scorers "bright"/"red") for one module; the registries restored after it."""
    from helpers import sweep_fakes as fakes
    from helpers.registries import registered

    with registered(fakes.register):
        yield fakes
