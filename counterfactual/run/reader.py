"""Reading a finished run directory (sweep or rank) for analysis and the report.

`load_run` reads the manifest, every table named in `counterfactual.run.schemas` and the
verification results; paths come from `RunDir` (the layout is defined there only), features
from the run's `FeatureIndex`.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from counterfactual.foundation.hashing import sha256_bytes
from counterfactual.run.directory import RunDir, RunDirError
from counterfactual.run.features import FeatureIndex
from counterfactual.run.lock import describe_holder, writer_of
from counterfactual.run.schemas import ALL_TABLES, VERIFICATION_FILE
from counterfactual.run.tables import as_bool, read_table


@dataclass(frozen=True)
class Space:
    """A feature space as the report shows it (untrained ones carry a badge everywhere)."""

    name: str
    label: str
    trained: bool


@dataclass
class RunData:
    """Everything the report reads from one run directory."""

    root: Path
    manifest: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    verification: dict[str, Any]
    spaces: dict[str, Space] = field(default_factory=dict)

    @property
    def dir(self) -> RunDir:
        return RunDir(self.root)

    @property
    def feature_index(self) -> FeatureIndex:
        """Which cached features hold which (set, space) (written by the engines)."""
        return FeatureIndex(self.dir)

    @property
    def kind(self) -> str:
        """ "rank" or "sweep"."""
        if self.manifest.get("kind") == "rank" or "rank_metrics" in self.tables:
            return "rank"
        return "sweep"

    def table(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)

    def space(self, name: str) -> Space:
        return self.spaces.get(name) or Space(name, name, True)

    def sample(self, set_name: str) -> np.ndarray | None:
        """The saved sample images of a set (uint8 NCHW), or None."""
        path = self.dir.sample_path(set_name)
        if not path.is_file():
            return None
        try:
            arr: np.ndarray = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:  # damaged: the grid is left out
            warnings.warn(
                f"{path}: unreadable sample images ({exc}); its grid is left out", stacklevel=2
            )
            return None
        if arr.dtype != np.uint8 or arr.ndim != 4:
            raise ValueError(f"{path}: expected uint8 NCHW images, got {arr.dtype} {arr.shape}")
        return arr

    def scores(self, set_name: str) -> dict[str, np.ndarray]:
        """Per-image scores of a set by scorer (RUN_DIR/scores/<set>/<scorer>.npy: the sweep
        keeps the base set's verification scores, rank runs every set's), float64; a file
        whose checksum (in its task marker) fails is warned about and left out."""
        rd = self.dir
        folder = rd.scores_path(set_name, "x").parent
        if not folder.is_dir():
            return {}
        out = {}
        for path in sorted(folder.glob("*.npy")):
            if not rd.files_intact(f"scores/{set_name}/{path.stem}"):
                warnings.warn(
                    f"{path}: missing from its task record or fails its checksum; left out",
                    stacklevel=2,
                )
                continue
            try:
                out[path.stem] = np.asarray(np.load(path, allow_pickle=False), dtype=np.float64)
            except (ValueError, OSError, EOFError) as exc:
                warnings.warn(f"{path}: unreadable scores ({exc}); left out", stacklevel=2)
        return out

    def interventions(self) -> list[str]:
        """Intervention keys in config order (then any others found in the tables)."""
        keys = [
            iv.get("id") or iv.get("name")
            for iv in self.manifest.get("config", {}).get("interventions", []) or []
        ]
        for name in ("dose_response",):
            df = self.tables.get(name)
            if df is not None:
                keys += list(dict.fromkeys(df["intervention"]))
        keys += list(self.verification)
        return [k for k in dict.fromkeys(keys) if k]

    def intervention_config(self, key: str) -> dict[str, Any]:
        for iv in self.manifest.get("config", {}).get("interventions", []) or []:
            if (iv.get("id") or iv.get("name")) == key:
                return cast(dict[str, Any], iv)
        return {"name": key}

    def table_files(self) -> list[tuple[str, str]]:
        """(file name, sha256) of every file under tables/."""
        folder = self.dir.tables
        if not folder.is_dir():
            return []
        return [
            (p.name, sha256_bytes(p.read_bytes()))
            for p in sorted(folder.iterdir())
            if p.is_file() and not p.name.startswith(".")
        ]


def _spaces(manifest: dict[str, Any], tables: dict[str, pd.DataFrame]) -> dict[str, Space]:
    out: dict[str, Space] = {}
    for entry in manifest.get("spaces", []) or []:
        trained = bool(entry.get("trained", True))
        out[entry["name"]] = Space(entry["name"], entry.get("label") or entry["name"], trained)
    for df in tables.values():
        if {"space", "trained"} <= set(df.columns):
            for row in (
                df[["space", *(["space_label"] if "space_label" in df else []), "trained"]]
                .drop_duplicates("space")
                .itertuples(index=False)
            ):
                if row.space not in out:
                    label = getattr(row, "space_label", row.space)
                    out[row.space] = Space(row.space, label, as_bool(row.trained))
    return out


def check_readable(rd: RunDir, manifest: dict[str, Any]) -> None:
    """RunDirError unless the run is finished, no writer holds it, and its tables are the
    ones the manifest's config wrote (their sha256 as recorded), so that a report never mixes
    tables of two configs or of a half-written run."""
    holder = writer_of(rd.root)
    if holder is not None:
        raise RunDirError(
            f"{rd.root} is being written by {describe_holder(holder)}; build the "
            "report when that run has finished"
        )
    status = manifest.get("status", "unknown")
    if status != "complete":
        raise RunDirError(
            f"{rd.root}: the run is not complete (status {status!r}), so its tables "
            "may be partial or from an earlier config; finish it (run the same "
            "command again) before building the report"
        )
    bad = rd.tables_intact(manifest)
    if bad:
        raise RunDirError(
            f"{rd.root}: tables {', '.join(bad)} are missing or not the ones this run "
            "wrote (sha256 differs from the manifest); run the same command again "
            "to rewrite them"
        )


def load_run(run_dir: str | Path) -> RunData:
    """Read the manifest, tables and verification results of a run directory."""
    root = Path(run_dir)
    rd = RunDir(root)
    if not root.is_dir():
        raise FileNotFoundError(f"run directory not found: {root}")
    manifest_path = rd.manifest_path
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{root} is not a run directory (no manifest.json); run "
            "`counterfactual sweep` or `counterfactual rank` first"
        ) from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"corrupt manifest {manifest_path}: {exc}") from None
    check_readable(rd, manifest)
    tables: dict[str, pd.DataFrame] = {}
    for name in ALL_TABLES:
        try:
            tables[name] = read_table(root, name)
        except FileNotFoundError:
            continue
    verification: dict[str, Any] = {}
    vpath = rd.tables / VERIFICATION_FILE
    if vpath.is_file():
        verification = json.loads(vpath.read_text(encoding="utf-8"))
    if not tables and not verification:
        raise FileNotFoundError(
            f"{rd.tables} holds no tables yet (status: "
            f"{manifest.get('status', 'unknown')}); finish the run first"
        )
    return RunData(root, manifest, tables, verification, _spaces(manifest, tables))
