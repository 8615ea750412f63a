"""`counterfactual.rank_generators`: the library call gives the CLI rank run's tables."""

from __future__ import annotations

import pandas as pd
import pytest

import counterfactual
from counterfactual.errors import UserError
from counterfactual.rank.api import rank_config
from helpers import rank_sets


def _cli_table(run_dir, name):
    return pd.read_parquet(run_dir / "tables" / f"{name}.parquet")


def test_rank_generators_equals_the_cli_run(rank_run, folders, tmp_path):
    gens = {g: f"folder:{folders[g]}" for g in rank_sets.SHIFTS}
    result = counterfactual.rank_generators(
        gens,
        f"folder:{folders['ref']}",
        spaces=["toy-red", {"name": "toy-blue", "allow_untrained": True}],
        n=rank_sets.N_GEN,
        reference_n=rank_sets.N_REF,
        name="toy ranking",
        sample_images=4,
        seed=3,
        metrics={"n_boot": 40, "pr_k": 3, "dc_k": 3, "kid_subsets": 10},
        explained={"enabled": False},
        progress=False,
    )
    assert isinstance(result, counterfactual.Ranking) and result.run_dir is None
    cli = _cli_table(rank_run, "rank_metrics")
    cols = ["generator", "space", "fd", "fd_ci_low", "fd_ci_high"]
    pd.testing.assert_frame_equal(
        result.metrics[cols].reset_index(drop=True), cli[cols].reset_index(drop=True)
    )
    fd = result.rankings.query("space == 'toy-red' and metric == 'fd'")
    order = fd.sort_values("rank")["generator"]
    assert list(order) == ["g0", "g30", "g60", "g90"]  # the construction's order
    assert not result.paired_differences.empty and not result.reference_floor.empty


def test_rank_config_checks_and_keeps_seeds_disjoint():
    cfg = rank_config(["dcgan-digiface"], "dcgan-digiface", n=50)
    assert cfg.reference.seeds.start == 50  # same generator as reference: disjoint seeds
    with pytest.raises(UserError, match="unknown generators: nope"):
        rank_config({"a": "dcgan-digiface"}, "folder:/x", truncation={"nope": 0.5})
