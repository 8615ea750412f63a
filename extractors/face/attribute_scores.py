"""Attribute scores from the face parsing and the 106 landmarks, in the parser's frame.

Pure numpy on `ParsedFaces` (class maps [N, S, S], landmarks scaled into the S x S frame,
the pixels resized into it on demand), so every score is scale-free (a face at 128 or 512 px
scores the same up to resampling) and per image (batch-invariant). Used by the scorers in
`extractors.scorers`; no weights and no torch are loaded here.

- `eyeglasses_score`: eyeglasses pixels / face pixels (skin, brows, eyes, eyeglasses, nose,
  mouth, lips), in [0, 1]; 0 without glasses.
- `smile_score`: mouth width (corner to corner, 106-point landmarks) / distance between the
  outer eye corners: a smile stretches the mouth sideways; an open mouth alone barely does.
- `ita_score`: individual typology angle ITA = atan2(L* - 50, b*) in degrees (= arctan((L* - 50)
  / b*) for b* > 0, the dermatological definition) of the mean CIELAB colour (skimage's rgb2lab: sRGB,
  D65) of the parsed skin pixels; higher is lighter (> 55 "very light", < -30 "dark" in Chardon's bins).
- `bangs_score`: hair pixels in the forehead box / the box's area: the box spans the brows'
  width and rises from the brow line by BANGS_BOX_HEIGHT face heights (eye line to chin),
  about the forehead below a usual hairline; in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from extractors.face.parsing_classes import CLASS_INDEX as _C

FACE_CLASSES = (
    "skin",
    "brow_l",
    "brow_r",
    "eye_l",
    "eye_r",
    "eyeglasses",
    "nose",
    "mouth",
    "lip_u",
    "lip_l",
)

#: 106-point indices (extractors.face.detect layout): mouth corners, outer eye corners, brows.
MOUTH_CORNERS = (52, 61)
OUTER_EYE_CORNERS = (35, 93)
BROWS = tuple(range(43, 52)) + tuple(range(97, 106))
PUPILS = (38, 88)
CHIN = 0
BANGS_BOX_HEIGHT = 0.5

EYEGLASSES_THRESHOLD = 0.02  # positives: glasses cover > 2% of the face
EYEGLASSES_NEGATIVE_MAX = 0.002  # negatives: at most stray pixels
SMILE_DOC = "mouth width (corner to corner) / outer-eye-corner distance, 106 landmarks"
BANGS_DOC = (
    f"hair pixels / area of the forehead box (brows' width, {BANGS_BOX_HEIGHT} face "
    "heights above the brow line), parser frame"
)


@dataclass(frozen=True)
class ParsedFaces:
    """Faces in the parser's S x S frame: class maps, 106 landmarks (x, y scaled into the frame)
    and the uint8 NCHW images they come from (resized into the frame by `pixels`)."""

    labels: np.ndarray  # [N, S, S] uint8
    landmarks: np.ndarray  # [N, 106, 2] float64, parser frame
    images: Any = None  # uint8 NCHW torch tensor or array, any size

    @classmethod
    def from_analysis(cls, analysis: Any, images: Any = None) -> ParsedFaces:
        """From a `FaceAnalysis` with landmarks and parsing (landmarks in image pixels)."""
        labels = np.asarray(analysis.labels)
        h, w = analysis.image_size
        scale = np.array([labels.shape[2] / w, labels.shape[1] / h])
        return cls(labels, np.asarray(analysis.landmarks106, np.float64) * scale, images)

    @property
    def size(self) -> int:
        return int(self.labels.shape[1])

    @property
    def eye_y(self) -> np.ndarray:
        return self.landmarks[:, list(PUPILS), 1].mean(axis=1)

    @property
    def height(self) -> np.ndarray:
        """Chin y - eye-line y (at least one parser pixel)."""
        return np.maximum(self.landmarks[:, CHIN, 1] - self.eye_y, 1.0)

    def pixels(self) -> np.ndarray:
        """The images resized into the frame as float64 RGB in [0, 1], [N, S, S, 3] (bilinear,
        antialiased when shrinking: as the parser sees them)."""
        if self.images is None:
            raise ValueError("these ParsedFaces carry no images")
        import torch
        import torch.nn.functional as F

        x = torch.as_tensor(self.images).float() / 255.0
        s = self.size
        if tuple(x.shape[2:]) != (s, s):
            x = F.interpolate(
                x,
                (s, s),
                mode="bilinear",
                align_corners=False,
                antialias=bool(x.shape[2] > s or x.shape[3] > s),
            )
        return x.permute(0, 2, 3, 1).double().clamp(0, 1).numpy()


def class_mask(labels: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    return np.isin(np.asarray(labels), [_C[n] for n in names])


def eyeglasses_score(labels: np.ndarray) -> np.ndarray:
    """Eyeglasses pixels / face pixels per class map [N, S, S] (0 where no face is parsed)."""
    labels = np.asarray(labels)
    glasses = (labels == _C["eyeglasses"]).sum(axis=(1, 2)).astype(np.float64)
    face = class_mask(labels, FACE_CLASSES).sum(axis=(1, 2)).astype(np.float64)
    return np.divide(glasses, face, out=np.zeros_like(glasses), where=face > 0)


def smile_score(faces: ParsedFaces) -> np.ndarray:
    """Mouth width / outer-eye-corner distance (both from the landmarks)."""
    p = faces.landmarks
    mouth = np.linalg.norm(p[:, MOUTH_CORNERS[0]] - p[:, MOUTH_CORNERS[1]], axis=1)
    eyes = np.linalg.norm(p[:, OUTER_EYE_CORNERS[0]] - p[:, OUTER_EYE_CORNERS[1]], axis=1)
    return mouth / np.maximum(eyes, 1e-9)


def ita_score(faces: ParsedFaces) -> np.ndarray:
    """ITA in degrees of the mean CIELAB of the skin pixels (NaN without skin pixels)."""
    from skimage.color import rgb2lab  # sRGB, D65 white

    skin = np.asarray(faces.labels) == _C["skin"]
    lab = rgb2lab(faces.pixels())
    out = np.full(len(skin), np.nan)
    for i in range(len(skin)):
        if skin[i].any():
            l_star, _, b_star = lab[i][skin[i]].mean(axis=0)
            out[i] = np.degrees(np.arctan2(l_star - 50.0, b_star))
    return out


def bangs_score(faces: ParsedFaces) -> np.ndarray:
    """Hair pixels in the forehead box / its area (see module doc)."""
    labels = np.asarray(faces.labels)
    brows = faces.landmarks[:, list(BROWS)]
    x0, x1 = brows[..., 0].min(axis=1), brows[..., 0].max(axis=1)
    bottom = brows[..., 1].mean(axis=1)
    top = bottom - BANGS_BOX_HEIGHT * faces.height
    centres = np.arange(labels.shape[1]) + 0.5
    out = np.zeros(len(labels))
    for i in range(len(labels)):
        rows = (centres >= top[i]) & (centres < bottom[i])
        cols = (centres >= x0[i]) & (centres < x1[i])
        box = labels[i][np.ix_(rows, cols)]
        out[i] = (box == _C["hair"]).mean() if box.size else 0.0
    return out


__all__ = [
    "ParsedFaces",
    "eyeglasses_score",
    "smile_score",
    "ita_score",
    "bangs_score",
    "FACE_CLASSES",
    "EYEGLASSES_THRESHOLD",
    "EYEGLASSES_NEGATIVE_MAX",
    "SMILE_DOC",
    "BANGS_DOC",
    "BANGS_BOX_HEIGHT",
]
