"""Which cached features belong to which (set, space) of a run: RUN_DIR/features/index.json.

The sweep and rank engines know each set's identity and each space's description, so they
compute every feature-cache key once and record it here (`FeatureIndex.record`). Analysis and
the report read features through the index (`FeatureIndex.load`) and never rebuild a plan or
a cache key.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from counterfactual.foundation.files import read_json, write_json
from counterfactual.run.directory import RunDir

INDEX_FORMAT = 1


class FeatureIndex:
    """The (set, space) -> feature-cache key map of one run directory."""

    def __init__(self, run_dir: RunDir) -> None:
        self.rd = run_dir

    def record(self, entries: dict[tuple[str, str], dict[str, Any]]) -> None:
        """Write the index: (set, space) -> {"key": cache key, ...any labels}."""
        rows = [{"set": s, "space": sp, **info} for (s, sp), info in entries.items()]
        write_json(self.rd.feature_index_path, {"format": INDEX_FORMAT, "entries": rows})

    def entries(self) -> dict[tuple[str, str], dict[str, Any]]:
        path = self.rd.feature_index_path
        try:
            data = read_json(path)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{path} not found: the run predates the feature index or "
                "never extracted features; re-run it"
            ) from None
        except ValueError as exc:
            raise ValueError(f"corrupt feature index {path}: {exc}") from None
        return {(e["set"], e["space"]): e for e in data.get("entries", [])}

    def key(self, set_name: str, space: str) -> str:
        entry = self.entries().get((set_name, space))
        if entry is None:
            raise KeyError(
                f"{self.rd.feature_index_path} has no features of set {set_name!r} "
                f"in space {space!r}"
            )
        return cast(str, entry["key"])

    def load(self, set_name: str, space: str) -> np.ndarray:
        """The cached features of a set in a space (FileNotFoundError when not cached)."""
        from extractors.runtime.cache import FeatureCache

        features = FeatureCache(self.rd.features).get(self.key(set_name, space))
        if features is None:
            raise FileNotFoundError(
                f"cached features of set {set_name!r} in space {space!r} are "
                f"missing from {self.rd.features}"
            )
        return features
