"""The sweep report's "Readable vs moves FD" section: linear probes beside the sensitivity, and
the twin-neighbours table (report_tables/probes and report_tables/neighbours).

Rows of the first table: each edit whose verification has a target scorer (its attribute),
then each probed attribute that no edit targets. Per space: the probe's balanced accuracy with
its interval over folds (can a linear read-out tell the attribute from the base features?) and
the edit's effect on the FD (the effects table's measure the findings use, with its interval,
and FD(1)/FD(0)): does the edit move the FD? Second table: per edit
and space, the share of base faces whose nearest twin is their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from counterfactual.analysis.findings import Measure, _effects_measure
from counterfactual.analysis.sweep_analysis import SweepTables
from counterfactual.run.reader import RunData, Space


def _value(row: pd.Series | None, field: str) -> Any:
    if row is None or field not in row or pd.isna(row[field]):
        return None
    return row[field]


def _cell(table: pd.DataFrame | None, key: str, value: str, space: str) -> pd.Series | None:
    if table is None or table.empty:
        return None
    rows = table[(table[key] == value) & (table["space"] == space)]
    return rows.iloc[0] if len(rows) else None


def _probe(row: pd.Series | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "ba": _value(row, "balanced_accuracy"),
        "lo": _value(row, "ba_lo"),
        "hi": _value(row, "ba_hi"),
        "auc": _value(row, "auc"),
        "chance": _value(row, "chance_ba"),
        "chance_max": _value(row, "chance_ba_max"),
        "status": "" if row.get("status", "ok") == "ok" else str(row["status"]),
    }


def _moves(row: pd.Series | None, measure: Measure | None) -> dict[str, Any] | None:
    """The effects table's measure of the edit in one space (the one the findings use), with
    FD(1)/FD(0) beside it when the table has FD(0) and FD(1)."""
    if row is None or measure is None or _value(row, measure.value) is None:
        return None
    fd0, fd1 = _value(row, "fd0"), _value(row, "fd1")
    return {
        "value": _value(row, measure.value),
        "lo": _value(row, measure.low),
        "hi": _value(row, measure.high),
        "ratio": fd1 / fd0 if fd0 and fd1 is not None else None,
    }


def probes_section(
    run: RunData,
    derived: SweepTables,
    spaces_in: Callable[[list[str]], list[Space]],
    links: Callable[..., list[dict[str, str]]],
    tables_dir: str,
) -> dict[str, Any] | None:
    """Template context of the section, or None when neither table could be computed.
    `spaces_in(names)`: the report's space order; `links(*paths)`: download links."""
    probes, neighbours = derived.probes, derived.neighbours
    has_probes = probes is not None and not probes.empty
    has_neighbours = neighbours is not None and not neighbours.empty
    if not has_probes and not has_neighbours:
        return None
    out: dict[str, Any] = {"readable": None, "neighbours": None}
    if has_probes:
        spaces = spaces_in(list(dict.fromkeys(probes["space"])))
        attributes = list(dict.fromkeys(probes["attribute"]))
        effects = derived.effects
        try:
            measure = _effects_measure(effects) if effects is not None else None
        except KeyError:
            measure = None
        rows, targeted = [], set()
        for key in run.interventions():
            target = (run.verification.get(key) or {}).get("target")
            if target not in attributes:
                continue
            targeted.add(target)
            rows.append(
                {
                    "edit": key,
                    "attribute": target,
                    "cells": [
                        {
                            "probe": _probe(_cell(probes, "attribute", target, sp.name)),
                            "moves": _moves(_cell(effects, "intervention", key, sp.name), measure),
                        }
                        for sp in spaces
                    ],
                }
            )
        for attribute in attributes:
            if attribute not in targeted:
                rows.append(
                    {
                        "edit": None,
                        "attribute": attribute,
                        "cells": [
                            {
                                "probe": _probe(_cell(probes, "attribute", attribute, sp.name)),
                                "moves": None,
                            }
                            for sp in spaces
                        ],
                    }
                )
        first = (
            probes[probes["status"] == "ok"].iloc[0]
            if (probes["status"] == "ok").any()
            else probes.iloc[0]
        )
        out["readable"] = {
            "spaces": spaces,
            "rows": rows,
            "rule": str(first["label_rule"]),
            "interval": str(first["interval"]),
            "n_shuffles": _value(first, "n_shuffles"),
            "folds": _value(first, "folds"),
            "level": _value(first, "ci_level"),
            "measure": measure.label if measure else None,
            "links": links(f"{tables_dir}/probes", f"{tables_dir}/effects"),
        }
    if has_neighbours:
        spaces = spaces_in(list(dict.fromkeys(neighbours["space"])))
        rows = []
        for key in dict.fromkeys(neighbours["intervention"]):
            cells = []
            for sp in spaces:
                r = _cell(neighbours, "intervention", key, sp.name)
                cells.append(
                    None
                    if r is None
                    else {
                        "top1": r["own_twin_top1"],
                        "lo": r["lo"],
                        "hi": r["hi"],
                        "rank": r["mean_rank"],
                    }
                )
            rows.append({"edit": key, "cells": cells})
        first = neighbours.iloc[0]
        out["neighbours"] = {
            "spaces": spaces,
            "rows": rows,
            "n": int(first["n"]),
            "chance": float(first["chance"]),
            "chance_rank": float(first["chance_mean_rank"]),
            "interval": str(first["interval"]),
            "level": float(first["ci_level"]),
            "links": links(f"{tables_dir}/neighbours"),
        }
    return out


__all__ = ["probes_section"]
