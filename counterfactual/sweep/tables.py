"""The sweep's output tables, assembled from the per-task results in RUN_DIR/stats.

    tables/dose_response.{csv,parquet,json}  one row per intervention x space x delta x draw
    tables/dose_summary.{csv,json}           mean / SD / range over draws per delta
    tables/region.{csv,json}                 region distortions normalised by the reference
    tables/verification.json                 per intervention: shifts, identity, flags
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from counterfactual.config import SweepConfig
from counterfactual.sweep.plan import Plan
from counterfactual.sweep.region import REGION_COLUMNS
from counterfactual.sweep.rundir import RunDir, read_json, write_json, write_table

DOSE_COLUMNS = ("intervention", "space", "space_label", "trained", "delta", "draw", "n_pairs",
                "fd", "mean_term", "trace_term", "n_counterfactual_a", "n_counterfactual_b")


def dose_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(DOSE_COLUMNS))
    for col in ("delta", "fd", "mean_term", "trace_term"):
        frame[col] = frame[col].astype(np.float64)
    for col in ("draw", "n_pairs", "n_counterfactual_a", "n_counterfactual_b"):
        frame[col] = frame[col].astype(np.int64)
    frame["trained"] = frame["trained"].astype(bool)
    return frame


def dose_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per intervention x space x delta: mean, SD (ddof 1), min, max over draws."""
    keys = ["intervention", "space", "space_label", "trained", "delta"]
    grouped = frame.groupby(keys, sort=False)
    out = grouped.agg(draws=("fd", "size"), fd_mean=("fd", "mean"), fd_std=("fd", "std"),
                      fd_min=("fd", "min"), fd_max=("fd", "max"),
                      mean_term_mean=("mean_term", "mean"), trace_term_mean=("trace_term", "mean"))
    return out.reset_index()


def write_tables(rd: RunDir, config: SweepConfig, plan: Plan) -> tuple[list[str], dict[str, Any]]:
    """Write every table from the finished tasks; returns (file names, verification)."""
    written: list[str] = []
    dose_rows: list[dict] = []
    for task in plan.of_kind("dose"):
        dose_rows += read_json(rd.stats_path(task.id))["rows"]
    if dose_rows:
        frame = dose_frame(dose_rows)
        written += [p.name for p in write_table(frame, rd.tables / "dose_response")]
        written += [p.name for p in write_table(dose_summary(frame), rd.tables / "dose_summary",
                                                formats=("csv", "json"))]
    region = []
    for task in plan.of_kind("region"):
        region += read_json(rd.stats_path(task.id))["rows"]
    if region:
        frame = pd.DataFrame(region, columns=list(REGION_COLUMNS))
        written += [p.name for p in write_table(frame, rd.tables / "region", formats=("csv", "json"))]
    verification = {t.params["intervention"]: read_json(rd.stats_path(t.id))
                    for t in plan.of_kind("verify")}
    if verification:
        written.append(write_json(rd.tables / "verification.json", verification).name)
    return written, verification
