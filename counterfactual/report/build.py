"""Build the HTML report of a run directory.

    build_report("runs/demo")      # -> runs/demo/report.html (+ runs/demo/report_tables/)

One HTML file: sample strips and plots are embedded (each distinct image once), styles and the
small table-sorting script are inline; the only links leave the page for the table files of
its own run directory (report_tables/, tables/, manifest.json), relative to the HTML file.

Page order, for a reader with one minute: the findings box (generated from the analysis by
`counterfactual.analysis.findings`, worded by `headline`), the reference-study findings (each
claim of `counterfactual.analysis.claims` with its verdict, worded by `claims`), the design box, then one section
per intervention named for what it is (image strip, verification with its badge and the
direction's quality, dose plot with interval bands and the fit, effects table, or for region
edits their region result), the cross-space summary, the dose-response over strength (for
distortion families run at several strengths), "readable vs moves FD" (linear probes
beside the sensitivity, twin neighbours), the region table and the provenance.
Rank runs get a findings box over the rankings, then reference, rankings, Kendall τ, rank
stability and the explained FD. Every untrained space carries an "untrained" badge wherever
it appears; every space keeps one colour and marker (`palette`); every number goes through
`numbers`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from counterfactual.analysis import SweepTables, sweep_tables, tau_matrix
from counterfactual.analysis.distances import DEFAULT_DISTANCES, DISTANCES, check_distances
from counterfactual.analysis.embedding import DEFAULT_METHOD, MAPS_WHAT, check_method, rank_maps
from counterfactual.analysis.findings import (
    FLAGGED,
    NOT_VERIFIABLE,
    REFERENCE,
    VERIFIED,
    direction_quality,
    rank_findings,
    sweep_findings,
    verification_status,
)
from counterfactual.analysis.rank_agreement import MIN_TAU_GENERATORS
from counterfactual.analysis.sensitivity import EFFECT_DESCRIPTIONS
from counterfactual.foundation.files import write_text
from counterfactual.report import figures, numbers
from counterfactual.report.attention import attention_section
from counterfactual.report.claims import claims_section
from counterfactual.report.downloads import Downloads
from counterfactual.report.edits import conditioning_view, describe_edit
from counterfactual.report.explained import explained_section
from counterfactual.report.headline import headline, rank_headline
from counterfactual.report.images import ImageBank
from counterfactual.report.maps import maps_section
from counterfactual.report.palette import space_styles
from counterfactual.report.probes import probes_section
from counterfactual.report.provenance import provenance
from counterfactual.report.strength import strength_section
from counterfactual.report.template import render
from counterfactual.run.directory import RunDir
from counterfactual.run.reader import RunData, Space, load_run
from counterfactual.run.tables import write_table

Log = Callable[[str], None]
REPORT_FILE = "report.html"
REPORT_TABLES = RunDir(".").report_tables.name  # "report_tables"
STRIP_IMAGES = 8
RANK_METRIC_TITLES = {
    "fd": "FD (lower is closer)",
    "kid": "KID (lower is closer)",
    "precision": "Precision (higher: more samples look like the reference)",
    "recall": "Recall (higher: more of the reference is covered)",
    "density": "Density (higher is better)",
    "coverage": "Coverage (higher is better)",
}
DELTA_DEFINITION = (
    "Δ is the prevalence gap between the two sets compared: from N matched pairs, set A takes "
    "the edited twin of a fraction (1−Δ)/2 of the pairs and set B of (1+Δ)/2 (the other member "
    "of each pair goes to the other set), so at Δ = 0 both sets hold the same mix and FD is only "
    "the finite-sample bias floor, and at Δ = 1 A is all base faces and B all twins."
)
STATUS_NOTES = {
    VERIFIED: "The target scorer moved, no other scorer moved beyond the thresholds, and "
    "identity was kept.",
    NOT_VERIFIABLE: "This edit has no target scorer, so nothing checks that it changed what it "
    "should; the table only shows that other scorers did not move (leakage).",
    FLAGGED: "The edit failed at least one check (below): read its FD numbers with care.",
    REFERENCE: "The full-image reference distortion: it is expected to move every scorer and "
    "to lose identity; its only job is to normalise the region edits.",
}
# Columns of the per-edit effects table: (header, field, kind, interval fields); a column is
# shown when the analysis' effects table has its field, so the table follows what analysis
# returns. Kinds: num, key (bold), ci, pct, p (with "…_is_bound"), text.
EFFECT_VIEW: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("FD(0): bias floor", "fd0", "num", ()),
    ("FD(1)", "fd1", "num", ()),
    ("sensitivity", "sensitivity", "key", ()),
    ("{ci} CI", "sensitivity_ci_low", "ci", ("sensitivity_ci_low", "sensitivity_ci_high")),
    ("mean-term share", "mean_term_share", "pct", ()),
    ("detected", "detected", "text", ()),
    ("p", "p_value", "p", ("p_is_bound",)),
    ("p (Holm)", "p_holm", "p", ("p_holm_is_bound",)),
)


def _effect_columns(df: pd.DataFrame, ci_label: str) -> list[dict[str, Any]]:
    return [
        {"header": h.format(ci=ci_label).strip(), "field": f, "kind": k, "extra": list(x)}
        for h, f, k, x in EFFECT_VIEW
        if f in df.columns
    ]


def effects_note(columns: Sequence[str] = tuple(f for _, f, _, _ in EFFECT_VIEW)) -> str:
    """The effects table's caption, worded by the analysis (`sensitivity.EFFECT_DESCRIPTIONS`)
    for the columns shown: one definition, one caption."""
    parts = [EFFECT_DESCRIPTIONS[c] for c in columns if c in EFFECT_DESCRIPTIONS]
    return "; ".join(parts) + "." if parts else ""


STATUS_CSS = {VERIFIED: "pass", NOT_VERIFIABLE: "neutral", FLAGGED: "fail", REFERENCE: "ref"}


def _anchor(text: str) -> str:
    return "a-" + re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return df.replace({np.nan: None}).to_dict(orient="records")


def _ordered_spaces(run: RunData, names: list[str] | None = None) -> list[Space]:
    order = (
        list(run.spaces)
        if names is None
        else [n for n in run.spaces if n in names] + [n for n in names if n not in run.spaces]
    )
    return [run.space(n) for n in order]


class Page:
    """What every section needs: the run, its image bank, styles and download links."""

    def __init__(self, run: RunData, html_dir: Path, ci_level: float) -> None:
        self.run, self.ci_level, self.ci_label = run, ci_level, f"{ci_level:.0%}"
        self.images = ImageBank()
        self.styles = space_styles(run.spaces)
        self.downloads = Downloads(run.root, html_dir)

    def strip(self, set_name: str, k: int = STRIP_IMAGES, alt: str = "") -> Any:
        arr = self.run.sample(set_name)
        return None if arr is None or not len(arr) else self.images.strip(arr[:k], alt=alt)

    def color(self, space: str) -> str:
        style = self.styles.get(space)
        return style.color if style else "#6b7280"


# ---- sweep sections ---------------------------------------------------------------------------
def _units(scorer: str | None) -> str:
    from extractors.scorers import scorer_unit

    unit = scorer_unit(scorer) if scorer else None
    return unit or ""


def _verification(v: Mapping[str, Any] | None, reference: bool) -> dict[str, Any] | None:
    if not v:
        return None
    rows = []
    target = v.get("target_shift")
    if target:
        rows.append({**target, "role": "target", "unit": _units(target.get("scorer"))})
    for r in (v.get("leakage") or {}).values():
        rows.append({**r, "role": "leakage", "unit": _units(r.get("scorer"))})
    th = v.get("thresholds") or {}
    status = verification_status(v, reference)
    return {
        "status": status,
        "css": STATUS_CSS[status],
        "note": STATUS_NOTES[status],
        "rows": rows,
        "target": v.get("target"),
        "identity": v.get("identity"),
        "parsing": v.get("parsing_agreement"),
        "flags": v.get("flags") or [],
        "expected_flags": reference,
        "ci_label": f"{th.get('ci', 0.95):.0%}",
    }


def _p_source(eff: pd.DataFrame) -> str:
    """How the effects' p-values and intervals were obtained, with the test's resolution."""
    if not len(eff):
        return ""
    first = eff.iloc[0]
    if "p_source" in eff:
        return str(first["p_source"])
    if "n_perm" not in eff or pd.isna(first["n_perm"]):
        return ""
    n_perm = int(first["n_perm"])
    text = (
        f"within-pair swap permutation test, {n_perm} permutations (resolution "
        f"{numbers.num(1.0 / (n_perm + 1))}; a p no permutation reached is printed as the bound "
        f"≤{numbers.num(1.0 / (n_perm + 1))})"
    )
    if "family_size" in eff:
        text += f"; family of {int(first['family_size'])} tests"
    if "jackknife_groups" in eff:
        corrected = int(first.get("crossfit_splits", 0) or 0) > 0
        text += (
            f"; intervals: grouped jackknife over faces ({int(first['jackknife_groups'])} "
            f"groups{', second-order corrected by cross-fitting' if corrected else ''})"
        )
    return text


def _fd_rows(df: pd.DataFrame | None) -> pd.DataFrame | None:
    """FD's rows of an effects table (tables from before the distance column are all FD)."""
    if df is None or "distance" not in df:
        return df
    return df[df["distance"] == "fd"]


