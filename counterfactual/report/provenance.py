"""The provenance section: how to reproduce the run and the report.

Command lines, the report's own settings, the config as TOML (the format the tool reads),
package versions of the run and of the report build, every weight file's sha256 recorded in
the manifest (generator, feature spaces, face detector, scorer networks, learned directions),
the code version (and git commit when run from a checkout) and the run's table checksums.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from counterfactual.run.directory import package_versions
from counterfactual.run.reader import RunData
from counterfactual.toml_writer import to_toml
from counterfactual.version import version_string


def _when(ts: Any) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(ts)))
    except (TypeError, ValueError):
        return "–"


def weight_hashes(manifest: Mapping[str, Any]) -> list[dict[str, str]]:
    """Every distinct weight file sha256 the manifest records, as (what, name, sha256) in
    order of first mention; a scorer using a file already listed (a space's network) is noted
    on that file's row."""
    out: list[dict[str, str]] = []
    rows: dict[str, dict[str, str]] = {}

    def add(what: str, name: Any, sha: Any) -> None:
        if not isinstance(sha, str) or not sha:
            return
        if sha not in rows:
            rows[sha] = {"what": what, "name": str(name), "sha256": sha}
            out.append(rows[sha])
        elif what == "scorer network" and str(name) not in rows[sha]["name"]:
            rows[sha]["name"] += f"; also the {name}"

    def visit(obj: Any, what: str, context: str) -> None:
        if isinstance(obj, Mapping):
            if "network" in obj and "score" in obj:  # a scorer's description
                add(
                    "scorer network",
                    f"{obj.get('name', context)} scorer "
                    f"({(obj.get('network') or {}).get('name', '?')})",
                    (obj.get("network") or {}).get("weights_sha256"),
                )
            if "weights_sha256" in obj:
                add(what, obj.get("name") or obj.get("spec") or context, obj["weights_sha256"])
            if "detector" in obj and "sha256" in obj:
                add("face detector", obj["detector"], obj["sha256"])
            if "file_sha256" in obj:
                add(
                    "learned direction file",
                    f"{context}: {obj.get('path', '')}",
                    obj["file_sha256"],
                )
            for v in obj.values():
                visit(v, what, context)
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                visit(v, what, context)

    visit(manifest.get("generator"), "generator", "generator")
    for entry in manifest.get("spaces") or []:
        add(
            "feature space",
            entry.get("label") or entry.get("name", "?"),
            entry.get("weights_sha256"),
        )
        visit(entry, "feature space", entry.get("name", "?"))
    for key, desc in (
        manifest.get("interventions_prepared") or manifest.get("interventions") or {}
    ).items():
        visit(desc, "intervention", key)
    for key, info in (manifest.get("sets") or {}).items():
        visit(info, "generator", key)
    recorded = {row["name"] for row in out}
    for name, sha in (manifest.get("weights") or {}).items():
        if name not in recorded:
            add("weights", name, sha)
    return out


def _scorers_without_hash(
    manifest: Mapping[str, Any], rows: Sequence[Mapping[str, str]]
) -> list[str]:
    scorers = ((manifest.get("config") or {}).get("verification") or {}).get("scorers") or []
    named = " ".join(r["name"] for r in rows)
    return [s for s in scorers if f"{s} scorer" not in named]


def _interventions(manifest: Mapping[str, Any]) -> list[dict[str, str]]:
    """Each intervention's description, the prepared one (learned direction, calibrated
    strength, direction sha256) where the sweep recorded it."""
    described = manifest.get("interventions") or {}
    prepared = manifest.get("interventions_prepared") or {}
    return [
        {"name": k, "text": json.dumps(prepared.get(k, v), sort_keys=True)}
        for k, v in described.items()
    ]


def provenance(
    run: RunData, settings: Mapping[str, Any], command: Sequence[str] | None
) -> dict[str, Any]:
    """Template context of the provenance section."""
    m = run.manifest
    seeds = m.get("seeds") or []
    timing = m.get("timing") or {}
    run_rows = [
        ("name", m.get("name", "")),
        ("kind", run.kind),
        ("status", m.get("status", "?")),
        ("run directory", str(run.root.resolve())),
        ("created", _when(m.get("created"))),
        ("updated", _when(m.get("updated"))),
        ("seeds", f"{len(seeds)} ({seeds[0]} … {seeds[-1]})" if seeds else "–"),
        ("total time", f"{timing['total']:.1f} s" if "total" in timing else "–"),
    ]
    if "work" in m:
        run_rows.append(("work", json.dumps(m["work"])))
    if m.get("command"):
        run_rows.append(
            (
                "run command",
                " ".join(m["command"]) if isinstance(m["command"], list) else str(m["command"]),
            )
        )
    # a sweep report computes its own statistics (its settings); a rank report only shows the
    # rank run's, so `settings` are then the rank settings
    settings_row = (
        ("rank settings", "; ".join(f"{k}: {v}" for k, v in settings.items()))
        if run.kind == "rank"
        else ("report settings", ", ".join(f"{k} = {v}" for k, v in settings.items()))
    )
    report_rows = [
        ("report command", " ".join(command) if command else "build_report() (Python API)"),
        settings_row,
        ("report built", time.strftime("%Y-%m-%d %H:%M:%S")),
        ("report code", version_string()),
    ]
    spaces = []
    for entry in m.get("spaces") or [{"name": s.name} for s in run.spaces.values()]:
        desc = entry.get("description") or {}
        spaces.append(
            {
                "space": run.space(entry["name"]),
                "dim": desc.get("dim", "–"),
                "sha": entry.get("weights_sha256"),
                "preprocessing": json.dumps(desc.get("preprocessing", {}), sort_keys=True),
            }
        )
    generators = []
    if "generator" in m:
        generators.append({"name": "generator", "text": json.dumps(m["generator"], sort_keys=True)})
    for set_id, info in (m.get("sets") or {}).items():
        generators.append({"name": set_id, "text": json.dumps(info, sort_keys=True)})
    run_versions = m.get("versions") or {}
    now = package_versions()
    versions = [
        {"name": k, "run": run_versions.get(k, "–"), "report": now.get(k, "–")}
        for k in dict.fromkeys([*run_versions, *now])
    ]
    weights = weight_hashes(m)
    config = m.get("config", {})
    try:
        config_text, config_format = to_toml(config), "TOML"
    except TypeError:
        config_text, config_format = json.dumps(config, indent=2), "JSON"
    return {
        "run": run_rows,
        "report": report_rows,
        "spaces": spaces,
        "generators": generators,
        "interventions": _interventions(m),
        "versions": versions,
        "weights": weights,
        "weights_missing": _scorers_without_hash(m, weights),
        "tables": run.table_files(),
        "config": config_text,
        "config_format": config_format,
        "run_hint": f"counterfactual {run.kind or 'sweep'} CONFIG --out RUN_DIR",
    }
