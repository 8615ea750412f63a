"""The "Explained FD" section of rank reports (tables/explained_fd and tables/prevalence).

Per generator: each attribute's prevalence in the generated and the reference set, and per
feature space the FD, the FD after matching the reference prevalence, the FD drop with its CI
and the share of the FD it explains. The assumptions (`counterfactual.analysis.explained.ASSUMPTIONS`)
are shown with the section.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from counterfactual.analysis.explained import ASSUMPTIONS
from counterfactual.run.reader import RunData


def _none(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def explained_section(run: RunData) -> dict[str, Any] | None:
    """Template context of the section, or None when the run has no explained-FD table."""
    df = run.table("explained_fd")
    if df is None or df.empty:
        return None
    order = {name: i for i, name in enumerate(run.spaces)}
    attributes = list(dict.fromkeys(df["attribute"]))
    generators = []
    for g in dict.fromkeys(df["generator"]):
        part = df[df["generator"] == g]
        blocks = []
        for a in attributes:
            rows = part[part["attribute"] == a]
            if rows.empty:
                continue
            rows = rows.assign(_o=rows["space"].map(lambda s: order.get(s, 1e9))).sort_values("_o")
            first = rows.iloc[0]
            cells = [
                {
                    "space": run.space(r["space"]),
                    "fd": _none(r["fd"]),
                    "fd_matched": _none(r["fd_matched"]),
                    "drop": _none(r["fd_drop"]),
                    "drop_lo": _none(r["fd_drop_ci_low"]),
                    "drop_hi": _none(r["fd_drop_ci_high"]),
                    "share": _none(r["explained_fraction"]),
                    "share_lo": _none(r["explained_ci_low"]),
                    "share_hi": _none(r["explained_ci_high"]),
                    "status": "" if r["status"] == "ok" else str(r["status"]),
                }
                for _, r in rows.iterrows()
            ]
            blocks.append(
                {
                    "attribute": a,
                    "threshold": float(first["threshold"]),
                    "p_gen": float(first["prevalence_gen"]),
                    "p_ref": float(first["prevalence_ref"]),
                    "gap": float(first["prevalence_gap"]),
                    "rows": cells,
                }
            )
        generators.append(
            {
                "generator": g,
                "anchor": "a-explained-" + re.sub(r"[^A-Za-z0-9_-]+", "-", g),
                "blocks": blocks,
            }
        )
    first = df.iloc[0]
    prevalence = []
    prev = run.table("prevalence")
    if prev is not None and not prev.empty:
        for set_id in dict.fromkeys(prev["set"]):
            p = prev[prev["set"] == set_id].set_index("attribute")
            prevalence.append(
                {
                    "set": set_id,
                    "role": p["role"].iloc[0],
                    "cells": [
                        {
                            "prevalence": float(p.loc[a, "prevalence"]),
                            "mean": float(p.loc[a, "score_mean"]),
                        }
                        if a in p.index
                        else None
                        for a in attributes
                    ],
                }
            )
    thresholds = {a: float(df.loc[df["attribute"] == a, "threshold"].iloc[0]) for a in attributes}
    return {
        "generators": generators,
        "attributes": attributes,
        "thresholds": thresholds,
        "prevalence": prevalence,
        "assumptions": list(ASSUMPTIONS),
        "method": str(first["method"]),
        "n_boot": int(first["n_boot"]),
        "ci_label": f"{float(first['ci_level']):.0%}",
    }