def _distance_table(page: Page, eff: pd.DataFrame) -> dict[str, Any] | None:
    """The "distance x space" table of one attribute: S_d with its interval, Holm p and
    verdict per distance (rows) and space (columns); None with FD alone."""
    if "distance" not in eff or eff["distance"].nunique() < 2:
        return None
    spaces = _ordered_spaces(page.run, list(dict.fromkeys(eff["space"])))
    rows = []
    for name in [d for d in DISTANCES if d in set(eff["distance"])]:
        part = eff[eff["distance"] == name].set_index("space")
        cells = [
            dict(_records(part.loc[[sp.name]].reset_index())[0]) if sp.name in part.index else None
            for sp in spaces
        ]
        rows.append(
            {
                "distance": DISTANCES[name].label,
                "lower_is_better": DISTANCES[name].lower_is_better,
                "cells": cells,
            }
        )
    return {"spaces": spaces, "rows": rows}


def _region_rows(page: Page, part: pd.DataFrame) -> list[dict[str, Any]]:
    """Region results of one edit per space (normalised FD with an interval where the
    analysis gives one, else the spread over subsampled draws)."""
    rows = []
    for sp in _ordered_spaces(page.run, list(dict.fromkeys(part["space"]))):
        r = part[part["space"] == sp.name].iloc[0]
        lo, hi = _region_interval(r)
        rows.append(
            {
                "space": sp,
                "value": r["normalised"],
                "lo": lo,
                "hi": hi,
                "fd": r["fd"],
                "fd_reference": r["fd_reference"],
            }
        )
    return rows


