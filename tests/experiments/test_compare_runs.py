"""experiments/compare_runs.py: equal runs pass, a drifted number or format is caught."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

from counterfactual.run import write_table
from helpers.paths import ROOT

_SPEC = importlib.util.spec_from_file_location(
    "compare_runs", ROOT / "experiments" / "compare_runs.py"
)
compare_runs = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(compare_runs)


def _run(root: Path, fd: float, column: str = "normalised") -> Path:
    frame = pd.DataFrame(
        {
            "space": ["a", "b"],
            "fd": [1.0, fd],
            column: [0.5, float("nan")],
            "trained": [True, False],
        }
    )
    write_table(frame, root / "tables" / "region")
    (root / "report_tables").mkdir(parents=True)
    (root / "tables" / "verification.json").write_text(json.dumps({"x": {"shift": fd}}))
    write_table(frame[["space", "fd"]], root / "report_tables" / "fits", formats=("csv",))
    return root


def test_equal_runs_pass_and_drift_is_caught(tmp_path, capsys):
    a = _run(tmp_path / "a", 2.0)
    assert compare_runs.main([str(a), str(_run(tmp_path / "b", 2.0 * (1 + 1e-12)))]) == 0
    assert compare_runs.main([str(a), str(_run(tmp_path / "c", 2.0 * (1 + 1e-6)))]) == 1
    out = capsys.readouterr().out
    assert "tables/region" in out and "report_tables/fits" in out and "MISMATCHES" in out
    assert (
        compare_runs.main([str(a), str(_run(tmp_path / "d", 2.0 * (1 + 1e-6))), "--rtol", "1e-5"])
        == 0
    )


def test_renamed_column_and_one_drifted_format(tmp_path):
    a = _run(tmp_path / "a", 2.0, column="normalized")
    b = _run(tmp_path / "b", 2.0)
    assert compare_runs.main([str(a), str(b)]) == 1
    assert compare_runs.main([str(a), str(b), "--rename", "normalized=normalised"]) == 0
    csv = b / "tables" / "region.csv"
    csv.write_text(csv.read_text().replace("2.0", "2.5"))  # only the CSV drifted
    assert compare_runs.main([str(a), str(b), "--rename", "normalized=normalised"]) == 1


RANK_CONFIG = """
name = "tiny rank"
seeds = {start = 0, count = 12}
spaces = ["fake-a"]
sample_images = 2
[[generators]]
spec = "fake-gen"
id = "a"
[[generators]]
spec = "fake-gen"
id = "b"
[reference]
spec = "fake-gen"
seeds = {start = 1000, count = 12}
[metrics]
n_boot = 5
pr_k = 3
dc_k = 3
kid_subsets = 3
[explained]
enabled = false
"""


@pytest.mark.usefixtures("sweep_fakes")
def test_a_rank_run_with_missing_cells_compares(tmp_path, capsys):
    """Rank tables hold nullable columns (truncation_cutoff is Int64 with <NA>): a run equals
    itself and a copy, and a drifted number or a filled-in NA is caught."""
    import shutil

    from counterfactual.cli import main

    cfg = tmp_path / "rank.toml"
    cfg.write_text(RANK_CONFIG)
    run = tmp_path / "run"
    assert main(["rank", str(cfg), "--out", str(run), "--no-progress"]) == 0
    metrics = pd.read_parquet(run / "tables" / "rank_metrics.parquet")
    assert (
        metrics["truncation_cutoff"].isna().all()
        and str(metrics["truncation_cutoff"].dtype) == "Int64"
    )
    assert compare_runs.main([str(run), str(run)]) == 0
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    assert compare_runs.main([str(run), str(copy)]) == 0
    capsys.readouterr()
    drifted = metrics.copy()
    drifted.loc[0, "truncation_cutoff"] = 4
    drifted.to_parquet(copy / "tables" / "rank_metrics.parquet")
    assert compare_runs.main([str(run), str(copy)]) == 1
    assert "truncation_cutoff: <NA> != 4" in capsys.readouterr().out
    drifted = metrics.copy()
    drifted.loc[1, "fd"] *= 1 + 1e-6
    drifted.to_parquet(copy / "tables" / "rank_metrics.parquet")
    assert compare_runs.main([str(run), str(copy)]) == 1
    assert "row 1 fd:" in capsys.readouterr().out
