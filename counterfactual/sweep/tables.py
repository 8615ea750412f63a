"""The sweep's output tables, assembled from the per-task results in RUN_DIR/stats.

tables/dose_response.{csv,parquet,json}  one row per intervention x space x delta x draw
tables/region.{csv,json}                 region distortions normalised by the reference
tables/verification.json                 per intervention: shifts, identity, flags
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from counterfactual.config import SweepConfig
from counterfactual.foundation.files import read_json, write_json
from counterfactual.run.directory import RunDir
from counterfactual.run.schemas import (
    DOSE_COLUMNS,
    DOSE_FLOAT_COLUMNS,
    DOSE_INT_COLUMNS,
    REGION_COLUMNS,
    VERIFICATION_FILE,
)
from counterfactual.run.tables import write_table
from counterfactual.sweep.plan import Plan


def dose_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(DOSE_COLUMNS))
    for col in DOSE_FLOAT_COLUMNS:
        frame[col] = frame[col].astype(np.float64)
    for col in DOSE_INT_COLUMNS:
        frame[col] = frame[col].astype(np.int64)
    frame["trained"] = frame["trained"].astype(bool)
    return frame


def write_tables(rd: RunDir, config: SweepConfig, plan: Plan) -> tuple[list[str], dict[str, Any]]:
    """Write every table from the finished tasks; returns (file names, verification)."""
    written: list[str] = []
    dose_rows: list[dict] = []
    for task in plan.of_kind("dose"):
        dose_rows += read_json(rd.stats_path(task.id))["rows"]
    if dose_rows:
        frame = dose_frame(dose_rows)
        written += [p.name for p in write_table(frame, rd.tables / "dose_response")]
    region = []
    for task in plan.of_kind("region"):
        region += read_json(rd.stats_path(task.id))["rows"]
    if region:
        frame = pd.DataFrame(region, columns=list(REGION_COLUMNS))
        written += [
            p.name for p in write_table(frame, rd.tables / "region", formats=("csv", "json"))
        ]
    verification = {
        t.params["intervention"]: read_json(rd.stats_path(t.id)) for t in plan.of_kind("verify")
    }
    if verification:
        written.append(write_json(rd.tables / VERIFICATION_FILE, verification).name)
    return written, verification