def _region_interval(r: pd.Series) -> tuple[float | None, float | None]:
    """The analysis' interval of the normalised FD when it gives one; else the normal
    approximation value ± 1.96 SD, with the SD taken over the sweep's subsampled draws."""
    if "normalised_ci_low" in r and pd.notna(r.get("normalised_ci_low")):
        return float(r["normalised_ci_low"]), float(r["normalised_ci_high"])
    sd = r.get("normalised_draw_sd")
    if sd is None or pd.isna(sd):
        return None, None
    return float(r["normalised"] - 1.96 * sd), float(r["normalised"] + 1.96 * sd)


def _region_interval_note(sens: pd.DataFrame | None) -> str:
    if sens is not None and "normalised_ci_low" in sens:
        return "interval: bootstrap confidence interval"
    return (
        "interval: value ± 1.96 SD of the ratio over the sweep's subsampled draws, an "
        "approximate 95% interval, conservative because each draw uses fewer pairs than "
        "the full sample"
    )


def _attribute(page: Page, key: str, derived: SweepTables, reference: str | None) -> dict[str, Any]:
    run = page.run
    cfg = run.intervention_config(key)
    m = run.manifest
    described = (m.get("interventions") or {}).get(key, {})
    prepared = (m.get("interventions_prepared") or {}).get(key, described)
    title, sentence = describe_edit(key, prepared, cfg.get("params"))
    base, twin = run.sample("base"), run.sample(key)
    k = min(len(base), len(twin), STRIP_IMAGES) if base is not None and twin is not None else 0
    seeds = (m.get("seeds") or [])[:k]
    is_reference = key == reference
    out: dict[str, Any] = {
        "key": key,
        "anchor": _anchor(f"attr-{key}"),
        "title": title,
        "sentence": sentence,
        "synthetic": bool(described.get("synthetic", False)),
        "reference": is_reference,
        "dose": bool(cfg.get("dose", True)),
        "base_strip": page.images.strip(base[:k], alt="base faces") if k else None,
        "twin_strip": page.images.strip(twin[:k], alt="counterfactual twins") if k else None,
        "seeds": ", ".join(str(s) for s in seeds),
        "verification": _verification(run.verification.get(key), is_reference),
        "direction": direction_quality(key, prepared),
        "conditioning": conditioning_view(prepared),
        "dose_plot": None,
        "effects": [],
        "effect_columns": [],
        "effects_note": "",
        "p_source": "",
        "region": [],
        "distances": None,
        "links": {
            "verification": page.downloads.links("tables/verification.json"),
            "effects": page.downloads.links(
                f"{REPORT_TABLES}/effects", f"{REPORT_TABLES}/fits", f"{REPORT_TABLES}/null"
            ),
            "curves": page.downloads.links(f"{REPORT_TABLES}/curves", "tables/dose_response"),
            "region": page.downloads.links(f"{REPORT_TABLES}/region", "tables/region"),
        },
    }
    if derived.curves is not None:
        curves = derived.curves[derived.curves["intervention"] == key]
        if len(curves):
            spaces = _ordered_spaces(run, list(dict.fromkeys(curves["space"])))
            fits = (
                derived.fits[derived.fits["intervention"] == key]
                if derived.fits is not None
                else None
            )
            out["dose_plot"] = figures.dose_figure(curves, spaces, page.styles, page.ci_level, fits)
    reference_table = getattr(derived, "reference", None)
    table = (
        reference_table
        if reference_table is not None and key in set(reference_table["intervention"])
        else derived.effects
    )
    if table is not None:
        out["distances"] = _distance_table(page, table[table["intervention"] == key])
        table = _fd_rows(table)
        eff = table[table["intervention"] == key]
        order = {sp.name: i for i, sp in enumerate(_ordered_spaces(run))}
        rows = sorted(_records(eff), key=lambda r: order.get(r["space"], 1e9))
        out["effects"] = [{**r, "space": run.space(r["space"])} for r in rows]
        out["effect_columns"] = _effect_columns(eff, page.ci_label)
        out["effects_note"] = effects_note([c["field"] for c in out["effect_columns"]])
        out["p_source"] = _p_source(eff)
    if derived.region is not None:
        part = derived.region[derived.region["intervention"] == key]
        if len(part):
            out["region"] = _region_rows(page, part)
    return out


