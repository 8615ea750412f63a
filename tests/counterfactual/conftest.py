"""Fixtures of the rank stand-ins (`helpers.rank_sets`), shared by the rank and maps tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import rank_sets


@pytest.fixture(scope="module")
def toy_rank_spaces() -> Iterator[None]:
    """The "toy-red" and "toy-blue" feature spaces registered for one module."""
    from helpers.registries import registered

    with registered(rank_sets.register):
        yield


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The toy reference and generator folders (known FD order per space)."""
    return rank_sets.make_folders(tmp_path_factory.mktemp("rank_sets"))


@pytest.fixture(scope="module")
def rank_run(toy_rank_spaces: None, folders: dict[str, Path], tmp_path_factory) -> Path:
    """A finished `rank` run of the toy folders in the toy spaces."""
    from counterfactual.cli import main

    root = tmp_path_factory.mktemp("rank_run")
    cfg = root / "rank.toml"
    cfg.write_text(rank_sets.config_text(folders))
    out = root / "run"
    assert main(["rank", str(cfg), "--out", str(out), "--no-progress"]) == 0
    return out
