"""The run directory (sweep or rank): its layout, manifest and task markers, in one place.

    RUN_DIR/manifest.json           config, seeds, versions, weight hashes, spaces, timing, status
    RUN_DIR/features/               extractors.runtime.cache.FeatureCache (one entry per set x space)
    RUN_DIR/features/index.json     which cache key holds which (set, space) (`FeatureIndex`)
    RUN_DIR/sets/<set>/             sample.npy (uint8 NCHW, for report grids), info.json;
                                    the sweep's base set also images.npy
    RUN_DIR/interventions/<id>/     each intervention's prepare() cache (learned directions ...)
    RUN_DIR/scores/<set>/<scorer>.npy  attribute scores per image (rank runs, explained FD; the
                                    sweep keeps its base set's verification scores: probes)
    RUN_DIR/stats/                  per-task results (dose rows, region rows, verification, ...)
    RUN_DIR/tables/                 the engines' tables (names and columns: `counterfactual.run.schemas`)
    RUN_DIR/report_tables/          the analysis tables written next to the report
    RUN_DIR/attention/              FD attention maps (`counterfactual attention`): mean heat
                                    maps and mean faces (.npy), index.json
    RUN_DIR/done/                   one marker per finished task, holding the task's content key
                                    and the sha256 of every file it wrote
    RUN_DIR/shards/                 the Ray executor's finished shard results, until cached
    RUN_DIR/.lock                   the writer lock (`counterfactual.run.lock`)

Every file is written atomically (`counterfactual.foundation.files`), so a run killed at any moment (or
stopped by a full disk) leaves only complete files. One writer at a time: `RunDir` holds the
writer lock from `open` (or `with rd:`) until `release`, and only the holder removes stale
temps. Every file later results depend on is checksummed (the task markers hold the sha256 of
the files their task wrote: base images, stats, scores; the feature cache and learned
directions carry their own), verified before it is reused, and recomputed when it fails; the
manifest of a finished run holds the sha256 of each table.
"""

from __future__ import annotations

import hashlib
import platform
import re
import sys
import time
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from counterfactual.config import ConfigError, config_diff
from counterfactual.errors import UserError
from counterfactual.foundation.files import (
    read_json,
    remove_partials,
    write_bytes,
    write_json,
)
from counterfactual.foundation.hashing import sha256_file
from counterfactual.run.lock import RunLock

MANIFEST = "manifest.json"
TABLES = "tables"
REPORT_TABLES = "report_tables"
_SLUG_RE = re.compile(r"[^A-Za-z0-9._-]+")
_VERSIONED = (
    "counterfactual-fd",
    "torch",
    "torchvision",
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "pydantic",
    "onnxruntime",
    "timm",
    "open_clip_torch",
    "insightface",
    "facenet-pytorch",
    "statsmodels",
    "scikit-learn",
    "opencv-python-headless",
    "scikit-image",
    "pillow",
    "matplotlib",
    "jinja2",
)


class RunConfig(Protocol):
    """What the run directory reads of a run's config (a sweep's or a rank run's)."""

    name: str

    @property
    def seed_list(self) -> list[int]: ...

    def identity(self) -> dict[str, Any]: ...

    def model_dump(self, *, mode: str = "python") -> dict[str, Any]: ...


class RunConfigMismatch(ConfigError):
    """The run directory was made with a different config."""


class RunDirError(UserError):
    """The run directory cannot be used as it is (a file in its place, a damaged manifest,
    a run that is not complete)."""


class CorruptFileWarning(UserWarning):
    """A file of the run directory failed its checksum; what depends on it is recomputed."""