def _reactions(page: Page, derived: SweepTables) -> dict[str, Any] | None:
    df = derived.reactions
    if df is None or df.empty:
        return None
    run = page.run
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
            if "relative" in r:  # the cross-space table (relative reaction; its flip test)
                ratio, lo, hi = r["relative"], r["relative_ci_low"], r["relative_ci_high"]
                p = r.get("p_value")
                p = None if p is None or pd.isna(p) else float(p)
            else:  # log-ratio to the median space
                ratio, lo, hi = (
                    np.exp(r[c]) for c in ("log_ratio", "log_ratio_ci_low", "log_ratio_ci_high")
                )
                p = r.get("p_adjusted")
            cells.append(
                {
                    "css": {"over": "over", "under": "under"}.get(r["reaction"], ""),
                    "reaction": r["reaction"],
                    "ratio": ratio,
                    "lo": lo,
                    "hi": hi,
                    "p": p,
                    "p_bound": bool(r.get("p_is_bound", False)),
                    "note": r.get("note") or "",
                }
            )
        rows.append({"intervention": key, "cells": cells})
    first = df.iloc[0]
    return {
        "spaces": spaces,
        "rows": rows,
        "relative": "relative" in df.columns,
        "alpha": float(first["alpha"]) if "alpha" in df else None,
        "level": float(first["ci_level"]) if "ci_level" in df else None,
        "alpha_m": 1.0 - float(first["ci_level"]) if "ci_level" in df else None,
        "normaliser": str(first.get("normaliser", "")),
        "links": page.downloads.links(f"{REPORT_TABLES}/reactions"),
    }


def _region(page: Page, derived: SweepTables) -> dict[str, Any] | None:
    sens = derived.region
    if sens is None or sens.empty or derived.region_matrix is None:
        return None
    run = page.run
    spaces = _ordered_spaces(run, list(dict.fromkeys(sens["space"])))
    labels = {sp.name: sp.label for sp in spaces}
    matrix = sens.pivot(index="region", columns="space", values="normalised")
    matrix = matrix[[sp.name for sp in spaces]]
    top = float(np.nanmax(matrix.to_numpy())) if np.isfinite(matrix.to_numpy()).any() else 1.0
    heat = figures.heatmap(
        matrix,
        "FD(region distorted) / FD(fully distorted)",
        cmap="viridis",
        vmin=0.0,
        vmax=max(top, 1e-12),
        col_labels=[labels[c] for c in matrix.columns],
        cbar_label="share of the full distortion's FD",
    )
    rows = []
    for region, part in sens.groupby("region", sort=True):
        cells = []
        for sp in spaces:
            r = part[part["space"] == sp.name]
            if len(r):
                lo, hi = _region_interval(r.iloc[0])
                cells.append({"value": r.iloc[0]["normalised"], "lo": lo, "hi": hi})
            else:
                cells.append({"value": None, "lo": None, "hi": None})
        rows.append({"region": region, "cells": cells})
    reference = (run.manifest.get("config", {}).get("region") or {}).get("reference", "")
    return {
        "heatmap": heat,
        "spaces": spaces,
        "rows": rows,
        "reference": reference,
        "interval_note": _region_interval_note(sens),
        "top": top,
        "links": page.downloads.links(f"{REPORT_TABLES}/region", "tables/region"),
    }


def _design(page: Page) -> dict[str, Any]:
    m = page.run.manifest
    cfg = m.get("config") or {}
    gen = m.get("generator") or {}
    seeds = m.get("seeds") or []
    deltas = cfg.get("deltas") or []
    rows = [
        (
            "generator",
            f"{gen.get('spec', (cfg.get('generator') or {}).get('spec', '?'))}"
            + (f" ({gen['architecture']})" if gen.get("architecture") else ""),
        ),
        (
            "resolution",
            f"{gen['resolution']} × {gen['resolution']} px" if gen.get("resolution") else "–",
        ),
        ("faces", str(len(seeds)) if seeds else "–"),
        ("pairs per draw", str(cfg.get("pairs_per_draw", "–"))),
        ("draws per Δ", str(cfg.get("draws", "–"))),
        ("Δ values", f"{len(deltas)} ({deltas[0]:g} … {deltas[-1]:g})" if deltas else "–"),
    ]
    dims = {e["name"]: (e.get("description") or {}).get("dim") for e in m.get("spaces") or []}
    spaces = [
        {
            "space": sp,
            "color": page.color(sp.name),
            "marker": page.styles[sp.name].marker,
            "dim": dims.get(sp.name),
        }
        for sp in _ordered_spaces(page.run)
    ]
    return {
        "rows": rows,
        "spaces": spaces,
        "delta": DELTA_DEFINITION,
        "links": page.downloads.links("manifest.json"),
    }


