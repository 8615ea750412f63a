"""experiments/compare_runs.py: equal runs pass, a drifted number or format is caught."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd

from counterfactual.run import write_table

_SPEC = importlib.util.spec_from_file_location(
    "compare_runs", Path(__file__).resolve().parents[1] / "experiments" / "compare_runs.py")
compare_runs = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(compare_runs)


def _run(root: Path, fd: float, column: str = "normalised") -> Path:
    frame = pd.DataFrame({"space": ["a", "b"], "fd": [1.0, fd], column: [0.5, float("nan")],
                          "trained": [True, False]})
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
    assert compare_runs.main([str(a), str(_run(tmp_path / "d", 2.0 * (1 + 1e-6))),
                              "--rtol", "1e-5"]) == 0


def test_renamed_column_and_one_drifted_format(tmp_path):
    a = _run(tmp_path / "a", 2.0, column="normalized")
    b = _run(tmp_path / "b", 2.0)
    assert compare_runs.main([str(a), str(b)]) == 1
    assert compare_runs.main([str(a), str(b), "--rename", "normalized=normalised"]) == 0
    csv = b / "tables" / "region.csv"
    csv.write_text(csv.read_text().replace("2.0", "2.5"))          # only the CSV drifted
    assert compare_runs.main([str(a), str(b), "--rename", "normalized=normalised"]) == 1
