"""Dataset framings: bring any face image to the crop of CelebA's or FFHQ's aligned images.

A *framing* turns the five SCRFD landmarks of a face (`extractors.face.detect`, image-left eye,
image-right eye, nose tip, image-left / image-right mouth corner) into a square region of the
source image, a *quad* (corners upper-left, lower-left, lower-right, upper-right, as PIL's
``Image.QUAD`` takes them), and `warp_quad` resamples that quad to a square output:

- ``"celeba"``: the ``img_align_celeba`` frame (178 wide, 218 high). The least-squares
  similarity (`extractors.face.align.similarity_transform`) takes the five landmarks to
  `CELEBA_TEMPLATE_178x218`, the mean SCRFD landmarks of the 999 CelebA images of the
  ``celeba-999`` set (``experiments/celeba_template.py`` recomputes it; per-image spread of the
  eye centres about 2 px). The output is the frame's central 178x178 square (rows 20-198),
  the square every non-square folder image is cut to (`generators.folder`), so an aligned
  image and an unaligned ``img_align_celeba`` file share their framing. Padded as FFHQ pads
  (below); edge padding (border pixels repeated, `warp_quad(..., "edge")`) streaks visibly on
  tight generator crops such as the DCGAN's, so it is not the default.
- ``"ffhq"``: the crop of the FFHQ dataset (Karras et al. 2019, ``recreate_aligned_images`` in
  NVlabs/ffhq-dataset), computed from the same points FFHQ used (eye centres, mouth corners):
  ``x`` = eye-to-eye direction minus the eye-to-mouth direction turned by 90 degrees, length
  ``max(2 |eye_to_eye|, 1.8 |eye_to_mouth|)``; centre ``eye_avg + 0.1 eye_to_mouth``; the quad
  is the square of half-side ``|x|`` about it. FFHQ's crop holds about twice the eye-to-mouth
  extent in every direction, more than a tight face crop holds, so it is padded as FFHQ
  padded it (*ffhq* padding): when the quad comes closer than ``border - 4`` px to an image
  edge (``border = max(round(0.1 qsize), 3)``), the image is padded by at least
  ``round(0.3 qsize)`` px on every side by *reflection*, the padding is blurred (Gaussian,
  sigma ``0.02 qsize``, fully blurred from a third of the way out) and faded towards the
  image's median colour with the distance from the image edge.

`warp_quad` follows FFHQ's resampling for both framings: an integer pre-shrink by
``floor(qsize / size / 2)`` (Lanczos) when the quad is more than 4x the output, a crop to the
quad plus ``border``, the padding, PIL's bilinear ``QUAD`` transform to 4x the output size, and
a Lanczos resize to the output size. `FaceAligner` detects the landmarks (SCRFD at
`ALIGN_DET_SIZE`) and aligns; images where no face is found are reported, never guessed
(callers decide: `generators.folder` refuses or skips them, `generators.aligned` names them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from extractors.face.align import apply_affine, invert_affine, similarity_transform

#: Mean SCRFD landmarks (x, y pixel indices) of the 999 celeba-999 images, 178x218 frame
#: (experiments/celeba_template.py: SCRFD 500m, det_size 256, 998 of 999 faces found).
CELEBA_TEMPLATE_178x218 = np.array(
    [[69.40, 112.18], [108.36, 112.00], [88.31, 135.51], [72.18, 152.86], [106.08, 152.68]]
)
CELEBA_FRAME = (178, 218)  # (width, height) of img_align_celeba
ALIGN_DET_SIZE = 256  # SCRFD input side for alignment (not the spaces' 160)
SUPERSAMPLE = 4  # FFHQ: transform to 4x the output, then Lanczos down
PADDINGS = ("edge", "ffhq")


@dataclass(frozen=True)
class Framing:
    """A named framing: `quad(kps5)` -> the source quad [4, 2] of the square output, in pixel
    index coordinates like the landmarks (FFHQ's convention: PIL gets ``quad + 0.5``), and
    how the source is padded."""

    name: str
    padding: str
    quad: Callable[[np.ndarray], np.ndarray]
    description: str

    def describe(self) -> dict[str, Any]:
        return {
            "framing": self.name,
            "padding": self.padding,
            "description": self.description,
            "landmarks": "SCRFD 500m 5-point",
            "det_size": ALIGN_DET_SIZE,
            "resampling": f"pre-shrink, bilinear quad at {SUPERSAMPLE}x, Lanczos (FFHQ's)",
        }


def _check_kps(kps5: np.ndarray) -> np.ndarray:
    kps5 = np.asarray(kps5, dtype=np.float64)
    if kps5.shape != (5, 2) or not np.isfinite(kps5).all():
        raise ValueError(f"expected five finite (x, y) landmarks, got shape {list(kps5.shape)}")
    return kps5


def celeba_quad(kps5: np.ndarray) -> np.ndarray:
    """The central 178x178 square of the img_align_celeba frame fitted to these landmarks."""
    to_frame = similarity_transform(_check_kps(kps5), CELEBA_TEMPLATE_178x218)
    w, h = CELEBA_FRAME
    top = (h - w) / 2
    # the square's outer corners, in the frame's pixel-index coordinates (edge = index - 0.5)
    corners = np.array([[0, top], [0, top + w], [w, top + w], [w, top]], dtype=np.float64) - 0.5
    return apply_affine(invert_affine(to_frame), corners)


def ffhq_quad(kps5: np.ndarray) -> np.ndarray:
    """FFHQ's quad (recreate_aligned_images) from eye centres and mouth corners."""
    kps5 = _check_kps(kps5)
    eye_left, eye_right, _, mouth_left, mouth_right = kps5
    eye_avg = (eye_left + eye_right) * 0.5
    eye_to_eye = eye_right - eye_left
    mouth_avg = (mouth_left + mouth_right) * 0.5
    eye_to_mouth = mouth_avg - eye_avg
    x = eye_to_eye - np.flipud(eye_to_mouth) * [-1, 1]
    x /= np.hypot(*x)
    x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.flipud(x) * [-1, 1]
    c = eye_avg + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


FRAMINGS: dict[str, Framing] = {
    "celeba": Framing(
        "celeba",
        "ffhq",
        celeba_quad,
        "img_align_celeba frame (178x218, similarity to the mean celeba-999 "
        "landmarks), central 178x178 square; FFHQ's reflect + blur padding",
    ),
    "ffhq": Framing(
        "ffhq",
        "ffhq",
        ffhq_quad,
        "FFHQ dataset crop (eye/mouth quad of NVlabs/ffhq-dataset); reflect + blur "
        "+ median-fade padding as FFHQ",
    ),
}


def framing(name: str) -> Framing:
    """The framing called `name`; ValueError listing the known ones."""
    if name not in FRAMINGS:
        raise ValueError(f"unknown face framing {name!r}; allowed: {', '.join(FRAMINGS)}")
    return FRAMINGS[name]


def _bounds(quad: np.ndarray) -> tuple[int, int, int, int]:
    return (
        int(np.floor(min(quad[:, 0]))),
        int(np.floor(min(quad[:, 1]))),
        int(np.ceil(max(quad[:, 0]))),
        int(np.ceil(max(quad[:, 1]))),
    )


def _ffhq_pad(img: np.ndarray, pad: np.ndarray, qsize: float) -> np.ndarray:
    """FFHQ's padding: reflect, blur towards the outside, fade to the median colour."""
    from scipy.ndimage import gaussian_filter

    out = np.pad(np.float32(img), ((pad[1], pad[3]), (pad[0], pad[2]), (0, 0)), "reflect")
    h, w, _ = out.shape
    y, x, _ = np.ogrid[:h, :w, :1]
    with np.errstate(divide="ignore", invalid="ignore"):
        mask = np.maximum(
            1.0 - np.minimum(np.float32(x) / pad[0], np.float32(w - 1 - x) / pad[2]),
            1.0 - np.minimum(np.float32(y) / pad[1], np.float32(h - 1 - y) / pad[3]),
        )
    blur = qsize * 0.02
    out += (gaussian_filter(out, [blur, blur, 0]) - out) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
    out += (np.median(out, axis=(0, 1)) - out) * np.clip(mask, 0.0, 1.0)
    return np.uint8(np.clip(np.rint(out), 0, 255))


def warp_quad(image: np.ndarray, quad: np.ndarray, size: int, padding: str) -> np.ndarray:
    """uint8 HWC RGB image + source quad -> uint8 [size, size, 3] (module doc: FFHQ's steps)."""
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if size < 1:
        raise ValueError(f"output size must be positive, got {size}")
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 HWC RGB image, got {image.dtype} {list(image.shape)}")
    quad = np.array(quad, dtype=np.float64)
    img = Image.fromarray(image, "RGB")
    qsize = float(np.hypot(*(quad[3] - quad[0])))
    shrink = int(np.floor(qsize / size * 0.5))
    if shrink > 1:
        rsize = (
            int(np.rint(float(img.size[0]) / shrink)),
            int(np.rint(float(img.size[1]) / shrink)),
        )
        img = img.resize(rsize, Image.Resampling.LANCZOS)
        quad /= shrink
        qsize /= shrink
    border = max(int(np.rint(qsize * 0.1)), 3)
    b = _bounds(quad)
    crop = (
        max(b[0] - border, 0),
        max(b[1] - border, 0),
        min(b[2] + border, img.size[0]),
        min(b[3] + border, img.size[1]),
    )
    if crop[2] - crop[0] < img.size[0] or crop[3] - crop[1] < img.size[1]:
        img = img.crop(crop)
        quad -= crop[0:2]
    b = _bounds(quad)
    pad = np.array(
        [
            max(-b[0] + border, 0),
            max(-b[1] + border, 0),
            max(b[2] - img.size[0] + border, 0),
            max(b[3] - img.size[1] + border, 0),
        ]
    )
    if max(pad) > border - 4:
        if padding == "ffhq":
            pad = np.maximum(pad, int(np.rint(qsize * 0.3)))
            img = Image.fromarray(_ffhq_pad(np.asarray(img), pad, qsize), "RGB")
        else:
            arr = np.pad(np.asarray(img), ((pad[1], pad[3]), (pad[0], pad[2]), (0, 0)), "edge")
            img = Image.fromarray(arr, "RGB")
        quad += pad[:2]
    big = SUPERSAMPLE * size
    img = img.transform(
        (big, big), Image.Transform.QUAD, tuple((quad + 0.5).flatten()), Image.Resampling.BILINEAR
    )
    img = img.resize((size, size), Image.Resampling.LANCZOS)
    return np.array(img, dtype=np.uint8)


def align_face(image: np.ndarray, kps5: np.ndarray, name: str, size: int) -> np.ndarray:
    """Frame one uint8 HWC face with known landmarks: uint8 [size, size, 3]."""
    f = framing(name)
    return warp_quad(image, f.quad(kps5), size, f.padding)


def quad_to_output(quad: np.ndarray, size: int) -> np.ndarray:
    """2x3 similarity taking source pixel-index positions to output pixel-index positions."""
    square = np.array([[0, 0], [0, size], [size, size], [size, 0]], dtype=np.float64) - 0.5
    return similarity_transform(np.asarray(quad, dtype=np.float64), square)


class FaceAligner:
    """Detect five landmarks (SCRFD, `ALIGN_DET_SIZE`) and frame each face (`framing`).

    `__call__(image)` takes one uint8 HWC RGB image (any size) and returns the framed
    [size, size, 3] image, or None when no face scores the detection threshold."""

    def __init__(self, name: str, device: str = "cpu") -> None:
        from extractors.face.analysis import shared_analyzer

        self.framing = framing(name)
        self.analyzer = shared_analyzer("detect", None, device, ALIGN_DET_SIZE)

    def describe(self) -> dict[str, Any]:
        return {**self.framing.describe(), "detector": self.analyzer.describe()}

    def landmarks(self, image: np.ndarray) -> np.ndarray | None:
        """The best face's five landmarks [5, 2] (pixel indices), or None without a face."""
        import torch

        chw = torch.from_numpy(np.ascontiguousarray(np.asarray(image).transpose(2, 0, 1)))[None]
        dets = self.analyzer(chw).detections
        return dets.kps5[0].copy() if bool(dets.found[0]) else None

    def __call__(self, image: np.ndarray, size: int) -> np.ndarray | None:
        kps = self.landmarks(image)
        if kps is None:
            return None
        return warp_quad(image, self.framing.quad(kps), size, self.framing.padding)


__all__ = [
    "CELEBA_TEMPLATE_178x218",
    "CELEBA_FRAME",
    "ALIGN_DET_SIZE",
    "FRAMINGS",
    "PADDINGS",
    "Framing",
    "FaceAligner",
    "framing",
    "celeba_quad",
    "ffhq_quad",
    "warp_quad",
    "align_face",
    "quad_to_output",
]