def _sweep_findings(
    page: Page, derived: SweepTables, reference: str | None, titles: Mapping[str, str]
) -> dict[str, Any]:
    run = page.run
    m = run.manifest
    cfg = m.get("config") or {}
    dims = {
        e["name"]: int((e.get("description") or {}).get("dim") or 0) for e in m.get("spaces") or []
    }
    reactions = derived.reactions
    cross = reactions if reactions is not None and "relative" in reactions.columns else None
    f = sweep_findings(
        _fd_rows(derived.effects),
        None if cross is not None else reactions,
        getattr(derived, "null", None),
        run.verification,
        cross_space=cross,
        spaces=[(s.name, s.label, s.trained) for s in _ordered_spaces(run)],
        order=run.interventions(),
        reference=reference,
        prepared=m.get("interventions_prepared"),
        n_faces=len(m.get("seeds") or []) or None,
        pairs_per_draw=cfg.get("pairs_per_draw"),
        draws=cfg.get("draws"),
        dims={k: v for k, v in dims.items() if v},
    )
    return headline(f, titles)


# ---- rank sections ----------------------------------------------------------------------------
def _rank(page: Page) -> dict[str, Any] | None:
    run = page.run
    metrics, rankings, tau = (run.table(n) for n in ("rank_metrics", "rankings", "kendall_tau"))
    if metrics is None or rankings is None:
        return None
    spaces = _ordered_spaces(run, list(dict.fromkeys(metrics["space"])))
    generators = list(dict.fromkeys(metrics["generator"]))
    ref = run.manifest.get("reference") or {}
    strips = [{"label": "reference", "pic": page.strip("reference", alt="reference samples")}]  # noqa: B005
    strips += [{"label": g, "pic": page.strip(g, alt=f"{g} samples")} for g in generators]
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
                cells.append(
                    {
                        "value": None if r is None else r["value"],
                        "lo": None if r is None else r["ci_low"],
                        "hi": None if r is None else r["ci_high"],
                        "rank": "–" if r is None else int(r["rank"]),
                        "stability": None if r is None else r["stability"],
                    }
                )
            rows.append({"generator": g, "cells": cells})
        figure = None
        if metric in ("fd", "precision", "recall"):
            ylabel = "FD" if metric == "fd" else metric
            figure = figures.rank_ci_figure(
                metrics, metric, spaces, page.styles, generators, ylabel
            )
        tables.append(
            {"title": title, "anchor": _anchor(f"rank-{metric}"), "rows": rows, "figure": figure}
        )
    taus = []
    if tau is not None:
        for metric in ("fd", "kid"):
            if not (tau["metric"] == metric).any():
                continue
            mat = tau_matrix(tau, metric).reindex(
                index=[s.name for s in spaces], columns=[s.name for s in spaces]
            )
            heat = (
                figures.heatmap(
                    mat,
                    f"Kendall τ of the {metric.upper()} rankings",
                    cmap="RdBu",
                    vmin=-1,
                    vmax=1,
                    col_labels=[s.label for s in spaces],
                    row_labels=[s.label for s in spaces],
                    cbar_label="τ",
                )
                if len(spaces) > 1
                else None
            )
            taus.append(
                {
                    "title": f"{metric.upper()} rankings",
                    "heatmap": heat,
                    "rows": [{"space": sp, "cells": list(mat.loc[sp.name])} for sp in spaces],
                }
            )
    if len(generators) < MIN_TAU_GENERATORS:
        taus = []  # τ between two rankings of two generators is ±1 by construction
    fd = rankings[rankings["metric"] == "fd"]
    stability = []
    for g in generators:
        cells = []
        for sp in spaces:
            r = fd[(fd["generator"] == g) & (fd["space"] == sp.name)].iloc[0]
            cells.append(
                {k: r[k] for k in ("rank", "stability", "rank_mean", "rank_ci_low", "rank_ci_high")}
            )
        stability.append({"generator": g, "cells": cells})
    first = metrics.iloc[0]
    links = page.downloads
    return {
        "spaces": spaces,
        "strips": strips,
        "tables": tables,
        "taus": taus,
        "stability": stability,
        "reference_real": bool(ref.get("real", False)),
        "reference_label": f"reference: {ref.get('spec', '?')}"
        + (f" (psi={ref['truncation_psi']:g})" if ref.get("truncation_psi", 1.0) != 1.0 else ""),
        "reference_note": ref.get("note", ""),
        "n_generator": int(first["n_generator"]),
        "n_reference": int(first["n_reference"]),
        "n_boot": int(first["n_boot"]),
        "n_generators": len(generators),
        "min_tau_generators": MIN_TAU_GENERATORS,
        "floor": _floor(run, spaces, metrics),
        "paired": _paired(run, spaces),
        "resolutions": _resolution_rows(run.manifest),
        "settings": rank_settings(run),
        "links": {
            "rankings": links.links("tables/rankings", "tables/rank_metrics"),
            "tau": links.links("tables/kendall_tau"),
            "paired": links.links("tables/paired_differences"),
            "floor": links.links("tables/reference_floor", "tables/rank_metrics"),
        },
    }


