"""The report's section "Embedding maps and nearest faces": small scatter plots of the maps
(`analysis.embedding`: a sweep's base vs twin features per edit and space, a rank run's
reference vs each generator per space) and, for a sweep, image grids of each space's nearest
faces to a few fixed base faces (`analysis.neighbours.face_neighbours`), built from the sample
images the run keeps. It renders analysis results only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from counterfactual.report.figures import data_uri, panel_grid
from counterfactual.report.images import ImageBank, thumbnail
from counterfactual.report.palette import Style
from counterfactual.run.reader import RunData, Space

PANEL_INCHES = 1.9
MAX_COLS = 5
BACKGROUND_INK = "#9ca3af"  # the base faces / the reference
PAIR_INK = "#d1d5db"
ROLE_LABELS = {
    "base": "base faces",
    "twin": "edited twins",
    "reference": "reference",
    "generator": "generator",
}


def map_figure(
    part: pd.DataFrame, spaces: Sequence[Space], styles: Mapping[str, Style], title: str
) -> str:
    """One figure of one map name: a panel per space; the background role (base faces or the
    reference) grey, the other in the space's colour, matched pairs joined by faint lines."""
    from matplotlib.collections import LineCollection

    fig, axes = panel_grid(len(spaces), MAX_COLS, (PANEL_INCHES, PANEL_INCHES))
    for ax, sp in zip(axes.ravel(), spaces):
        cell = part[part["space"] == sp.name]
        back = cell[cell["role"].isin(["base", "reference"])]
        front = cell[~cell["role"].isin(["base", "reference"])]
        if (cell["role"] == "twin").any():
            joined = back.merge(front, on="face", suffixes=("_a", "_b"))
            segments = np.stack(
                [joined[["x_a", "y_a"]].to_numpy(), joined[["x_b", "y_b"]].to_numpy()], axis=1
            )
            ax.add_collection(LineCollection(list(segments), colors=PAIR_INK, linewidths=0.4))
        color = styles[sp.name].color if sp.name in styles else "#2563eb"
        ax.scatter(back["x"], back["y"], s=5, c=BACKGROUND_INK, linewidths=0)
        ax.scatter(front["x"], front["y"], s=5, c=color, linewidths=0)
        ax.set_title(sp.label, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal", adjustable="datalim")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return data_uri(fig)


def _seed_of(run: RunData, set_name: str, face: int) -> Any:
    """The seed of a face of a sweep set (row `face` in seed order), or its row number."""
    seeds = run.manifest.get("seeds") or []
    return seeds[face] if face < len(seeds) else f"#{face}"


def face_grids(
    run: RunData, table: pd.DataFrame, spaces: Sequence[Space], images: ImageBank
) -> list[dict[str, Any]]:
    """Per space, one row per query face: its thumbnail, then its nearest faces with captions
    (set and seed; the query's own twin marked)."""
    samples: dict[str, np.ndarray | None] = {}

    def thumb(set_name: str, face: int, alt: str) -> Any:
        if set_name not in samples:
            samples[set_name] = run.sample(set_name)
        arr = samples[set_name]
        if arr is None or face >= len(arr):
            return None
        return images.strip(thumbnail(arr[face])[None], max_images=1, alt=alt)

    out = []
    for sp in spaces:
        part = table[table["space"] == sp.name]
        rows = []
        for q, group in part.groupby("query", sort=True):
            seed = _seed_of(run, "base", int(q))
            cells = [
                {
                    "pic": thumb("base", int(q), f"base face, seed {seed}"),
                    "caption": f"base · seed {seed}",
                    "detail": "query",
                    "css": "query",
                }
            ]
            for r in group.sort_values("rank").itertuples():
                s = _seed_of(run, str(r.set), int(r.face))
                own = bool(r.own_twin)
                cells.append(
                    {
                        "pic": thumb(str(r.set), int(r.face), f"{r.set}, seed {s}"),
                        "caption": f"{r.set} · seed {s}",
                        "detail": ("own twin, " if own else "") + f"d {float(r.distance):.3g}",
                        "css": "own" if own else "",
                    }
                )
            rows.append({"cells": cells})
        if rows:
            out.append({"space": sp, "rows": rows})
    return out


def maps_section(
    run: RunData,
    maps: pd.DataFrame | None,
    missing: str | None,
    face_table: pd.DataFrame | None,
    spaces_in: Callable[[list[str]], list[Space]],
    styles: Mapping[str, Style],
    images: ImageBank,
) -> dict[str, Any] | None:
    """Template context of the section (None when there is neither a map, a reason for its
    absence, nor a face grid). `missing`: why there are no maps; `spaces_in(names)`: the
    report's space order."""
    has_maps = maps is not None and not maps.empty
    has_faces = face_table is not None and not face_table.empty
    if not has_maps and not missing and not has_faces:
        return None
    out: dict[str, Any] = {"blocks": [], "missing": missing, "faces": None}
    if has_maps and maps is not None:
        first = maps.iloc[0]
        out.update(
            method=str(first["method"]),
            seed=int(first["seed"]),
            sweep=bool((maps["role"] == "twin").any()),
            max_faces=int(maps["face"].max()) + 1,
        )
        for name in dict.fromkeys(maps["map"]):
            part = maps[maps["map"] == name]
            spaces = spaces_in(list(dict.fromkeys(part["space"])))
            counts = part[part["space"] == spaces[0].name]["role"].value_counts()
            what = ", ".join(f"{ROLE_LABELS.get(r, r)} {int(c)}" for r, c in counts.items())
            out["blocks"].append(
                {
                    "name": name,
                    "figure": map_figure(part, spaces, styles, f"{name} ({what})"),
                }
            )
    if has_faces and face_table is not None:
        spaces = spaces_in(list(dict.fromkeys(face_table["space"])))
        grids = face_grids(run, face_table, spaces, images)
        first = face_table.iloc[0]
        out["faces"] = {
            "grids": grids,
            "k": int(face_table["rank"].max()),
            "queries": int(face_table["query"].nunique()),
            "sets": str(first["pool_sets"]),
            "pool": int(first["pool_faces"]),
            "per_set": int(first["pool_faces"]) // max(1, len(str(first["pool_sets"]).split(", "))),
        }
    return out


__all__ = ["face_grids", "map_figure", "maps_section"]
