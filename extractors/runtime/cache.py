"""A content-keyed feature cache: features of an image set in a feature space, stored once.

`feature_key(image_set_identity, extractor.describe())` is the `counterfactual.foundation.hashing.content_hash`
(sha256 of canonical JSON: sorted keys, no whitespace, NaN refused) of everything that
determines the features: the image set's identity (generator spec + weights hash + seeds + intervention, or a list of file
hashes; the caller's dict) and the extractor's name, dim, trained flag, weights sha256 and
preprocessing (its display label is derived from these and left out).

`FeatureCache(root)` stores ``<root>/<key[:2]>/<key>.npy`` plus ``<key>.json`` holding the
sha256 of the .npy bytes, shape, dtype and the caller's metadata. Writes are atomic
(`counterfactual.foundation.files`; the .json is written last, so an entry exists only
once both are complete). A corrupt or truncated entry (unreadable, or its checksum, shape or
dtype disagreeing) is warned about, deleted and reported as a miss, never used.
"""

from __future__ import annotations

import io
import json
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from counterfactual.foundation.files import write_bytes
from counterfactual.foundation.hashing import (
    canonical_json,
    content_hash,
    sha256_bytes,
    sha256_file,
)

CACHE_FORMAT_VERSION = 1
_KEY_RE = re.compile(r"^[0-9a-f]{64}$")
_EXTRACTOR_FIELDS = ("name", "dim", "trained", "weights_sha256", "preprocessing")


class CacheCorruptionWarning(UserWarning):
    """A cache entry was unreadable or failed its checksum; it was deleted."""


def feature_key(image_set_identity: dict[str, Any], extractor_description: dict[str, Any]) -> str:
    """sha256 hex of the canonical JSON of (image-set identity, extractor identity)."""
    if not isinstance(image_set_identity, dict) or not image_set_identity:
        raise ValueError(
            "image_set_identity must be a non-empty dict (generator spec, weights "
            "hash, seeds, intervention; or file hashes)"
        )
    missing = [f for f in _EXTRACTOR_FIELDS if f not in extractor_description]
    if missing:
        raise ValueError(f"extractor description lacks {missing}; pass extractor.describe()")
    payload = {
        "version": CACHE_FORMAT_VERSION,
        "images": image_set_identity,
        "extractor": {f: extractor_description[f] for f in _EXTRACTOR_FIELDS},
    }
    return content_hash(payload)


class FeatureCache:
    """Features on disk by content key (see module docstring)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _paths(self, key: str) -> tuple[Path, Path]:
        if not isinstance(key, str) or not _KEY_RE.match(key):
            raise ValueError(f"invalid cache key {key!r}: expected 64 lowercase hex digits")
        folder = self.root / key[:2]
        return folder / f"{key}.npy", folder / f"{key}.json"

    def __contains__(self, key: str) -> bool:
        return self._paths(key)[1].is_file()

    def verify(self, key: str) -> bool:
        """True when the entry exists and its .npy has the recorded sha256 (without loading
        it); a corrupt entry is warned about and deleted, as in `get`."""
        npy_path, _ = self._paths(key)
        record = self._read_record(key)
        if record is None:
            return False
        try:
            digest = sha256_file(npy_path)
        except OSError as exc:
            self._corrupt(key, f"feature file unreadable ({exc})")
            return False
        if digest != record.get("sha256"):
            self._corrupt(key, "checksum mismatch")
            return False
        return True

    def delete(self, key: str) -> None:
        """Remove an entry (metadata first, so a half-deleted entry reads as a miss)."""
        npy, meta = self._paths(key)
        meta.unlink(missing_ok=True)
        npy.unlink(missing_ok=True)

    def meta(self, key: str) -> dict[str, Any] | None:
        """The caller's metadata of an entry, or None."""
        record = self._read_record(key)
        return None if record is None else record.get("meta", {})

    def _read_record(self, key: str) -> dict[str, Any] | None:
        _, meta_path = self._paths(key)
        if not meta_path.is_file():
            return None
        try:
            return json.loads(meta_path.read_text())
        except (OSError, ValueError) as exc:
            self._corrupt(key, f"unreadable metadata ({exc})")
            return None

    def _corrupt(self, key: str, why: str) -> None:
        warnings.warn(
            f"feature cache entry {key[:16]}... in {self.root} is corrupt ({why}); "
            f"deleted, will recompute",
            CacheCorruptionWarning,
            stacklevel=3,
        )
        self.delete(key)

    def get(self, key: str) -> np.ndarray | None:
        """The cached features, or None on a miss (including a detected corrupt entry)."""
        npy_path, _ = self._paths(key)
        record = self._read_record(key)
        if record is None:
            return None
        try:
            data = npy_path.read_bytes()
        except OSError as exc:
            self._corrupt(key, f"feature file unreadable ({exc})")
            return None
        if sha256_bytes(data) != record.get("sha256"):
            self._corrupt(key, "checksum mismatch")
            return None
        try:
            features = np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            self._corrupt(key, f"not a valid .npy ({exc})")
            return None
        if list(features.shape) != record.get("shape") or str(features.dtype) != record.get(
            "dtype"
        ):
            self._corrupt(key, "shape or dtype differs from the metadata")
            return None
        return features

    def put(self, key: str, features: np.ndarray, meta: dict[str, Any] | None = None) -> Path:
        """Store features atomically; returns the .npy path."""
        npy_path, meta_path = self._paths(key)
        features = np.ascontiguousarray(np.asarray(features))
        if features.dtype == object:
            raise TypeError("features must be a numeric array")
        buf = io.BytesIO()
        np.save(buf, features, allow_pickle=False)
        data = buf.getvalue()
        record = {
            "version": CACHE_FORMAT_VERSION,
            "sha256": sha256_bytes(data),
            "shape": list(features.shape),
            "dtype": str(features.dtype),
            "meta": meta or {},
        }
        record_bytes = canonical_json(record).encode("ascii")  # fails early on bad meta
        npy_path.parent.mkdir(parents=True, exist_ok=True)
        meta_path.unlink(missing_ok=True)  # an entry being replaced is a miss meanwhile
        write_bytes(npy_path, data)
        write_bytes(meta_path, record_bytes)
        return npy_path

    def get_or_compute(
        self, key: str, compute: Callable[[], np.ndarray], meta: dict[str, Any] | None = None
    ) -> np.ndarray:
        """Cached features, or `compute()` stored under `key`."""
        cached = self.get(key)
        if cached is not None:
            return cached
        features = np.asarray(compute())
        self.put(key, features, meta)
        return features