def set_resolutions(manifest: Mapping[str, Any]) -> dict[str, int]:
    """Each set's working resolution in px (the generator's or folder's description)."""
    out = {}
    for set_id, info in (manifest.get("sets") or {}).items():
        res = ((info or {}).get("generator") or {}).get("resolution")
        if res is not None:
            out[set_id] = int(res)
    return out


def _resolution_rows(manifest: Mapping[str, Any]) -> dict[str, Any] | None:
    res = set_resolutions(manifest)
    if not res:
        return None
    return {
        "rows": [
            {
                "set": k,
                "px": v,
                "rule": (((manifest.get("sets") or {}).get(k) or {}).get("generator") or {}).get(
                    "resolution_rule", ""
                ),
            }
            for k, v in res.items()
        ],
        "mismatch": len(set(res.values())) > 1,
    }


def _floor(run: RunData, spaces: Sequence[Space], metrics: pd.DataFrame) -> dict[str, Any] | None:
    """The reference floor table: per space, FD between reference halves at m rows each, each
    generator's FD at the same m, and (beside it) its FD at the full n."""
    table = run.table("reference_floor")
    if table is None or table.empty:
        return None
    sets = list(dict.fromkeys(table["set"]))
    rows = []
    for set_id in sets:
        cells = []
        for sp in spaces:
            r = table[(table["set"] == set_id) & (table["space"] == sp.name)]
            full = metrics[(metrics["generator"] == set_id) & (metrics["space"] == sp.name)]
            cells.append(
                {
                    "fd": r.iloc[0]["fd"] if len(r) else None,
                    "sd": r.iloc[0]["fd_sd"] if len(r) else None,
                    "full": full.iloc[0]["fd"] if len(full) else None,
                }
            )
        rows.append({"set": set_id, "reference": set_id == "reference", "cells": cells})
    first = table.iloc[0]
    return {
        "rows": rows,
        "m": int(first["n_a"]),
        "splits": int(first["splits"]),
        "n_reference": int(metrics.iloc[0]["n_reference"]),
        "n_generator": int(metrics.iloc[0]["n_generator"]),
    }


def _paired(run: RunData, spaces: Sequence[Space]) -> dict[str, Any] | None:
    """FD paired differences (generator a − generator b) per pair and space."""
    table = run.table("paired_differences")
    if table is None or table.empty:
        return None
    fd = table[table["metric"] == "fd"]
    rows = []
    for (a, b), part in fd.groupby(["generator_a", "generator_b"], sort=False):
        cells = []
        for sp in spaces:
            r = part[part["space"] == sp.name]
            if not len(r):
                cells.append(None)
                continue
            r = r.iloc[0]
            verdict = "a" if r["hi"] < 0 else "b" if r["lo"] > 0 else ""
            cells.append(
                {
                    "diff": r["diff"],
                    "lo": r["lo"],
                    "hi": r["hi"],
                    "plain": r["diff_plain"],
                    "css": "lead" if verdict else "",
                    "closer": {"a": a, "b": b}.get(verdict),
                }
            )
        rows.append({"a": a, "b": b, "cells": cells})
    return {
        "rows": rows,
        "method": str(fd.iloc[0]["method"]) if len(fd) else "",
        "n_boot": int(fd.iloc[0]["n_boot"]) if len(fd) else 0,
    }


def _timing_sum(manifest: Mapping[str, Any], *keys: str) -> float:
    """Seconds spent on `keys` (main categories or details) over every invocation of the run."""
    history = manifest.get("timing_history") or (
        [manifest["timing"]] if manifest.get("timing") else []
    )
    total = 0.0
    for t in history:
        for k in keys:
            total += float(t.get(k, (t.get("details") or {}).get(k, 0.0)) or 0.0)
    return total


def rank_settings(run: RunData) -> list[tuple[str, str]]:
    """The rank run's statistics settings as (name, value) rows, with what was actually used."""
    m = run.manifest
    cfg = m.get("config") or {}
    mc = cfg.get("metrics") or {}
    metrics = run.table("rank_metrics")
    first = metrics.iloc[0] if metrics is not None and len(metrics) else None
    rows = [
        (
            "bootstrap",
            f"{mc.get('n_boot', first['n_boot'] if first is not None else '?')} "
            f"replicates, {float(mc.get('ci', 0.95)):.0%} intervals, seed "
            f"{cfg.get('seed', '?')}; every generator resampled jointly "
            "(same reference rows, matched seeds)",
        ),
        (
            "precision/recall, density/coverage",
            f"k = {mc.get('pr_k', '?')}, k = {mc.get('dc_k', '?')}",
        ),
    ]
    if first is not None:
        used = first.get("kid_subset_size_used")
        if used is None or pd.isna(used):
            used = min(
                int(first["n_generator"]), int(first["n_reference"]), int(first["kid_subset_size"])
            )
        rows.append(
            (
                "KID",
                f"{int(first['kid_subsets'])} subset(s) of {int(used)} rows "
                f"(kid_subset_size = {int(first['kid_subset_size'])}: at most the "
                "smaller set)",
            )
        )
    splits = mc.get("floor_splits")
    if splits is not None:
        rows.append(("reference floor", f"{splits} random half splits" if splits else "off"))
    ex = cfg.get("explained") or {}
    if run.table("explained_fd") is not None:
        spent = _timing_sum(m, "explained", "scoring")
        total = _timing_sum(m, "total")
        rows.append(
            (
                "explained FD",
                f"on ({ex.get('n_boot', '?')} replicates, method "
                f"{ex.get('method', '?')}): scoring and explained FD took "
                f"{spent:.0f} s of the run's {total:.0f} s",
            )
        )
    else:
        rows.append(("explained FD", "off ([explained] enabled = true turns it on)"))
    return rows