def slug(name: str) -> str:
    """A file-name-safe, collision-free version of a set/task name ("blur:eyes" -> "blur_eyes-1a2b3c");
    never "." or "..", never hidden."""
    safe = _SLUG_RE.sub("_", name).strip("_").lstrip(".") or "x"
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
        self.lock = RunLock(self.root)
        self._previous_manifest: bytes | None = None
        self._warned: set[Path] = set()

    # the writer lock
    def acquire(self) -> RunDir:
        """Take the writer lock (RunLockedError naming the holder when another process has it)."""
        for part in (self.root, *self.root.parents):
            if part.exists():
                if not part.is_dir():
                    raise RunDirError(
                        f"run directory {self.root}: {part} is a file, not a directory"
                    )
                break
        self.lock.acquire()
        return self

    def release(self) -> None:
        self.lock.release()

    def __enter__(self) -> RunDir:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    # paths
    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    @property
    def features(self) -> Path:
        return self.root / "features"

    @property
    def shards(self) -> Path:
        """Finished shard results of a distributed image phase (counterfactual.engine.shards)."""
        return self.root / "shards"

    @property
    def tables(self) -> Path:
        return self.root / TABLES

    @property
    def report_tables(self) -> Path:
        return self.root / REPORT_TABLES

    @property
    def attention(self) -> Path:
        """FD attention maps (counterfactual.attention): mean maps, mean faces, index.json."""
        return self.root / "attention"

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
        """A scorer's per-image scores of a set (rank runs with explained FD; the sweep's base set)."""
        return self.root / "scores" / slug(set_name) / f"{slug(scorer)}.npy"

    def table_path(self, name: str, ext: str) -> Path:
        return self.tables / f"{name}.{ext}"

    def intervention_dir(self, key: str) -> Path:
        return self.root / "interventions" / slug(key)

    def stats_path(self, task_id: str) -> Path:
        return self.root / "stats" / f"{slug(task_id.replace('/', '__'))}.json"

    def _marker(self, task_id: str) -> Path:
        return self.root / "done" / f"{slug(task_id.replace('/', '__'))}.json"

    # checksums
    def checksums(self, paths: Any) -> dict[str, str]:
        """{path relative to the run directory: sha256} of files in it."""
        return {Path(p).relative_to(self.root).as_posix(): sha256_file(p) for p in paths}

    def intact(self, sums: dict[str, str], what: str | None = None) -> bool:
        """True when every file of `sums` exists with its sha256; with `what` (what depends on
        them and is recomputed), a file that fails is warned about once as corrupt."""
        for rel, digest in sums.items():
            path = self.root / rel
            try:
                ok = sha256_file(path) == digest
            except OSError:
                ok = False
            if not ok:
                if what is not None and path.exists() and path not in self._warned:
                    self._warned.add(path)
                    warnings.warn(
                        f"{path} fails its checksum (corrupt or truncated); recomputing {what}",
                        CorruptFileWarning,
                        stacklevel=3,
                    )
                return False
        return True

    # task markers
    def is_done(self, task_id: str, key: str) -> bool:
        """True when the task finished with exactly this content key and every file it wrote
        still has its recorded sha256."""
        try:
            record = read_json(self._marker(task_id))
        except (FileNotFoundError, ValueError):
            return False
        if not isinstance(record, dict) or record.get("key") != key:
            return False
        return self.intact(record.get("files", {}), f"task {task_id}")

    def files_intact(self, task_id: str) -> bool:
        """True when the task has a marker and every file it wrote still has its sha256
        (whatever its key: for readers, which do not rebuild keys)."""
        try:
            record = read_json(self._marker(task_id))
        except (FileNotFoundError, ValueError):
            return False
        return isinstance(record, dict) and self.intact(record.get("files", {}))

    def mark_done(self, task_id: str, key: str, files: Any = (), **info: Any) -> None:
        """Record a finished task with the sha256 of the files it wrote (`files`)."""
        sums = self.checksums(files)
        # No fsync: a marker lost to a power cut (or left empty) only means the task reruns.
        write_json(
            self._marker(task_id),
            {
                "task": task_id,
                "key": key,
                "finished": time.time(),
                **({"files": sums} if sums else {}),
                **info,
            },
            sync=False,
        )

    # manifest
    def read_manifest(self) -> dict[str, Any] | None:
        try:
            manifest = read_json(self.manifest_path)
        except FileNotFoundError:
            return None
        except ValueError as exc:
            manifest = exc
        if not isinstance(manifest, dict):
            raise RunDirError(
                f"corrupt manifest {self.manifest_path} ({manifest}); run again with "
                "--force to start this run directory over (finished tasks whose "
                "files pass their checksums are kept)"
            )
        return manifest

    def tables_intact(self, manifest: dict[str, Any]) -> list[str]:
        """The tables a finished run's manifest lists that are missing or fail their sha256."""
        sums = manifest.get("table_sha256") or {}
        bad = [name for name in manifest.get("tables", []) if not (self.tables / name).is_file()]
        return bad + [
            name
            for name, digest in sums.items()
            if name not in bad and not self.intact({f"{TABLES}/{name}": digest})
        ]

    def is_complete(self, config: RunConfig) -> bool:
        """A finished run of this very config (results-wise) with all its tables intact."""
        manifest = self.read_manifest()
        if not manifest or manifest.get("status") != "complete":
            return False
        if manifest.get("config_identity") != config.identity():
            return False
        return not self.tables_intact(manifest)

    def open(self, config: RunConfig, force: bool = False) -> dict[str, Any]:
        """Create or reopen the run for `config` under the writer lock (taken here if not yet
        held; `release` or leaving `with rd:` gives it back); refuse a different config unless
        `force`. A damaged manifest is refused too, and replaced with `force`."""
        self.acquire()
        self.root.mkdir(parents=True, exist_ok=True)
        self.remove_partials()
        self._previous_manifest = (
            self.manifest_path.read_bytes() if self.manifest_path.exists() else None
        )
        try:
            manifest = self.read_manifest()
        except RunDirError:
            if not force:
                raise
            manifest = None
        identity = config.identity()
        if manifest is not None and manifest.get("config_identity") != identity and not force:
            changes = config_diff(manifest.get("config_identity", {}), identity)
            listed = "\n  ".join(changes[:20]) + ("\n  ..." if len(changes) > 20 else "")
            raise RunConfigMismatch(
                f"{self.root} holds a run of a different config; changed keys:\n  {listed}\n"
                "Use --force to run the new config here (finished tasks whose inputs did not "
                "change are kept), or choose another --out."
            )
        manifest = manifest if manifest is not None and not force else {}
        manifest.update(
            {
                "format": 1,
                "name": config.name,
                "status": "running",
                "config": config.model_dump(mode="json"),
                "config_identity": identity,
                "seeds": config.seed_list,
                "versions": package_versions(),
                "created": manifest.get("created", time.time()),
                "updated": time.time(),
            }
        )
        write_json(self.manifest_path, manifest)
        return manifest

    def undo_open(self) -> None:
        """Put the manifest back as `open` found it (none: no manifest), e.g. after a failed
        setup, so that a corrected config needs no --force."""
        if self._previous_manifest is None:
            self.manifest_path.unlink(missing_ok=True)
        else:
            write_bytes(self.manifest_path, self._previous_manifest)

    def update_manifest(self, **fields: Any) -> dict[str, Any]:
        manifest = self.read_manifest() or {}
        manifest.update(fields)
        manifest["updated"] = time.time()
        write_json(self.manifest_path, manifest)
        return manifest

    def finish(self, tables: list[str], **fields: Any) -> dict[str, Any]:
        """Mark the run complete with its tables and their sha256."""
        sums = {name: sha256_file(self.tables / name) for name in tables}
        return self.update_manifest(
            status="complete", tables=list(tables), table_sha256=sums, **fields
        )

    def remove_partials(self) -> int:
        """Delete the temp files killed writers left behind: ours (`TEMP_MARK`...) and other
        writers' hidden ".<name>.<random>.tmp" (older feature caches and learned directions).
        Only the holder of the writer lock may: another process's writes in progress would be
        destroyed."""
        if not self.lock.held:
            raise RuntimeError(f"remove_partials needs the writer lock of {self.root}")
        removed = remove_partials(self.root)
        for path in self.root.rglob(".*.tmp"):
            if path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
        return removed
