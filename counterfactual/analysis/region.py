"""Region sensitivity (region x space), normalised as in the reference study.

normalised = FD(original, region-blurred) / FD(original, fully blurred), per feature space: the
share of a full blur's distance that blurring one region alone produces (0: the space ignores
the region; 1: as far as blurring everything). The table has one schema wherever it is written
(RUN_DIR/tables/region and report_tables/region): `counterfactual.run.schemas.REGION_COLUMNS`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from counterfactual.run.schemas import REGION_COLUMNS
from counterfactual.run.tables import as_bool

from ._common import LABEL_COLUMNS, require_columns

# Columns of the sweep's region table that a hand-made input may lack (NaN when absent).
_OPTIONAL_COUNTS = ("n_pairs", "draws", "draw_pairs")
_OPTIONAL_FLOATS = ("mean_term", "trace_term", "normalised_draw_mean", "normalised_draw_sd")


def region_sensitivity(
    region_table: pd.DataFrame, fd_col: str = "fd", reference_col: str = "fd_reference"
) -> pd.DataFrame:
    """The region table in its one schema, `counterfactual.run.schemas.REGION_COLUMNS` (the
    sweep's ``tables/region``): one row per region x space, sorted, with ``normalised``
    recomputed from ``fd_col`` / ``reference_col`` (NaN where the reference FD is not positive).

    ``fd_col``/``reference_col`` name the input's FD(original, region-blurred) and FD(original,
    fully blurred) columns (the sweep's ``tables/region`` uses ``fd`` and ``fd_reference``).
    Columns a hand-made input lacks are filled: ``intervention`` with the region name,
    ``space_label`` with the space, ``trained`` with True, the others (counts, terms and the
    spread over the sweep's subsampled draws) with NaN.
    """
    require_columns(region_table, ("region", "space", fd_col, reference_col), "region table")
    df = region_table
    fd = pd.to_numeric(df[fd_col], errors="raise").to_numpy(np.float64)
    ref = pd.to_numeric(df[reference_col], errors="raise").to_numpy(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        norm = np.where(ref > 0, fd / ref, np.nan)
    nan = np.full(len(df), np.nan)
    out = pd.DataFrame(
        {
            "region": df["region"].to_numpy(),
            "intervention": (
                df["intervention"] if "intervention" in df else df["region"]
            ).to_numpy(),
            "space": df["space"].to_numpy(),
            "space_label": (df["space_label"] if "space_label" in df else df["space"]).to_numpy(),
            "trained": (
                df["trained"].map(as_bool).to_numpy(bool)
                if "trained" in df
                else np.ones(len(df), bool)
            ),
            "fd": fd,
            "fd_reference": ref,
            "normalised": norm,
            **{col: (df[col].to_numpy() if col in df else nan) for col in _OPTIONAL_COUNTS},
            **{
                col: (df[col].to_numpy(np.float64) if col in df else nan)
                for col in _OPTIONAL_FLOATS
            },
        },
        columns=list(REGION_COLUMNS),
    )
    return out.sort_values(["region", "space"]).reset_index(drop=True)


def region_matrix(sensitivity: pd.DataFrame, value: str = "normalised") -> pd.DataFrame:
    """Region x space matrix of ``value``; columns are the space labels ("(untrained)" kept)."""
    require_columns(sensitivity, ("region", "space_label", value), "region sensitivity table")
    dup = sensitivity.duplicated(["region", "space_label"])
    if dup.any():
        pairs = sensitivity.loc[dup, ["region", "space_label"]].drop_duplicates().values.tolist()
        raise ValueError(f"region sensitivity table has several rows for (region, space) {pairs}")
    return sensitivity.pivot(index="region", columns="space_label", values=value).astype(np.float64)


def reference_fd(region_table: pd.DataFrame, reference_col: str = "fd_reference") -> pd.DataFrame:
    """One row per space: ``space`` and its full-distortion ``fd_reference`` (plus label columns),
    the input of ``normalise.reference_normalised``. Conflicting values for a space are an error."""
    require_columns(region_table, ("space", reference_col), "region table")
    cols = ["space", *[c for c in LABEL_COLUMNS if c in region_table]]
    ref = region_table[cols + [reference_col]].rename(columns={reference_col: "fd_reference"})
    ref = ref.assign(fd_reference=ref["fd_reference"].astype(np.float64))
    spread = ref.groupby("space")["fd_reference"].agg(lambda v: v.max() - v.min())
    bad = spread[spread > 1e-9 * ref.groupby("space")["fd_reference"].max().abs().clip(lower=1.0)]
    if len(bad):
        raise ValueError(f"region table gives different reference FDs for spaces {list(bad.index)}")
    return ref.groupby("space", sort=True).first().reset_index()