def _rank_findings(page: Page) -> dict[str, Any] | None:
    run = page.run
    rankings, tau = run.table("rankings"), run.table("kendall_tau")
    if rankings is None:
        return None
    f = rank_findings(
        rankings,
        tau,
        [(s.name, s.label, s.trained) for s in _ordered_spaces(run)],
        reference_real=bool((run.manifest.get("reference") or {}).get("real", False)),
        paired=run.table("paired_differences"),
        resolutions=set_resolutions(run.manifest),
    )
    return rank_headline(f)


# ---- the report -------------------------------------------------------------------------------
def build_context(
    run: RunData,
    derived: SweepTables | None,
    ci_level: float = 0.95,
    *,
    html_dir: Path | None = None,
    settings: Mapping[str, Any] | None = None,
    command: Sequence[str] | None = None,
    maps: tuple[pd.DataFrame | None, str | None] | None = None,
) -> dict[str, Any]:
    """Everything the template shows. `html_dir`: the folder the HTML goes to (download links
    are relative to it; default the run directory); `settings`/`command`: the report's own
    settings and command line, for the provenance; `maps`: a rank run's embedding maps and
    why there are none (a sweep's come with `derived`)."""
    page = Page(run, Path(html_dir) if html_dir is not None else run.root, ci_level)
    spaces = _ordered_spaces(run)
    notes = list(derived.notes) if derived else []
    reference = ((run.manifest.get("config") or {}).get("region") or {}).get("reference")
    attributes = (
        [_attribute(page, k, derived, reference) for k in run.interventions()]
        if derived is not None
        else []
    )
    titles = {a["key"]: a["title"].split(" (")[0] for a in attributes}  # short, for the box
    findings = _sweep_findings(page, derived, reference, titles) if derived is not None else None
    reactions = _reactions(page, derived) if derived is not None else None
    strength = (
        strength_section(
            derived.strength,
            lambda names: _ordered_spaces(run, names),
            page.styles,
            ci_level,
            page.downloads.links(f"{REPORT_TABLES}/strength"),
        )
        if derived is not None
        else None
    )
    region = _region(page, derived) if derived is not None else None
    probes = (
        probes_section(
            run,
            derived,
            lambda names: _ordered_spaces(run, names),
            page.downloads.links,
            REPORT_TABLES,
        )
        if derived is not None
        else None
    )
    attention = attention_section(run, page.images) if run.kind == "sweep" else None
    if attention:
        attention["links"] = page.downloads.links("report_tables/attention", "attention/index.json")
    if derived is not None:
        missing = next((n for n in derived.notes if n.startswith(MAPS_WHAT)), None)
        if derived.maps is None and missing is None:
            missing = f"{MAPS_WHAT} are off (--maps none)"
        maps = (derived.maps, missing)
    map_frame, map_missing = maps if maps is not None else (None, None)
    embedding = maps_section(
        run,
        map_frame,
        map_missing,
        derived.face_neighbours if derived is not None else None,
        lambda names: _ordered_spaces(run, names),
        page.styles,
        page.images,
    )
    if embedding:
        embedding["links"] = page.downloads.links(
            f"{REPORT_TABLES}/maps", f"{REPORT_TABLES}/face_neighbours"
        )
    rank = _rank(page) if run.kind == "rank" else None
    if rank:
        findings = _rank_findings(page)
    explained = explained_section(run) if rank else None
    if explained:
        explained["links"] = page.downloads.links("tables/explained_fd")
        explained["prevalence_links"] = page.downloads.links("tables/prevalence")
    claims = (
        claims_section(derived.claims, page.downloads.links, REPORT_TABLES)
        if derived is not None
        else None
    )
    toc = [{"id": "findings", "title": "findings"}]
    if claims:
        toc.append({"id": "claims", "title": "reference-study findings"})
    if run.kind == "sweep":
        toc.append({"id": "design", "title": "design"})
    toc += [{"id": a["anchor"], "title": a["title"]} for a in attributes]
    if reactions:
        toc.append({"id": "summary", "title": "cross-space summary"})
    if strength:
        toc.append({"id": "strength", "title": "dose-response over strength"})
    if probes:
        toc.append({"id": "probes", "title": "readable vs moves FD"})
    if region:
        toc.append({"id": "regions", "title": "regions"})
    if attention:
        toc.append({"id": "attention", "title": "where FD looks"})
    if rank:
        toc += [{"id": "reference", "title": "reference"}, {"id": "ranking", "title": "rankings"}]
        if rank["paired"]:
            toc.append({"id": "paired", "title": "paired differences"})
        toc += [
            {"id": "agreement", "title": "Kendall τ"},
            {"id": "stability", "title": "stability"},
        ]
    if explained:
        toc.append({"id": "explained", "title": "explained FD"})
    if embedding:
        toc.append({"id": "maps", "title": "maps and nearest faces"})
    toc.append({"id": "provenance", "title": "provenance"})
    m = run.manifest
    kind = "Generator ranking" if run.kind == "rank" else "Counterfactual sweep"
    context = {
        "title": f"{kind}: {m.get('name', run.root.name)}",
        "subtitle": f"run directory {run.root.name} · status {m.get('status', '?')}",
        "description": (m.get("config") or {}).get("description", ""),
        "question": (
            "Which trained feature spaces' Fréchet distance reacts most and least when "
            "one attribute of the faces changes?"
            if run.kind == "sweep"
            else "How do the generators rank against the reference, and do the feature "
            "spaces agree?"
        ),
        "spaces": spaces,
        "colors": {s.name: page.color(s.name) for s in spaces},
        "any_untrained": any(not s.trained for s in spaces),
        "toc": toc,
        "notes": notes,
        "findings": findings,
        "claims": claims,
        "design": _design(page) if run.kind == "sweep" else None,
        "attributes": attributes,
        "reactions": reactions,
        "strength": strength,
        "probes": probes,
        "region": region,
        "rank": rank,
        "attention": attention,
        "explained": explained,
        "maps": embedding,
        "ci_level": page.ci_label,
        "provenance": provenance(
            run, dict(rank_settings(run)) if rank else (settings or {}), command
        ),
    }
    context["provenance"]["links"] = page.downloads.links("manifest.json")
    context["provenance"]["table_links"] = {
        name: page.downloads.href(run.root / "tables" / name)
        for name, _ in context["provenance"]["tables"]
    }
    context["pictures"] = page.images.pictures()  # after every section added its strips
    return context


