"""The report's "reference-study findings" section: each claim (`analysis.claims`) with the
measured comparison, its interval and the verdict word, worded here, computed by the analysis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from counterfactual.analysis.claims import (
    NOT_REPRODUCED,
    NOT_TESTED,
    REPRODUCED,
    UNDECIDED,
    claim_summary,
)
from counterfactual.report import numbers

VERDICT_CSS = {REPRODUCED: "pass", NOT_REPRODUCED: "fail", UNDECIDED: "neutral", NOT_TESTED: "ref"}
UNITS = {
    "reference": "in reference-normalised units (each sensitivity over the same space's "
    "sensitivity to the reference distortion)",
    "raw": "in the space's own FD units",
}


def _line(row: dict[str, Any]) -> str:
    if row.get("estimate") is None:
        return f"{row['comparison']}: {row['result']} ({row['note']})"
    text = (
        f"{row['comparison']}: difference "
        f"{numbers.estimate(row['estimate'], row['ci_low'], row['ci_high'])} "
        f"(simultaneous {numbers.num(100 * row['level'])}% interval) → {row['result']}"
    )
    return text + (f" ({row['note']})" if row.get("note") else "")


def claims_section(
    table: pd.DataFrame | None, links: Callable[..., Any], tables_dir: str
) -> dict[str, Any] | None:
    """Entries for the template (None without a claims table)."""
    if table is None or table.empty:
        return None
    entries = []
    for c in claim_summary(table):
        entries.append(
            {
                **c,
                "css": VERDICT_CSS[c["verdict"]],
                "units": UNITS[c["normalisation"]],
                "lines": [_line(r) for r in c["rows"]],
            }
        )
    counts = {v: sum(e["verdict"] == v for e in entries) for v in VERDICT_CSS}
    return {"entries": entries, "counts": counts, "links": links(f"{tables_dir}/claims")}
