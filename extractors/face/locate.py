"""Face location for the face feature spaces, through the shared face analysis
(`extractors.face.analysis`, so an image seen by several spaces and scorers is detected once):
`FaceLocator` (five landmarks per image, with counts of no-face fallbacks), the
`FaceSpaceStats` mixin that reports those counts, and `detect_faces` with the default detector.
The detector, landmark network and the no-face fallback are `extractors.face.detect`."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from extractors.face.analysis import shared_analyzer
from extractors.face.detect import (
    ALIGNMENTS,
    DEFAULT_DET_SIZE,
    DEFAULT_DET_THRESH,
    FaceDetections,
)


class FaceLocator:
    """Five landmarks per image for the face feature spaces, with counts of fallbacks.

    alignment="detect": SCRFD, canonical landmarks where no face is found (module doc).
    alignment="fixed": no detector; every image gets the canonical landmarks (for already
    aligned generator output: no detector jitter, nothing counted as a fallback).
    Detection goes through the shared face analysis (`extractors.face.analysis`), so an image
    seen by several spaces and scorers is detected once.
    `counts` accumulates images / faces found / fallbacks until `reset_counts()`.
    """

    def __init__(
        self,
        alignment: str = "detect",
        weights: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        det_size: int = DEFAULT_DET_SIZE,
        det_thresh: float = DEFAULT_DET_THRESH,
    ) -> None:
        if alignment not in ALIGNMENTS:
            raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
        self.alignment = alignment
        self.analyzer = shared_analyzer(alignment, weights, device, det_size, det_thresh)
        self.detector = self.analyzer.detector
        self.reset_counts()

    def reset_counts(self) -> None:
        self.counts = {"images": 0, "faces_found": 0, "fallback": 0}

    def describe(self) -> dict[str, Any]:
        return self.analyzer.describe()

    def __call__(self, images: torch.Tensor | np.ndarray) -> FaceDetections:
        if len(images.shape) != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images [N, 3, H, W], got {list(images.shape)}")
        dets = self.analyzer(images).detections
        self.counts["images"] += len(dets)
        self.counts["faces_found"] += int(dets.found.sum())
        if self.detector is not None:
            self.counts["fallback"] += dets.n_fallback
        return dets


class FaceSpaceStats:
    """Mixin for face feature spaces: per-call (`last_stats`) and lifetime (`stats`) counts
    of images, faces found and no-face fallbacks, read from the space's `locator`."""

    locator: FaceLocator

    def _init_stats(self) -> None:
        self.stats = {"images": 0, "faces_found": 0, "fallback": 0}
        self.last_stats = dict(self.stats)

    def _count(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        self.locator.reset_counts()
        out = call(*args, **kwargs)
        self.last_stats = dict(self.locator.counts)
        for key, value in self.last_stats.items():
            self.stats[key] += value
        return out


def detect_faces(images: torch.Tensor | np.ndarray) -> FaceDetections:
    """Best face per image with the default detector (det_size 160, threshold 0.5), through
    the shared face analysis (cached by image content)."""
    return shared_analyzer()(images).detections


__all__ = ["FaceLocator", "FaceSpaceStats", "detect_faces"]