def write_report_tables(root: Path, derived: SweepTables) -> list[Path]:
    """The derived tables as CSV and JSON in RUN_DIR/report_tables."""
    out: list[Path] = []
    for name, frame in derived.frames().items():
        out += write_table(frame, RunDir(root).report_tables / name, formats=("csv", "json"))
    return out


def build_report(
    run_dir: str | Path,
    out: str | Path | None = None,
    *,
    n_boot: int = 2000,
    permutations: int = 0,
    seed: int = 0,
    log: Log = print,
    command: Sequence[str] | None = None,
    distances: Sequence[str] = DEFAULT_DISTANCES,
    claims_files: Sequence[str | Path] = (),
    maps: str | None = DEFAULT_METHOD,
) -> Path:
    """Write the report of a run directory; returns the HTML path (default RUN_DIR/report.html).
    `command`: the command line that asked for it (recorded in the provenance); `distances`:
    the distances of the effects tables (`counterfactual.analysis.distances`, FD always);
    `claims_files`: claims files tested besides the built-in reference-study claims;
    `maps`: the embedding maps' method (`analysis.embedding.EMBEDDERS`; None: no maps),
    seeded with `seed`."""
    if maps is not None:
        maps = check_method(maps)
    run = load_run(run_dir)
    derived = None
    rank_map = None
    if run.kind == "sweep":
        derived = sweep_tables(
            run,
            n_boot=n_boot,
            seed=seed,
            permutations=permutations,
            distances=distances,
            claims_files=claims_files,
            maps=maps,
        )
        write_report_tables(run.root, derived)
        for note in derived.notes:
            log(f"note: {note}")
    elif maps is None:
        rank_map = (None, f"{MAPS_WHAT} are off (--maps none)")
    else:
        try:
            frame = rank_maps(run, maps, seed)
            write_table(frame, RunDir(run.root).report_tables / "maps", formats=("csv", "json"))
            rank_map = (frame, None)
        except (ValueError, RuntimeError, FileNotFoundError) as exc:
            rank_map = (None, f"{MAPS_WHAT} not available: {exc}")
            log(f"note: {rank_map[1]}")
    path = Path(out) if out is not None else run.root / REPORT_FILE
    settings = (
        {"n_boot": n_boot, "permutations": permutations, "seed": seed, "ci": 0.95}
        if run.kind == "sweep"
        else {}
    )
    if settings:
        settings["maps"] = maps or "off"
    if settings and tuple(distances) != DEFAULT_DISTANCES:
        settings["distances"] = ", ".join(
            check_distances(distances)
        )  # a rank report computes nothing of its own
    html = render(
        build_context(
            run,
            derived,
            html_dir=path.parent,
            settings=settings,
            command=command,
            maps=rank_map,
        )
    )
    write_text(path, html)
    return path


__all__ = ["build_report", "build_context", "write_report_tables", "REPORT_FILE", "REPORT_TABLES"]
