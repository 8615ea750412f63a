"""Multiple-testing corrections across attributes x spaces (statsmodels ``multipletests``).

Holm controls the family-wise error rate; Benjamini-Hochberg controls the false discovery rate.
NaN p-values (tests that could not be run) are left out of the family and stay NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from ._common import require_columns

# Short column suffix -> statsmodels method name.
METHODS: dict[str, str] = {"holm": "holm", "bh": "fdr_bh"}


def adjust_pvalues(pvalues: Sequence[float] | np.ndarray, method: str = "holm") -> np.ndarray:
    """Adjusted p-values (float64, same order; NaN stays NaN). ``method``: "holm" or "bh"."""
    if method not in METHODS:
        raise ValueError(f"unknown correction {method!r}; choose from {sorted(METHODS)}")
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    ok = ~np.isnan(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise ValueError("p-values must lie in [0, 1]")
    out = np.full(p.shape, np.nan)
    if ok.any():
        out[ok] = multipletests(p[ok], method=METHODS[method])[1]
    return out


def add_adjusted(
    df: pd.DataFrame,
    p_col: str = "p_value",
    alpha: float = 0.05,
    methods: Sequence[str] = ("holm", "bh"),
    by: Sequence[str] | None = None,
    tag: str = "",
) -> pd.DataFrame:
    """A copy of ``df`` with ``p_<method>`` adjusted p-values and ``reject_<method>`` flags.

    With ``tag`` the columns are ``p_<tag>_<method>`` and ``reject_<tag>_<method>``.

    The family is every row of ``df`` (all attributes x spaces), or each group of ``by``.
    ``reject_<method>`` is adjusted p < ``alpha`` (False where the p-value is NaN).
    """
    require_columns(df, [p_col, *(by or [])], "table to correct")
    out = df.copy()
    infix = f"{tag}_" if tag else ""
    for m in methods:
        adj = np.full(len(out), np.nan)
        groups = out.groupby(list(by), sort=False).indices.values() if by else [np.arange(len(out))]
        for idx in groups:
            adj[idx] = adjust_pvalues(out[p_col].to_numpy(np.float64)[idx], m)
        out[f"p_{infix}{m}"] = adj
        out[f"reject_{infix}{m}"] = np.nan_to_num(adj, nan=1.0) < alpha
    return out
