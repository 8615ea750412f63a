"""The run directory: manifest, cached features, image samples, tables, task markers.

    RUN_DIR/manifest.json        config, seeds, versions, weight hashes, spaces, timing, status
    RUN_DIR/features/            extractors.runtime.cache.FeatureCache (one entry per set x space)
    RUN_DIR/sets/<set>/          sample.npy (uint8 NCHW, for report grids); base: images.npy
    RUN_DIR/interventions/<id>/  each intervention's prepare() cache (learned directions ...)
    RUN_DIR/stats/               per-task results (dose rows, region rows, verification)
    RUN_DIR/tables/              dose_response.{csv,parquet,json}, region.{csv,json},
                                 verification.json, dose_summary.{csv,json}
    RUN_DIR/done/                one marker per finished task, holding the task's content key

Every file is written atomically (a hidden temp file in the same folder, then os.replace), so
a run killed at any moment leaves only complete files; `RunDir.open` removes stale temps.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import re
import sys
import time
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np

from counterfactual.config import ConfigError, SweepConfig, config_diff

TEMP_MARK = ".partial-"
MANIFEST = "manifest.json"
TABLES = "tables"
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


def content_hash(obj: Any) -> str:
    """sha256 of the canonical JSON of obj (keys sorted)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# ---- atomic writes ------------------------------------------------------------------
def _atomic(path: Path, write: Callable[[Any], None], mode: str = "wb", sync: bool = True) -> Path:
    """Write through a temp file in the same folder, then os.replace (atomic on POSIX)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TEMP_MARK}{path.name}.{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, mode) as fh:
            write(fh)
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_bytes(path: Path, data: bytes, sync: bool = True) -> Path:
    return _atomic(path, lambda fh: fh.write(data), sync=sync)


def write_text(path: Path, text: str, sync: bool = True) -> Path:
    return write_bytes(path, text.encode("utf-8"), sync=sync)


def write_json(path: Path, obj: Any, sync: bool = True) -> Path:
    text = json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n"
    return write_text(path, text, sync=sync)


def save_npy(path: Path, array: np.ndarray) -> Path:
    return _atomic(path, lambda fh: np.save(fh, np.ascontiguousarray(array), allow_pickle=False))


def write_table(frame: Any, stem: Path, formats: tuple[str, ...] = ("csv", "parquet", "json")) -> list[Path]:
    """A pandas DataFrame as stem.csv / stem.parquet / stem.json (records), each atomically."""
    out = []
    for fmt in formats:
        path = Path(f"{stem}.{fmt}")
        if fmt == "csv":
            out.append(write_text(path, frame.to_csv(index=False)))
        elif fmt == "json":
            out.append(write_text(path, frame.to_json(orient="records", indent=1) + "\n"))
        elif fmt == "parquet":
            buf = io.BytesIO()
            frame.to_parquet(buf, index=False)
            out.append(write_bytes(path, buf.getvalue()))
        else:
            raise ValueError(f"unknown table format {fmt!r}; allowed: csv, parquet, json")
    return out


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


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

    def set_dir(self, set_name: str) -> Path:
        return self.root / "sets" / slug(set_name)

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
        """Delete temp files a killed run left behind: ours (".partial-*") and the feature
        cache's (".<name>.<random>.tmp", see extractors.runtime.cache)."""
        found = [p for p in self.root.rglob(f"{TEMP_MARK}*")]
        if self.features.is_dir():
            found += [p for p in self.features.rglob(".*.tmp")]
        removed = 0
        for path in found:
            if path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
        return removed
