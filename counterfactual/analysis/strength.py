"""Dose-response over strength: the sensitivity of each space to one distortion family at each
of its strengths (interventions "<family>@<strength>", from ``strengths = [...]`` in the
config, `counterfactual.config.expand_strengths`).

One row per family x strength x space, read from the FD rows of the effects table (the one
definition of sensitivity, `counterfactual.analysis.sensitivity`): S with its face-level
interval and the "detected" verdict, plus ``share_of_top`` = S / S at the family's strongest
setting in the same space (a scale-free curve shape: spaces whose FD scales differ by orders
can be read on one axis). Families with fewer than two strengths have no curve and no rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from counterfactual.config import split_strength

from ._common import frame, require_columns

STRENGTH_COLUMNS: tuple[str, ...] = (
    "family",
    "strength",
    "intervention",
    "space",
    "space_label",
    "trained",
    "n_pairs",
    "sensitivity",
    "sensitivity_ci_low",
    "sensitivity_ci_high",
    "share_of_top",
    "detected",
    "ci_level",
)

_NEEDED = (
    "intervention",
    "space",
    "space_label",
    "trained",
    "n_pairs",
    "sensitivity",
    "sensitivity_ci_low",
    "sensitivity_ci_high",
    "ci_level",
)


def strength_response(effects: pd.DataFrame) -> pd.DataFrame | None:
    """The strength dose-response table (columns ``STRENGTH_COLUMNS``, sorted by family,
    space, strength) from an effects table; None when no family has two strengths."""
    require_columns(effects, _NEEDED, "effects table")
    fd = effects[effects["distance"] == "fd"] if "distance" in effects else effects
    parsed = {k: split_strength(str(k)) for k in dict.fromkeys(fd["intervention"])}
    strengths: dict[str, set[float]] = {}
    for family, s in parsed.values():
        if s is not None:
            strengths.setdefault(family, set()).add(s)
    families = {f for f, s in strengths.items() if len(s) >= 2}
    if not families:
        return None
    rows = []
    for _, r in fd.iterrows():
        family, s = parsed[r["intervention"]]
        if family not in families:
            continue
        rows.append(
            {
                "family": family,
                "strength": s,
                **{c: r[c] for c in _NEEDED},
                "detected": r["detected"] if "detected" in r else "",
            }
        )
    df = frame(rows, [c for c in STRENGTH_COLUMNS if c != "share_of_top"])
    df = df.sort_values(["family", "space", "strength"]).reset_index(drop=True)
    top = df.groupby(["family", "space"])["sensitivity"].transform("last")
    with np.errstate(divide="ignore", invalid="ignore"):
        share = df["sensitivity"].to_numpy(np.float64) / top.to_numpy(np.float64)
    df["share_of_top"] = np.where(top.to_numpy(np.float64) > 0, share, np.nan)
    return df[list(STRENGTH_COLUMNS)]


__all__ = ["STRENGTH_COLUMNS", "strength_response"]
