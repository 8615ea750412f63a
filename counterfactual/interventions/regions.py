"""Face-region masks: from the face parsing (the default, the reference study's method) or from
landmarks (an option).

**Parsing masks** (`parsing_masks`): the union of BiSeNet CelebAMask-HQ classes per region
(`PARSING_REGIONS`): eyes (eyes + eyeglasses), brows, nose, mouth (mouth + both lips), hair,
hat, skin, ears (ears + earrings), neck, background; "all" is every pixel. The class map
(parser frame) is resized to the image (area-averaged when shrinking, bilinear when
enlarging), then softened like the landmark masks.

**Landmark masks** (`region_masks`, regions `LANDMARK_REGIONS`). Masks are float32 [N, 1, H, W] in [0, 1] with soft edges (a binary mask smoothed by a
Gaussian of sigma = max(0.5, H / 128) px, truncated at 3 sigma: pixels farther than that
from the region are exactly 0).

Definitions (all from landmarks; `eye_dist` = distance between the eye centres):
- eyes:  each eye's convex hull, grown by 0.12 eye_dist.
- nose:  the nose points' hull, grown by 0.06 eye_dist.
- mouth: the mouth points' hull, grown by 0.08 eye_dist.
- face:  hull of the contour and the brows (helper, not a region).
- skin:  face minus eyes, brows (grown by 0.05 eye_dist) and mouth (the nose counts as skin).
- hair:  the band from the top of the image down to 0.1 eye_dist above the highest brow
         point, as wide as the face plus 20% on each side, minus the face (the forehead
         above the brows is included: landmarks do not locate the hairline).
- hat:   the top of the head: the band from the top of the image down to the hat line,
         HAT_LINE eye_dist above the highest brow point, as wide as the face plus 10% on
         each side. The synthetic hat occluder (pixel.py) is anchored on the same line.
- background: outside face and hair (their union grown by 0.05 eye_dist).
- all:   every pixel (the full-distortion reference).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

LANDMARK_REGIONS = ("eyes", "nose", "mouth", "hair", "skin", "background", "hat", "all")
PARSING_REGIONS: dict[str, tuple[str, ...]] = {
    "eyes": ("eye_l", "eye_r", "eyeglasses"),
    "brows": ("brow_l", "brow_r"),
    "nose": ("nose",),
    "mouth": ("mouth", "lip_u", "lip_l"),
    "hair": ("hair",),
    "hat": ("hat",),
    "skin": ("skin",),
    "ears": ("ear_l", "ear_r", "earring"),
    "neck": ("neck",),
    "background": ("background",),
}
REGIONS = (*PARSING_REGIONS, "all")
MASK_SOURCES = ("parsing", "landmarks")
PARTS = ("contour", "brow_l", "brow_r", "eye_l", "eye_r", "nose", "mouth")
HAT_LINE = 0.2  # hat line height above the brows, in eye distances
_SHIFT = 4  # sub-pixel bits for cv2 polygon filling


@dataclass
class FaceLandmarks:
    """Per-image landmark groups in pixel coordinates (x, y), each [N, k, 2] float64.

    "l" / "r" are the image left / right (extractors.face.detect's convention).
    """

    contour: np.ndarray
    brow_l: np.ndarray
    brow_r: np.ndarray
    eye_l: np.ndarray
    eye_r: np.ndarray
    nose: np.ndarray
    mouth: np.ndarray
    found: np.ndarray  # [N] bool: False where a canonical fallback was used
    size: int  # image side in pixels

    def __len__(self) -> int:
        return len(self.found)

    @property
    def brows(self) -> np.ndarray:
        return np.concatenate([self.brow_l, self.brow_r], axis=1)

    @property
    def eyes(self) -> np.ndarray:
        return np.concatenate([self.eye_l, self.eye_r], axis=1)

    def eye_centres(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.eye_l[i].mean(axis=0), self.eye_r[i].mean(axis=0)

    @classmethod
    def from_points(
        cls,
        points: np.ndarray,
        groups: Mapping[str, Sequence[int]],
        size: int,
        found: np.ndarray | None = None,
    ) -> FaceLandmarks:
        """From dense landmarks [N, P, 2] and index groups named as in PARTS."""
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 3 or points.shape[2] != 2:
            raise ValueError(f"landmarks must have shape [N, P, 2], got {points.shape}")
        missing = [g for g in PARTS if g not in groups]
        if missing:
            raise KeyError(f"landmark groups missing: {', '.join(missing)}")
        take = {g: points[:, np.asarray(groups[g], dtype=int)] for g in PARTS}
        ok = np.ones(len(points), bool) if found is None else np.asarray(found, bool)
        return cls(found=ok, size=int(size), **take)

    @classmethod
    def from_kps5(
        cls, kps5: np.ndarray, size: int, found: np.ndarray | None = None
    ) -> FaceLandmarks:
        """Approximate groups from 5 points (image-left eye, image-right eye, nose, mouth corners)."""
        k = np.asarray(kps5, dtype=np.float64)
        if k.ndim != 3 or k.shape[1:] != (5, 2):
            raise ValueError(f"kps5 must have shape [N, 5, 2], got {k.shape}")
        le, re_, nose, lm, rm = (k[:, i] for i in range(5))
        d = np.linalg.norm(re_ - le, axis=1)[:, None]  # eye distance [N, 1]
        ex = (re_ - le) / np.maximum(d, 1e-6)  # eye-line unit vector
        ey = np.stack([-ex[:, 1], ex[:, 0]], axis=1)  # "down" in the face frame
        t = np.linspace(0, 2 * np.pi, 12, endpoint=False)

        def ellipse(
            c: np.ndarray, rx: float | np.ndarray, ry: float, angles: np.ndarray = t
        ) -> np.ndarray:
            rx = np.broadcast_to(np.asarray(rx, dtype=np.float64), (len(c),))[:, None, None]
            return c[:, None] + d[:, None] * (
                rx * np.cos(angles)[None, :, None] * ex[:, None]
                + ry * np.sin(angles)[None, :, None] * ey[:, None]
            )

        nose_pts = np.concatenate(
            [ellipse(nose, 0.17, 0.1), (le + re_)[:, None] / 2 + 0.15 * d[:, None] * ey[:, None]],
            axis=1,
        )
        half_width = 0.5 * np.linalg.norm(rm - lm, axis=1) / np.maximum(d[:, 0], 1e-6)
        centre = (le + re_) / 2 + 0.45 * d * ey  # face centre, below the eyes
        jaw = np.linspace(-0.1 * np.pi, 1.1 * np.pi, 17)  # lower half ellipse
        ok = np.ones(len(k), bool) if found is None else np.asarray(found, bool)
        return cls(
            contour=ellipse(centre, 0.95, 1.05, jaw),
            brow_l=ellipse(le - 0.3 * d * ey, 0.28, 0.05),
            brow_r=ellipse(re_ - 0.3 * d * ey, 0.28, 0.05),
            eye_l=ellipse(le, 0.22, 0.09),
            eye_r=ellipse(re_, 0.22, 0.09),
            nose=nose_pts,
            mouth=ellipse((lm + rm) / 2, half_width + 0.02, 0.12),
            found=ok,
            size=int(size),
        )


# -- rasterisation ------------------------------------------------------------------------
def _fill(mask: np.ndarray, polygon: np.ndarray) -> None:
    import cv2

    pts = np.round(np.asarray(polygon, dtype=np.float64) * (1 << _SHIFT)).astype(np.int32)
    cv2.fillPoly(mask, [pts.reshape(-1, 1, 2)], 1.0, lineType=cv2.LINE_8, shift=_SHIFT)


def _hull(points: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.convexHull(np.asarray(points, dtype=np.float32)).reshape(-1, 2).astype(np.float64)


def _grown_hull(mask: np.ndarray, points: np.ndarray, margin: float) -> None:
    """Fill the convex hull of `points` pushed outwards (radially) by `margin` pixels."""
    hull = _hull(points)
    c = hull.mean(axis=0)
    r = np.linalg.norm(hull - c, axis=1, keepdims=True)
    _fill(mask, c + (hull - c) * (1 + margin / np.maximum(r, 1e-6)))


def _band(mask: np.ndarray, x0: float, x1: float, y1: float) -> None:
    """Rows from the top of the image down to y1, columns x0..x1."""
    _fill(mask, np.array([[x0, -1.0], [x1, -1.0], [x1, y1], [x0, y1]]))


def _geometry(lm: FaceLandmarks, i: int) -> dict[str, float]:
    cl, cr = lm.eye_centres(i)
    face_x0, face_x1 = float(lm.contour[i][:, 0].min()), float(lm.contour[i][:, 0].max())
    eye_dist = float(np.linalg.norm(cr - cl))
    eye_dist = eye_dist if eye_dist > 1e-3 else 0.45 * (face_x1 - face_x0)
    return {
        "eye_dist": eye_dist,
        "brow_top": float(lm.brows[i][:, 1].min()),
        "face_x0": face_x0,
        "face_x1": face_x1,
        "face_w": face_x1 - face_x0,
    }


def hat_line(lm: FaceLandmarks, i: int) -> float:
    """y of the hat line (bottom of the top-of-head band) for image i."""
    g = _geometry(lm, i)
    return g["brow_top"] - HAT_LINE * g["eye_dist"]


def _binary(lm: FaceLandmarks, i: int, part: str) -> np.ndarray:
    import cv2

    g = _geometry(lm, i)
    d = g["eye_dist"]
    mask = np.zeros((lm.size, lm.size), np.float32)
    if part == "eyes":
        for eye in (lm.eye_l[i], lm.eye_r[i]):
            _grown_hull(mask, eye, 0.12 * d)
    elif part == "brows":
        for brow in (lm.brow_l[i], lm.brow_r[i]):
            _grown_hull(mask, brow, 0.05 * d)
    elif part == "nose":
        _grown_hull(mask, lm.nose[i], 0.06 * d)
    elif part == "mouth":
        _grown_hull(mask, lm.mouth[i], 0.08 * d)
    elif part == "face":
        _fill(mask, _hull(np.concatenate([lm.contour[i], lm.brows[i]])))
    elif part == "hair":
        pad = 0.2 * g["face_w"]
        _band(mask, g["face_x0"] - pad, g["face_x1"] + pad, g["brow_top"] - 0.1 * d)
        mask *= 1 - _binary(lm, i, "face")
    elif part == "hat":
        pad = 0.1 * g["face_w"]
        _band(mask, g["face_x0"] - pad, g["face_x1"] + pad, hat_line(lm, i))
    elif part == "skin":
        mask = _binary(lm, i, "face")
        for hole in ("eyes", "brows", "mouth"):
            mask *= 1 - _binary(lm, i, hole)
    elif part == "background":
        keep = np.maximum(_binary(lm, i, "face"), _binary(lm, i, "hair"))
        k = 2 * int(np.ceil(0.05 * d)) + 1
        mask = 1 - cv2.dilate(keep, np.ones((k, k), np.uint8))
    elif part == "all":
        mask[:] = 1
    else:
        raise ValueError(
            f"unknown landmark region {part!r}; allowed: {', '.join(LANDMARK_REGIONS)}"
        )
    return mask


def edge_sigma(size: int) -> float:
    """Soft-edge width (Gaussian sigma, px) for masks of this resolution."""
    return max(0.5, size / 128)


def soften(mask: np.ndarray, size: int) -> np.ndarray:
    """Gaussian-smooth a binary mask (truncated at 3 sigma), keeping it in [0, 1]."""
    import cv2

    if mask.min() == mask.max():
        return mask.astype(np.float32)
    sigma = edge_sigma(size)
    k = 2 * int(np.ceil(3 * sigma)) + 1
    out = cv2.GaussianBlur(mask.astype(np.float32), (k, k), sigma, borderType=cv2.BORDER_REPLICATE)
    return np.clip(out, 0.0, 1.0)


def region_masks(landmarks: FaceLandmarks, region: str, soft: bool = True) -> torch.Tensor:
    """Landmark masks of `region` for every image: float32 [N, 1, H, W] in [0, 1]."""
    import torch

    if region not in LANDMARK_REGIONS:
        raise ValueError(
            f"unknown landmark region {region!r}; allowed: {', '.join(LANDMARK_REGIONS)}"
        )
    out = np.zeros((len(landmarks), 1, landmarks.size, landmarks.size), np.float32)
    for i in range(len(landmarks)):
        m = _binary(landmarks, i, region)
        out[i, 0] = soften(m, landmarks.size) if soft else m
    return torch.from_numpy(out)


def parsing_masks(
    labels: np.ndarray, region: str, size: tuple[int, int], soft: bool = True
) -> torch.Tensor:
    """Parsing masks of `region` from class maps [N, S, S] for images of `size` (H, W):
    float32 [N, 1, H, W] in [0, 1] (see module doc)."""
    import cv2
    import torch

    from extractors.face.parsing import CLASS_INDEX

    if region not in REGIONS:
        raise ValueError(f"unknown region {region!r}; allowed: {', '.join(REGIONS)}")
    labels = np.asarray(labels)
    h, w = int(size[0]), int(size[1])
    out = np.ones((len(labels), 1, h, w), np.float32)
    if region == "all":
        return torch.from_numpy(out)
    classes = [CLASS_INDEX[c] for c in PARSING_REGIONS[region]]
    for i, lab in enumerate(labels):
        binary = np.isin(lab, classes).astype(np.float32)
        if not soft:
            out[i, 0] = cv2.resize(binary, (w, h), interpolation=cv2.INTER_NEAREST)
            continue
        shrink = h < binary.shape[0] or w < binary.shape[1]
        m = cv2.resize(binary, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        out[i, 0] = soften(np.clip(m, 0.0, 1.0), h)
    return torch.from_numpy(out)


# -- landmarks and parsing from images (extractors.face.analysis) -------------------------------------
Landmarker = Callable[["torch.Tensor"], FaceLandmarks]


def detect_landmarks(images: torch.Tensor) -> FaceLandmarks:
    """106-point landmarks of uint8 NCHW faces from the shared face analysis (cached by content).

    Where SCRFD finds no face, detection falls back to the canonical box (an aligned crop
    is assumed) and the 106-point network still runs inside it; `found` records which.
    """
    import torch

    from extractors.face.analysis import shared_analyzer
    from extractors.face.detect import LMK106_REGIONS

    images = torch.as_tensor(images).cpu()
    analysis = shared_analyzer()(images, parts=("landmarks",))
    return FaceLandmarks.from_points(
        analysis.landmarks106, LMK106_REGIONS, size=int(images.shape[-1]), found=analysis.found
    )


Parser = Callable[["torch.Tensor"], np.ndarray]


def detect_parsing(images: torch.Tensor, size: int | None = None) -> np.ndarray:
    """Parsing class maps [N, S, S] of uint8 NCHW faces from the shared face analysis
    (S = ``size``, default the analyzer's parsing size; each size has its own cache)."""
    import torch

    from extractors.face.analysis import shared_analyzer
    from extractors.face.parsing import DEFAULT_SIZE

    shared = size is None or int(size) == DEFAULT_SIZE  # the scorers' analyzer and cache
    analyzer = shared_analyzer() if shared else shared_analyzer(parse_size=int(size))
    return analyzer(torch.as_tensor(images).cpu(), parts=("parsing",)).labels
