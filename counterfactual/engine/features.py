"""`FeatureEngine`: what the sweep and rank executors share: their parts, timer and work
counters, image sets extracted into every feature space through the run's feature cache, the
feature index, and the run's finish (timing history and the completed manifest)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from counterfactual.engine import components as _components
from counterfactual.engine.extract import extract_features
from counterfactual.engine.timer import Timer
from counterfactual.run.directory import RunDir
from counterfactual.run.features import FeatureIndex

Log = Callable[[str], None]


def cache_holds(cache: Any, key: str) -> bool:
    """True when the feature cache holds the entry intact (checksum verified when it can)."""
    verify = getattr(cache, "verify", None)
    return bool(verify(key)) if verify is not None else key in cache


def log_skipped(log: Log, label: str, generator: Any) -> None:
    """Name every file a sample folder left out (skip_bad), with its reason."""
    skipped = list(getattr(generator, "skipped", None) or [])
    if not skipped:
        return
    reasons = getattr(generator, "skip_reasons", {}) or {}
    log(
        f"note: {label} {generator.spec}: skipped {len(skipped)} file(s) (recorded in the "
        "manifest):"
    )
    for name in skipped:
        log(f"  {name}: {reasons.get(name, 'skipped')}")


class FeatureEngine:
    """What the sweep and rank engines share: their parts, timer and work counters, and image
    sets extracted into every feature space through the run's feature cache.

    Subclasses load `self.extractors` (space name -> extractor) and `self.cache` in their
    setup, and say what identifies a set's images (`set_identity`)."""

    rerun_hint = "re-run"  # how to recover from features missing from the cache
    check_finite = True  # refuse NaN/inf features

    def __init__(
        self,
        config: Any,
        run_dir: RunDir,
        *,
        progress: bool = True,
        components: _components.Components | None = None,
        log: Log = print,
    ) -> None:
        self.config = config
        self.rd = run_dir
        self.progress = progress
        self.comps = components or _components.Components()
        self.log = log
        self.timer = Timer()
        self.work: dict[str, int] = defaultdict(int)
        self.extractors: dict[str, Any] = {}
        self.cache: Any = None
        self._features: dict[tuple[str, str], np.ndarray] = {}

    def set_identity(self, set_name: str) -> dict[str, Any]:
        """Everything that determines a set's images (the feature-cache key input)."""
        raise NotImplementedError

    def load_extractors(self) -> dict[str, Any]:
        """Every configured feature space, keyed by its config name."""
        return {
            s.name: self.comps.load_extractor(s, self.config.device) for s in self.config.spaces
        }

    def space_entries(self) -> list[dict[str, Any]]:
        """The manifest's description of each feature space; random-weight ones are noted."""
        spaces = [
            {
                "name": n,
                "label": e.label,
                "trained": bool(e.trained),
                "weights_sha256": e.weights_sha256,
                "description": e.describe(),
            }
            for n, e in self.extractors.items()
        ]
        for entry in spaces:
            if not entry["trained"]:
                self.log(f"note: feature space {entry['label']} uses random weights")
        return spaces

    def feature_key(self, set_name: str, space: str) -> str:
        return self.comps.feature_key(
            self.set_identity(set_name), self.extractors[space].describe()
        )

    def record_feature_index(self, set_names: list[str]) -> None:
        """Write RUN_DIR/features/index.json: the cache key of every (set, space), so readers
        of the run find its features without rebuilding a plan or a key."""
        FeatureIndex(self.rd).record(
            {
                (s, sp): {
                    "key": self.feature_key(s, sp),
                    "label": e.label,
                    "trained": bool(e.trained),
                }
                for s in set_names
                for sp, e in self.extractors.items()
            }
        )

    def features(self, set_name: str, space: str) -> np.ndarray:
        """Cached features of a set in a space (kept in memory while statistics need them)."""
        key = (set_name, space)
        if key not in self._features:
            feats = self.cache.get(self.feature_key(set_name, space))
            if feats is None:
                raise RuntimeError(
                    f"features of set {set_name!r} in space {space!r} are missing "
                    f"from {self.rd.features} (deleted or damaged meanwhile); "
                    f"{self.rerun_hint}"
                )
            self._features[key] = np.asarray(feats)
        return self._features[key]

    def extract_set(self, set_name: str, space: str, images: torch.Tensor) -> np.ndarray:
        """Extract a set's images into one space and cache the features."""
        extractor = self.extractors[space]
        with self.timer("extraction"):
            feats = extract_features(
                extractor,
                images,
                progress=self.progress,
                desc=f"{extractor.label} <- {set_name}",
                name=space,
                check_finite=self.check_finite,
            )
        self.work["feature_passes"] += len(images)
        return self.store_features(set_name, space, feats)

    def store_features(self, set_name: str, space: str, feats: np.ndarray) -> np.ndarray:
        """Cache a set's features in one space (one atomic entry)."""
        extractor = self.extractors[space]
        self.cache.put(
            self.feature_key(set_name, space),
            feats,
            {
                "set": set_name,
                "space": space,
                "label": extractor.label,
                "trained": bool(extractor.trained),
                "n": len(feats),
            },
        )
        return feats

    def finish_run(self, written: list[str]) -> dict[str, Any]:
        """Complete the manifest: the tables `written`, this invocation's timing (appended to
        `timing_history`) and work counters; returns the timing."""
        timing = self.timer.summary()
        manifest = self.rd.read_manifest() or {}
        history = list(manifest.get("timing_history", [])) + [timing]
        self.rd.finish(written, timing=timing, timing_history=history, work=dict(self.work))
        return timing
