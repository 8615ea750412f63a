"""Build the self-contained HTML report of a run directory.

    build_report("runs/demo")      # -> runs/demo/report.html (+ runs/demo/report_tables/)

One HTML file: sample images and plots are embedded as base64 PNG, styles are inline, and the
only links are #anchors, so the file can be mailed or archived alone. Sweep runs get one
section per attribute (base vs counterfactual grid, verification, dose-response plot per space
with CIs and mean/trace terms, effects with CIs and Holm-corrected p), the cross-space summary
and the region heatmap; rank runs get the reference, sample grids, ranking tables per metric,
the Kendall tau matrix, rank stability and, with attribute scores, the explained FD per
generator (with its assumptions). Every report ends with the run's provenance. Every
untrained feature space carries an "untrained" badge wherever it appears. The derived tables
are written as CSV and JSON to RUN_DIR/report_tables/.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from counterfactual.analysis import SweepTables, sweep_tables, tau_matrix
from counterfactual.report import figures, images
from counterfactual.run.reader import RunData, Space, load_run
from counterfactual.report.explained import explained_section
from counterfactual.report.template import render
from counterfactual.run.directory import RunDir
from counterfactual.run.tables import write_table
from counterfactual.foundation.files import write_text

Log = Callable[[str], None]
REPORT_FILE = "report.html"
STRIP_IMAGES = 8
RANK_METRIC_TITLES = {"fd": "FD (lower is closer)", "kid": "KID (lower is closer)",
                      "precision": "Precision (higher: more samples look like the reference)",
                      "recall": "Recall (higher: more of the reference is covered)",
                      "density": "Density (higher is better)",
                      "coverage": "Coverage (higher is better)"}


def _anchor(text: str) -> str:
    return "a-" + re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return df.replace({np.nan: None}).to_dict(orient="records")


def _ordered_spaces(run: RunData, names: list[str] | None = None) -> list[Space]:
    order = list(run.spaces) if names is None else [n for n in run.spaces if n in names] + \
        [n for n in names if n not in run.spaces]
    return [run.space(n) for n in order]


# ---- sweep sections ---------------------------------------------------------------------------
def _verification(v: dict[str, Any] | None) -> dict[str, Any] | None:
    if not v:
        return None
    rows = []
    target = v.get("target_shift")
    if target:
        rows.append({**target, "role": "target"})
    for r in (v.get("leakage") or {}).values():
        rows.append({**r, "role": "leakage"})
    th = v.get("thresholds") or {}
    return {"passed": bool(v.get("passed", not v.get("flags"))), "rows": rows,
            "target": v.get("target"),
            "identity": v.get("identity"), "flags": v.get("flags") or [],
            "ci_label": f"{th.get('ci', 0.95):.0%}"}


def _attribute(run: RunData, key: str, derived: SweepTables, ci_level: float) -> dict[str, Any]:
    cfg = run.intervention_config(key)
    described = (run.manifest.get("interventions") or {}).get(key, {})
    base, twin = run.sample("base"), run.sample(key)
    k = min(len(base), len(twin), STRIP_IMAGES) if base is not None and twin is not None else 0
    seeds = (run.manifest.get("seeds") or [])[:k]
    out: dict[str, Any] = {
        "key": key, "anchor": _anchor(f"attr-{key}"), "name": cfg.get("name", key),
        "params": json.dumps(cfg.get("params")) if cfg.get("params") else "",
        "synthetic": bool(described.get("synthetic", False)),
        "base_strip": images.strip(base[:k]) if k else None,
        "twin_strip": images.strip(twin[:k]) if k else None,
        "seeds": ", ".join(str(s) for s in seeds),
        "verification": _verification(run.verification.get(key)),
        "dose_plot": None, "effects": [], "p_source": ""}
    if derived.curves is not None:
        curves = derived.curves[derived.curves["intervention"] == key]
        if len(curves):
            spaces = _ordered_spaces(run, list(dict.fromkeys(curves["space"])))
            out["dose_plot"] = figures.dose_figure(curves, spaces, ci_level)
    if derived.effects is not None:
        eff = derived.effects[derived.effects["intervention"] == key]
        order = {sp.name: i for i, sp in enumerate(_ordered_spaces(run))}
        rows = sorted(_records(eff), key=lambda r: order.get(r["space"], 1e9))
        out["effects"] = [{**r, "space": run.space(r["space"])} for r in rows]
        out["p_source"] = eff["p_source"].iloc[0] if len(eff) else ""
    return out


def _reactions(run: RunData, derived: SweepTables) -> dict[str, Any] | None:
    df = derived.reactions
    if df is None or df.empty:
        return None
    spaces = _ordered_spaces(run, list(dict.fromkeys(df["space"])))
    rows = []
    for key in [k for k in run.interventions() if k in set(df["intervention"])]:
        part = df[df["intervention"] == key].set_index("space")
        cells = []
        for sp in spaces:
            if sp.name not in part.index:
                cells.append({"css": "", "reaction": None})
                continue
            r = part.loc[sp.name]
            cells.append({"css": {"over": "over", "under": "under"}.get(r["reaction"], ""),
                          "reaction": r["reaction"], "log_ratio": r["log_ratio"],
                          "lo": r["log_ratio_ci_low"], "hi": r["log_ratio_ci_high"],
                          "p": r["p_adjusted"]})
        rows.append({"intervention": key, "cells": cells})
    return {"spaces": spaces, "rows": rows, "alpha": float(df["alpha"].iloc[0])}


def _region(run: RunData, derived: SweepTables) -> dict[str, Any] | None:
    sens = derived.region
    if sens is None or sens.empty or derived.region_matrix is None:
        return None
    spaces = _ordered_spaces(run, list(dict.fromkeys(sens["space"])))
    labels = {sp.name: sp.label for sp in spaces}
    matrix = derived.region_matrix[[labels[sp.name] for sp in spaces]]
    heat = figures.heatmap(matrix, "FD(region distorted) / FD(fully distorted)", cmap="magma",
                           vmin=0.0, vmax=max(1.0, float(np.nanmax(matrix.to_numpy()))),
                           col_labels=list(matrix.columns), fmt="{:.2f}",
                           cbar_label="normalised FD")
    rows = []
    for region, part in sens.groupby("region", sort=True):
        part = part.set_index("space")
        cells = []
        for sp in spaces:
            if sp.name in part.index:
                sd = part.loc[sp.name, "normalised_draw_sd"]
                cells.append({"value": part.loc[sp.name, "normalised"],
                              "sd": None if pd.isna(sd) else float(sd)})
            else:
                cells.append({"value": None, "sd": None})
        rows.append({"region": region, "cells": cells})
    reference = (run.manifest.get("config", {}).get("region") or {}).get("reference", "")
    return {"heatmap": heat, "spaces": spaces, "rows": rows, "reference": reference}


# ---- rank sections ----------------------------------------------------------------------------
def _rank(run: RunData) -> dict[str, Any] | None:
    metrics, rankings, tau = (run.table(n) for n in ("rank_metrics", "rankings", "kendall_tau"))
    if metrics is None or rankings is None:
        return None
    spaces = _ordered_spaces(run, list(dict.fromkeys(metrics["space"])))
    generators = list(dict.fromkeys(metrics["generator"]))
    ref = run.manifest.get("reference") or {}
    strips = [{"label": "reference", "uri": _strip_or_none(run, "reference")}]
    strips += [{"label": g, "uri": _strip_or_none(run, g)} for g in generators]
    tables = []
    for metric, title in RANK_METRIC_TITLES.items():
        part = rankings[rankings["metric"] == metric]
        if part.empty:
            continue
        rows = []
        for g in generators:
            cells = []
            for sp in spaces:
                r = part[(part["generator"] == g) & (part["space"] == sp.name)]
                r = r.iloc[0] if len(r) else None
                cells.append({"value": None if r is None else r["value"],
                              "lo": None if r is None else r["ci_low"],
                              "hi": None if r is None else r["ci_high"],
                              "rank": "–" if r is None else int(r["rank"]),
                              "stability": None if r is None else r["stability"]})
            rows.append({"generator": g, "cells": cells})
        figure = None
        if metric in ("fd", "precision", "recall"):
            ylabel = "FD" if metric == "fd" else metric
            figure = figures.rank_ci_figure(metrics, metric, spaces, generators, ylabel)
        tables.append({"title": title, "anchor": _anchor(f"rank-{metric}"), "rows": rows,
                       "figure": figure})
    taus = []
    if tau is not None:
        for metric in ("fd", "kid"):
            if not (tau["metric"] == metric).any():
                continue
            m = tau_matrix(tau, metric).reindex(index=[s.name for s in spaces],
                                                columns=[s.name for s in spaces])
            heat = figures.heatmap(m, f"Kendall τ of the {metric.upper()} rankings", cmap="RdBu",
                                   vmin=-1, vmax=1, col_labels=[s.label for s in spaces],
                                   row_labels=[s.label for s in spaces], fmt="{:.2f}",
                                   cbar_label="τ") if len(spaces) > 1 else None
            taus.append({"title": f"{metric.upper()} rankings", "heatmap": heat,
                         "rows": [{"space": sp, "cells": list(m.loc[sp.name])} for sp in spaces]})
    fd = rankings[rankings["metric"] == "fd"]
    stability = []
    for g in generators:
        cells = []
        for sp in spaces:
            r = fd[(fd["generator"] == g) & (fd["space"] == sp.name)].iloc[0]
            cells.append({k: r[k] for k in ("rank", "stability", "rank_mean", "rank_ci_low",
                                            "rank_ci_high")})
        stability.append({"generator": g, "cells": cells})
    first = metrics.iloc[0]
    return {"spaces": spaces, "strips": strips, "tables": tables, "taus": taus,
            "stability": stability, "reference_real": bool(ref.get("real", False)),
            "reference_label": f"reference: {ref.get('spec', '?')}"
                               + (f" (psi={ref['truncation_psi']:g})"
                                  if ref.get("truncation_psi", 1.0) != 1.0 else ""),
            "reference_note": ref.get("note", ""), "n_generator": int(first["n_generator"]),
            "n_reference": int(first["n_reference"]), "n_boot": int(first["n_boot"])}


def _strip_or_none(run: RunData, set_name: str) -> str | None:
    arr = run.sample(set_name)
    return None if arr is None else images.strip(arr, STRIP_IMAGES)


# ---- provenance -------------------------------------------------------------------------------
def _when(ts: Any) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(ts)))
    except (TypeError, ValueError):
        return "–"


def _provenance(run: RunData) -> dict[str, Any]:
    m = run.manifest
    seeds = m.get("seeds") or []
    timing = m.get("timing") or {}
    run_rows = [("name", m.get("name", "")), ("kind", run.kind), ("status", m.get("status", "?")),
                ("run directory", str(run.root.resolve())), ("created", _when(m.get("created"))),
                ("updated", _when(m.get("updated"))),
                ("report built", time.strftime("%Y-%m-%d %H:%M:%S")),
                ("seeds", f"{len(seeds)} ({seeds[0]} … {seeds[-1]})" if seeds else "–"),
                ("total time", f"{timing['total']:.1f} s" if "total" in timing else "–")]
    if "work" in m:
        run_rows.append(("work", json.dumps(m["work"])))
    spaces = []
    for entry in m.get("spaces") or [{"name": s.name} for s in run.spaces.values()]:
        desc = entry.get("description") or {}
        spaces.append({"space": run.space(entry["name"]), "dim": desc.get("dim", "–"),
                       "sha": entry.get("weights_sha256"),
                       "preprocessing": json.dumps(desc.get("preprocessing", {}), sort_keys=True)})
    generators = []
    if "generator" in m:
        generators.append({"name": "generator", "text": json.dumps(m["generator"], sort_keys=True)})
    for set_id, info in (m.get("sets") or {}).items():
        generators.append({"name": set_id, "text": json.dumps(info, sort_keys=True)})
    interventions = [{"name": k, "text": json.dumps(v, sort_keys=True)}
                     for k, v in (m.get("interventions") or {}).items()]
    return {"run": run_rows, "spaces": spaces, "generators": generators,
            "interventions": interventions,
            "versions": list((m.get("versions") or {}).items()), "tables": run.table_files(),
            "config": json.dumps(m.get("config", {}), indent=2)}


# ---- the report -------------------------------------------------------------------------------
def build_context(run: RunData, derived: SweepTables | None, ci_level: float = 0.95) -> dict[str, Any]:
    """Everything the template shows."""
    spaces = _ordered_spaces(run)
    notes = list(derived.notes) if derived else []
    ci_label = f"{ci_level:.0%}"
    attributes = [_attribute(run, k, derived, ci_level) for k in run.interventions()] \
        if derived is not None else []
    reactions = _reactions(run, derived) if derived is not None else None
    region = _region(run, derived) if derived is not None else None
    rank = _rank(run) if run.kind == "rank" else None
    explained = explained_section(run) if rank else None
    toc = [{"id": a["anchor"], "title": a["key"]} for a in attributes]
    if reactions:
        toc.append({"id": "summary", "title": "cross-space summary"})
    if region:
        toc.append({"id": "regions", "title": "regions"})
    if rank:
        toc += [{"id": "reference", "title": "reference"}, {"id": "ranking", "title": "ranking"},
                {"id": "agreement", "title": "Kendall τ"}, {"id": "stability", "title": "stability"}]
    if explained:
        toc.append({"id": "explained", "title": "explained FD"})
    toc.append({"id": "provenance", "title": "provenance"})
    m = run.manifest
    kind = "Generator ranking" if run.kind == "rank" else "Counterfactual sweep"
    return {"title": f"{kind}: {m.get('name', run.root.name)}",
            "subtitle": f"run directory {run.root.name} · status {m.get('status', '?')}",
            "description": (m.get("config") or {}).get("description", ""),
            "spaces": spaces, "any_untrained": any(not s.trained for s in spaces), "toc": toc,
            "notes": notes, "attributes": attributes, "reactions": reactions, "region": region,
            "rank": rank, "explained": explained, "provenance": _provenance(run),
            "ci_level": ci_label}


def write_report_tables(root: Path, derived: SweepTables) -> list[Path]:
    """The derived tables as CSV and JSON in RUN_DIR/report_tables."""
    out: list[Path] = []
    for name, frame in derived.frames().items():
        out += write_table(frame, RunDir(root).report_tables / name, formats=("csv", "json"))
    return out


def build_report(run_dir: str | Path, out: str | Path | None = None, *, n_boot: int = 2000,
                 permutations: int = 0, seed: int = 0, log: Log = print) -> Path:
    """Write the report of a run directory; returns the HTML path (default RUN_DIR/report.html)."""
    run = load_run(run_dir)
    derived = None
    if run.kind == "sweep":
        derived = sweep_tables(run, n_boot=n_boot, seed=seed, permutations=permutations)
        write_report_tables(run.root, derived)
        for note in derived.notes:
            log(f"note: {note}")
    html = render(build_context(run, derived))
    path = Path(out) if out is not None else run.root / REPORT_FILE
    write_text(path, html)
    return path
