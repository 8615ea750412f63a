"""The "Where FD looks" section: FD attention maps of `counterfactual attention RUN_DIR`.

Reads RUN_DIR/report_tables/attention (`run.schemas.ATTENTION_COLUMNS`) and
RUN_DIR/attention/index.json with its mean maps; per intervention and space it shows the
mean twin map over the mean edited face and the control map over the mean base face (one
colour scale per pair, so their heat compares), and the region shares beside each region's
area. No statistics of its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from counterfactual.foundation.files import read_json
from counterfactual.run.reader import RunData
from counterfactual.run.schemas import ATTENTION_TABLE
from counterfactual.run.tables import read_table

#: Largest overlay opacity (at the hottest pixel of a pair).
ALPHA = 0.7
CMAP = "inferno"


def overlay(face: np.ndarray, heat: np.ndarray, vmax: float) -> np.ndarray:
    """uint8 [3, H, W]: `heat` [H, W] (0..vmax) coloured and blended over a uint8 [3, H, W] face."""
    from matplotlib import colormaps

    level = np.clip(np.asarray(heat, np.float64) / vmax if vmax > 0 else 0.0 * heat, 0.0, 1.0)
    colour = colormaps[CMAP](level)[..., :3].transpose(2, 0, 1) * 255.0
    alpha = ALPHA * level[None]
    out = (1.0 - alpha) * np.asarray(face, np.float64) + alpha * colour
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _load(folder: Any, name: str) -> np.ndarray | None:
    path = folder / name
    return np.load(path, allow_pickle=False) if path.is_file() else None


def attention_section(run: RunData, images: Any) -> dict[str, Any] | None:
    """Template context of the section (None when the run has no attention maps); `images`:
    the page's ImageBank."""
    folder = run.dir.attention
    try:
        table = read_table(run.root, ATTENTION_TABLE, folder=run.dir.report_tables.name)
        index = read_json(folder / "index.json")
    except (FileNotFoundError, ValueError):
        return None
    entries = index.get("maps", [])
    controls = {e["space"]: e for e in entries if e["set"] == "control"}
    blocks = []
    for key in dict.fromkeys(table["intervention"]):
        rows = []
        for e in (e for e in entries if e["set"] == "twin" and e["intervention"] == key):
            space = run.space(e["space"])
            twin, ctrl = (
                _load(folder, e["map"]),
                _load(folder, controls.get(e["space"], {}).get("map", "")),
            )
            twin_face = _load(folder, e["face"])
            ctrl_face = _load(folder, controls.get(e["space"], {}).get("face", ""))
            if twin is None or ctrl is None or twin_face is None or ctrl_face is None:
                continue
            vmax = float(max(twin.max(), ctrl.max()))
            pic = images.strip(
                np.stack(
                    [
                        twin_face,
                        overlay(twin_face, twin, vmax),
                        ctrl_face,
                        overlay(ctrl_face, ctrl, vmax),
                    ]
                ),
                alt=f"{key}, {space.label}: edited mean face, its FD map; base mean "
                "face, the control map",
            )
            part = table[(table["intervention"] == key) & (table["space"] == e["space"])]
            wide = part.pivot(index="region", columns="set", values="share")
            area = part[part["set"] == "twin"].set_index("region")["area"]
            regions = sorted(wide.index, key=lambda r: -float(wide.loc[r].get("twin", 0.0)))
            rows.append(
                {
                    "space": space,
                    "pic": pic,
                    "n": int(e["n"]),
                    "regions": [
                        {
                            "region": r,
                            "twin": float(wide.loc[r, "twin"]),
                            "control": float(wide.loc[r, "control"]),
                            "area": float(area.get(r, np.nan)),
                        }
                        for r in regions
                    ],
                }
            )
        if rows:
            blocks.append({"intervention": key, "rows": rows})
    if not blocks:
        return None
    return {
        "blocks": blocks,
        "no_map": index.get("no_map", {}),
        "n": index.get("n"),
        "reference_faces": index.get("reference_faces"),
        "cost": index.get("cost", {}),
    }


__all__ = ["attention_section", "overlay"]
