"""Validating the sweep's dose-response table (``RUN_DIR/tables/dose_response``) for analysis.

One row per intervention x space x delta x draw; the columns the analysis needs are
`counterfactual.run.schemas.DOSE_ANALYSIS_COLUMNS`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from counterfactual.run.schemas import DOSE_ANALYSIS_COLUMNS, DOSE_FLOAT_COLUMNS
from counterfactual.run.tables import as_bool, read_table

from ._common import require_columns


def validate_dose_table(df: pd.DataFrame) -> pd.DataFrame:
    """A float64 copy of a dose-response table, or one clear error about what is wrong."""
    require_columns(df, DOSE_ANALYSIS_COLUMNS, "dose-response table")
    out = df.copy()
    for col in DOSE_FLOAT_COLUMNS:
        out[col] = pd.to_numeric(out[col], errors="raise").astype(np.float64)
    out["trained"] = out["trained"].map(as_bool)
    # CSV round trips give 0.30000000000000004 for 0.3: one value per grid point.
    out["delta"] = out["delta"].round(10)
    delta = out["delta"].to_numpy()
    if np.isnan(delta).any() or (delta < -1e-12).any() or (delta > 1 + 1e-12).any():
        raise ValueError("dose-response table: column 'delta' must lie in [0, 1] without NaN")
    return out


def load_dose_table(run_dir: str | Path) -> pd.DataFrame:
    """The validated dose-response table of a run directory."""
    return validate_dose_table(read_table(run_dir, "dose_response"))
