"""Reading and validating the sweep's tables (``RUN_DIR/tables/``) for analysis.

The dose-response table has one row per intervention x space x delta x draw with columns
``intervention, space, space_label, trained, delta, draw, n_pairs, fd, mean_term, trace_term``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ._common import as_bool, require_columns

DOSE_COLUMNS: tuple[str, ...] = ("intervention", "space", "space_label", "trained", "delta", "draw",
                                 "n_pairs", "fd", "mean_term", "trace_term")
_FLOAT_COLUMNS = ("delta", "fd", "mean_term", "trace_term")


def read_table(run_dir: str | Path, name: str) -> pd.DataFrame:
    """``RUN_DIR/tables/<name>.parquet`` if present, else ``.csv``, else ``.json`` (records)."""
    tables = Path(run_dir) / "tables"
    for ext, reader in ((".parquet", pd.read_parquet), (".csv", pd.read_csv),
                        (".json", lambda p: pd.read_json(p, orient="records"))):
        path = tables / f"{name}{ext}"
        if path.exists():
            return reader(path)
    raise FileNotFoundError(f"no table {name!r} under {tables} (looked for .parquet, .csv, .json)")


def validate_dose_table(df: pd.DataFrame) -> pd.DataFrame:
    """A float64 copy of a dose-response table, or one clear error about what is wrong."""
    require_columns(df, DOSE_COLUMNS, "dose-response table")
    out = df.copy()
    for col in _FLOAT_COLUMNS:
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
