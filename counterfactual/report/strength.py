"""The sweep report's "Dose-response over strength" section (report_tables/strength, from
`counterfactual.analysis.strength.strength_response`): per distortion family with two or more
strengths, a figure of the sensitivity against strength per space with its interval, and the
table behind it (rows: family at each strength; columns: spaces)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from counterfactual.report import figures
from counterfactual.report.palette import Style
from counterfactual.run.reader import Space


def _none(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def strength_section(
    table: pd.DataFrame | None,
    ordered_spaces: Callable[[list[str]], Sequence[Space]],
    styles: dict[str, Style],
    ci_level: float,
    links: list[dict[str, str]],
) -> dict[str, Any] | None:
    """Template context of the section, or None without a strength table."""
    if table is None or table.empty:
        return None
    spaces = list(ordered_spaces(list(dict.fromkeys(table["space"]))))
    rows = []
    for (family, strength), part in table.groupby(["family", "strength"], sort=True):
        by_space = part.set_index("space")
        cells = []
        for sp in spaces:
            if sp.name not in by_space.index:
                cells.append(None)
                continue
            r = by_space.loc[sp.name]
            cells.append(
                {
                    "value": _none(r["sensitivity"]),
                    "lo": _none(r["sensitivity_ci_low"]),
                    "hi": _none(r["sensitivity_ci_high"]),
                    "share": _none(r["share_of_top"]),
                    "detected": str(r["detected"] or ""),
                }
            )
        rows.append({"family": family, "strength": strength, "cells": cells})
    return {
        "figure": figures.strength_figure(table, spaces, styles, ci_level),
        "spaces": spaces,
        "rows": rows,
        "families": list(dict.fromkeys(table["family"])),
        "links": links,
    }


__all__ = ["strength_section"]
