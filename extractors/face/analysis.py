"""One face analysis per image: detection, 5- and 106-point landmarks and parsing, run once.

Every face consumer (the ArcFace and attribute-net spaces, every scorer, the region masks)
asks `shared_analyzer(...)` for what it needs; the analyzer computes each *part* at most once
per distinct image and keeps it in a content-keyed cache (sha256 of the image's bytes and
shape, like the feature cache keys, within one analyzer configuration), so an image that is
scored, embedded and masked is detected and parsed once. Parts:

- ``detect``: SCRFD best face, five landmarks, with the canonical no-face fallback
  (`extractors.face.detect.FaceDetector`);
- ``landmarks``: the 106-point network inside the detected box (`Landmarks106`);
- ``parsing``: BiSeNet class maps at the parser's size (`extractors.face.parsing.FaceParser`).

Each image is analysed on its own, so results never depend on the batch. `PASSES` counts
network passes per part and the distinct images seen (``reset_passes()`` zeroes it); the
sweep benchmark reads it (target: one pass of each part per image). The cache holds up to
`CACHE_BYTES` of results (least recently used entries are dropped first); each entry owns
its arrays (a copy, never a view that would keep a whole batch alive). Consumers that keep
only per-image results (the scorers) analyse `CHUNK` images at a time, so a call's class maps
never scale with the number of faces.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from extractors.base import as_uint8_nchw
from extractors.face.detect import (
    DEFAULT_DET_SIZE,
    DEFAULT_DET_THRESH,
    FaceDetections,
    FaceDetector,
    Landmarks106,
    canonical_box,
    canonical_kps5,
)

PARTS = ("detect", "landmarks", "parsing")
CACHE_BYTES = 600_000_000  # ~4,000 class maps at 384 px (147 KB each)
CHUNK = 64  # images per analysis call of per-image consumers
PASSES: Counter[str] = Counter()
_SEEN: set[str] = set()
_PASSES_LOCK = threading.Lock()


def reset_passes() -> None:
    """Zero the pass counters (detector, landmarks106, parser, distinct_images)."""
    with _PASSES_LOCK:
        PASSES.clear()
        _SEEN.clear()


def _count(part: str, keys: list[str]) -> None:
    with _PASSES_LOCK:
        PASSES[part] += len(keys)
        new = set(keys) - _SEEN
        _SEEN.update(new)
        PASSES["distinct_images"] += len(new)


def image_keys(images: torch.Tensor) -> list[str]:
    """Content key of each uint8 CHW image: sha256 of its shape and bytes."""
    arr = images.contiguous().numpy()
    return [hashlib.sha256(str(img.shape).encode() + img.tobytes()).hexdigest() for img in arr]


@dataclass(frozen=True)
class FaceAnalysis:
    """The analysis of a batch: detections, 106 landmarks [N, 106, 2] (image pixels) and
    parsing class maps [N, S, S] uint8 (parser frame); parts not asked for are None."""

    detections: FaceDetections
    landmarks106: np.ndarray | None
    labels: np.ndarray | None
    image_size: tuple[int, int]  # (H, W)

    def __len__(self) -> int:
        return len(self.detections)

    @property
    def found(self) -> np.ndarray:
        return self.detections.found


class FaceAnalyzer:
    """Detection, landmarks and parsing with a per-image content cache (see module doc).

    alignment="fixed": no detector; every image gets the canonical box and landmarks
    (already aligned generator output). Parser options: `parse_size`, `parse_backend`.
    """

    def __init__(
        self,
        alignment: str = "detect",
        detector_weights: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        det_size: int = DEFAULT_DET_SIZE,
        det_thresh: float = DEFAULT_DET_THRESH,
        landmark_weights: str | None = None,
        parsing_weights: str | None = None,
        parse_size: int | None = None,
        parse_backend: str | None = None,
        cache_bytes: int = CACHE_BYTES,
    ) -> None:
        from extractors.face.detect import ALIGNMENTS

        if alignment not in ALIGNMENTS:
            raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
        self.alignment, self.device = alignment, device
        self.detector = (
            FaceDetector(detector_weights, device, det_size, det_thresh)
            if alignment == "detect"
            else None
        )
        self._landmark_weights, self._parsing_weights = landmark_weights, parsing_weights
        self._parse_options = {
            k: v for k, v in (("size", parse_size), ("backend", parse_backend)) if v is not None
        }
        self._landmarks: Landmarks106 | None = None
        self._parser: Any = None
        self._cache: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._cache_bytes, self._budget = 0, int(cache_bytes)
        self._lock = threading.RLock()

    # -- networks, built on first use ----------------------------------------------------
    @property
    def landmark_net(self) -> Landmarks106:
        if self._landmarks is None:
            self._landmarks = Landmarks106(self._landmark_weights, self.device)
        return self._landmarks

    @property
    def parser(self) -> Any:
        if self._parser is None:
            from extractors.face.parsing import FaceParser

            self._parser = FaceParser(self._parsing_weights, self.device, **self._parse_options)
        return self._parser

    def describe(self, parts: Iterable[str] = ("detect",)) -> dict[str, Any]:
        """What determines the given parts (for manifests and cache keys)."""
        parts = set(parts)
        d: dict[str, Any] = (
            {"alignment": "fixed: ArcFace 112 template scaled to the image, no detection"}
            if self.detector is None
            else {"alignment": "detect", **self.detector.describe()}
        )
        if "landmarks" in parts:
            d["landmarks106"] = {"network": "2d106det", "sha256": self.landmark_net.weights_sha256}
        if "parsing" in parts:
            d["parsing"] = self.parser.describe()
        return d

    # -- cache ---------------------------------------------------------------------------
    def _entry(self, key: str) -> dict[str, Any]:
        entry = self._cache.get(key)
        if entry is None:
            entry = self._cache[key] = {}
        self._cache.move_to_end(key)
        return entry

    def _store(self, entry: dict[str, Any], part: str, value: Any) -> None:
        entry[part] = value
        self._cache_bytes += sum(
            np.asarray(v).nbytes for v in (value if isinstance(value, tuple) else (value,))
        )
        while self._cache_bytes > self._budget and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            for v in old.values():
                self._cache_bytes -= sum(
                    np.asarray(x).nbytes for x in (v if isinstance(v, tuple) else (v,))
                )

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._cache_bytes = 0

    # -- analysis ------------------------------------------------------------------------
    def _detect(self, images: torch.Tensor, keys: list[str], entries: list[dict]) -> None:
        todo = [i for i, e in enumerate(entries) if "detect" not in e]
        if not todo:
            return
        h, w = int(images.shape[2]), int(images.shape[3])
        if self.detector is None:
            for i in todo:
                self._store(
                    entries[i],
                    "detect",
                    (canonical_box(h, w), canonical_kps5(h, w), np.float64(0.0), np.bool_(False)),
                )
            return
        dets = self.detector(images[todo])
        _count("detector", [keys[i] for i in todo])
        for j, i in enumerate(todo):
            self._store(
                entries[i],
                "detect",
                (dets.boxes[j].copy(), dets.kps5[j].copy(), dets.scores[j], dets.found[j]),
            )

    def _landmarks106(self, images: torch.Tensor, keys: list[str], entries: list[dict]) -> None:
        todo = [i for i, e in enumerate(entries) if "landmarks" not in e]
        if not todo:
            return
        boxes = np.stack([entries[i]["detect"][0] for i in todo])
        points = self.landmark_net(images[todo], boxes)
        _count("landmarks106", [keys[i] for i in todo])
        for j, i in enumerate(todo):
            self._store(entries[i], "landmarks", points[j].copy())

    def _parse(self, images: torch.Tensor, keys: list[str], entries: list[dict]) -> None:
        todo = [i for i, e in enumerate(entries) if "parsing" not in e]
        if not todo:
            return
        labels = self.parser.labels(images[todo])
        _count("parser", [keys[i] for i in todo])
        for j, i in enumerate(todo):
            self._store(entries[i], "parsing", labels[j].copy())

    def __call__(
        self, images: torch.Tensor | np.ndarray, parts: Iterable[str] = ("detect",)
    ) -> FaceAnalysis:
        """Analyse uint8 NCHW images; `parts` among PARTS ("landmarks" implies "detect")."""
        parts = set(parts)
        unknown = parts - set(PARTS)
        if unknown:
            raise ValueError(
                f"unknown analysis part(s) {sorted(unknown)}; known: {', '.join(PARTS)}"
            )
        images = as_uint8_nchw(images).cpu()
        n, _, h, w = (int(v) for v in images.shape)
        keys = image_keys(images)
        with self._lock:
            entries = [self._entry(k) for k in keys]
            self._detect(images, keys, entries)
            if "landmarks" in parts:
                self._landmarks106(images, keys, entries)
            if "parsing" in parts:
                self._parse(images, keys, entries)
            det = [e["detect"] for e in entries]
            lmk = (
                np.stack([e["landmarks"] for e in entries]) if "landmarks" in parts and n else None
            )
            labels = np.stack([e["parsing"] for e in entries]) if "parsing" in parts and n else None
        dets = FaceDetections(
            boxes=np.array([d[0] for d in det]).reshape(n, 4),
            kps5=np.array([d[1] for d in det]).reshape(n, 5, 2),
            scores=np.array([d[2] for d in det], dtype=np.float64).reshape(n),
            found=np.array([d[3] for d in det], dtype=bool).reshape(n),
        )
        if n == 0:
            lmk = np.zeros((0, 106, 2)) if "landmarks" in parts else None
            labels = np.zeros((0, 0, 0), np.uint8) if "parsing" in parts else None
        return FaceAnalysis(dets, lmk, labels, (h, w))


_SHARED: dict[tuple, FaceAnalyzer] = {}
_SHARED_LOCK = threading.Lock()


def shared_analyzer(
    alignment: str = "detect",
    detector_weights: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    det_size: int = DEFAULT_DET_SIZE,
    det_thresh: float = DEFAULT_DET_THRESH,
    **options: Any,
) -> FaceAnalyzer:
    """The process-wide analyzer for this configuration: every face consumer built with the
    same options shares its networks and its cache."""
    key = (
        alignment,
        None if detector_weights is None else os.fspath(detector_weights),
        str(device),
        int(det_size),
        float(det_thresh),
        tuple(sorted(options.items())),
    )
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = FaceAnalyzer(
                alignment, detector_weights, device, det_size, det_thresh, **options
            )
        return _SHARED[key]


__all__ = [
    "FaceAnalysis",
    "FaceAnalyzer",
    "shared_analyzer",
    "PARTS",
    "PASSES",
    "reset_passes",
    "image_keys",
    "CACHE_BYTES",
    "CHUNK",
]
