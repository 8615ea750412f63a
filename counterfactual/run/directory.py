"""The run directory (sweep or rank): its layout, manifest and task markers, in one place.

    RUN_DIR/manifest.json           config, seeds, versions, weight hashes, spaces, timing, status
    RUN_DIR/features/               extractors.runtime.cache.FeatureCache (one entry per set x space)
    RUN_DIR/features/index.json     which cache key holds which (set, space) (`FeatureIndex`)
    RUN_DIR/sets/<set>/             sample.npy (uint8 NCHW, for report grids), info.json;
                                    the sweep's base set also images.npy
    RUN_DIR/interventions/<id>/     each intervention's prepare() cache (learned directions ...)
    RUN_DIR/scores/<set>/<scorer>.npy  attribute scores per image (rank runs, explained FD)
    RUN_DIR/stats/                  per-task results (dose rows, region rows, verification, ...)
    RUN_DIR/tables/                 the engines' tables (names and columns: `counterfactual.run.schemas`)
    RUN_DIR/report_tables/          the analysis tables written next to the report
    RUN_DIR/done/                   one marker per finished task, holding the task's content key

Every file is written atomically (`counterfactual.foundation.files`), so a run killed at any moment leaves
only complete files; `RunDir.open` removes stale temps.
"""
from __future__ import annotations

import hashlib
import json
import platform
import re
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from counterfactual.config import ConfigError, SweepConfig, config_diff
from counterfactual.foundation.files import TEMP_MARK, read_json, remove_partials, write_json

MANIFEST = "manifest.json"
TABLES = "tables"
REPORT_TABLES = "report_tables"
_SLUG_RE = re.compile(r"[^A-Za-z0-9._-]+")
_VERSIONED = ("counterfactual-fd", "torch", "torchvision", "numpy", "scipy", "pandas", "pyarrow",
              "pydantic", "onnxruntime", "timm", "open_clip_torch", "insightface", "facenet-pytorch",
              "statsmodels", "scikit-learn", "opencv-python-headless", "scikit-image", "pillow",
              "matplotlib", "jinja2")


class RunConfigMismatch(ConfigError):
    """The run directory was made with a different config."""


def slug(name: str) -> str:
    """A file-name-safe, collision-free version of a set/task name ("blur:eyes" -> "blur_eyes-1a2b3c")."""
    safe = _SLUG_RE.sub("_", name).strip("_") or "x"
    if safe == name:
        return name
    return f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:6]}"


def package_versions() -> dict[str, str]:
    """Versions of Python, the platform and the packages that can change results."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    from counterfactual.version import git_commit
    commit = git_commit()
    if commit:
        out["git commit"] = commit
    return out


# ---- the run directory --------------------------------------------------------------
class RunDir:
    """One sweep's output folder (see the module docstring for the layout)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # paths
    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    @property
    def features(self) -> Path:
        return self.root / "features"

    @property
    def tables(self) -> Path:
        return self.root / TABLES

    @property
    def report_tables(self) -> Path:
        return self.root / REPORT_TABLES

    @property
    def feature_index_path(self) -> Path:
        return self.features / "index.json"

    def set_dir(self, set_name: str) -> Path:
        return self.root / "sets" / slug(set_name)

    def sample_path(self, set_name: str) -> Path:
        """The saved sample images of a set (uint8 NCHW, for report grids)."""
        return self.set_dir(set_name) / "sample.npy"

    def set_info_path(self, set_name: str) -> Path:
        return self.set_dir(set_name) / "info.json"

    def images_path(self, set_name: str) -> Path:
        """A set's full images (kept for the sweep's base set only)."""
        return self.set_dir(set_name) / "images.npy"

    def scores_path(self, set_name: str, scorer: str) -> Path:
        """A scorer's per-image scores of a set (rank runs with explained FD)."""
        return self.root / "scores" / slug(set_name) / f"{slug(scorer)}.npy"

    def table_path(self, name: str, ext: str) -> Path:
        return self.tables / f"{name}.{ext}"

    def intervention_dir(self, key: str) -> Path:
        return self.root / "interventions" / slug(key)

    def stats_path(self, task_id: str) -> Path:
        return self.root / "stats" / f"{slug(task_id.replace('/', '__'))}.json"

    def _marker(self, task_id: str) -> Path:
        return self.root / "done" / f"{slug(task_id.replace('/', '__'))}.json"

    # task markers
    def is_done(self, task_id: str, key: str) -> bool:
        """True when the task finished with exactly this content key."""
        path = self._marker(task_id)
        try:
            return read_json(path).get("key") == key
        except (FileNotFoundError, json.JSONDecodeError):
            return False

    def mark_done(self, task_id: str, key: str, **info: Any) -> None:
        # No fsync: a marker lost to a power cut (or left empty) only means the task reruns.
        write_json(self._marker(task_id), {"task": task_id, "key": key, "finished": time.time(), **info},
                   sync=False)

    # manifest
    def read_manifest(self) -> dict[str, Any] | None:
        try:
            return read_json(self.manifest_path)
        except FileNotFoundError:
            return None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"corrupt manifest {self.manifest_path}: {exc}") from None

    def is_complete(self, config: SweepConfig) -> bool:
        """A finished run of this very config (results-wise) with all its tables present."""
        manifest = self.read_manifest()
        if not manifest or manifest.get("status") != "complete":
            return False
        if manifest.get("config_identity") != config.identity():
            return False
        return all((self.tables / name).exists() for name in manifest.get("tables", []))

    def open(self, config: SweepConfig, force: bool = False) -> dict[str, Any]:
        """Create or reopen the run for `config`; refuse a different config unless `force`."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.remove_partials()
        manifest = self.read_manifest()
        identity = config.identity()
        if manifest is not None and manifest.get("config_identity") != identity and not force:
            changes = config_diff(manifest.get("config_identity", {}), identity)
            listed = "\n  ".join(changes[:20]) + ("\n  ..." if len(changes) > 20 else "")
            raise RunConfigMismatch(
                f"{self.root} holds a run of a different config; changed keys:\n  {listed}\n"
                "Use --force to run the new config here (finished tasks whose inputs did not "
                "change are kept), or choose another --out.")
        manifest = manifest if manifest is not None and not force else {}
        manifest.update({
            "format": 1, "name": config.name, "status": "running",
            "config": config.model_dump(mode="json"), "config_identity": identity,
            "seeds": config.seed_list, "versions": package_versions(),
            "created": manifest.get("created", time.time()), "updated": time.time(),
        })
        write_json(self.manifest_path, manifest)
        return manifest

    def update_manifest(self, **fields: Any) -> dict[str, Any]:
        manifest = self.read_manifest() or {}
        manifest.update(fields)
        manifest["updated"] = time.time()
        write_json(self.manifest_path, manifest)
        return manifest

    def remove_partials(self) -> int:
        """Delete the temp files (`TEMP_MARK`...) a killed run left behind."""
        return remove_partials(self.root)
