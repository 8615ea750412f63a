"""Sample images as PNG strips for the report's grids, each distinct strip embedded once.

Strips are stored at the images' own resolution and enlarged by the browser (pixelated), so
a 64 px face costs 64 px of image, as JPEG at quality 92 without chroma subsampling (faces
are photographic: lossless PNG would be 4-5x larger for no visible difference; the demo
report must stay under 1 MB). `ImageBank` keeps one copy of each strip: the page defines
it once (an SVG <image> in a hidden <defs>) and shows it wherever it is needed with <use>,
so the base faces shown beside every edit are embedded a single time.
"""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

GAP = 2
JPEG_QUALITY = 92
DISPLAY_HEIGHT = 96  # CSS pixels a strip is shown at (at least its native height)


@dataclass(frozen=True)
class Picture:
    """One embedded image: its id in the page, data URI and size (native and displayed)."""

    id: str
    uri: str
    width: int
    height: int
    alt: str = ""

    @property
    def display_width(self) -> int:
        return int(round(self.width * self.display_height / self.height))

    @property
    def display_height(self) -> int:
        return max(DISPLAY_HEIGHT, self.height)


def strip_jpeg(images: np.ndarray, max_images: int = 8) -> tuple[bytes, int, int]:
    """A row of up to `max_images` uint8 NCHW images (white gaps) as JPEG bytes, width, height."""
    arr = np.asarray(images)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[1] not in (1, 3):
        raise ValueError(
            f"expected uint8 NCHW images with 1 or 3 channels, got {arr.dtype} {arr.shape}"
        )
    arr = arr[:max_images]
    if arr.shape[1] == 1:
        arr = np.repeat(arr, 3, axis=1)
    n, _, h, w = arr.shape
    canvas = np.full((h, n * w + (n - 1) * GAP, 3), 255, dtype=np.uint8)
    for i in range(n):
        x = i * (w + GAP)
        canvas[:, x : x + w] = arr[i].transpose(1, 2, 0)
    buf = io.BytesIO()
    Image.fromarray(canvas).save(
        buf, format="JPEG", quality=JPEG_QUALITY, subsampling=0, optimize=True
    )
    return buf.getvalue(), canvas.shape[1], canvas.shape[0]


def thumbnail(image: np.ndarray, size: int = DISPLAY_HEIGHT) -> np.ndarray:
    """A uint8 CHW image scaled down (Lanczos) so its longer side is at most `size` px; a
    smaller one is returned as it is (the browser enlarges it, pixelated)."""
    arr = np.asarray(image)
    h, w = arr.shape[-2:]
    if max(h, w) <= size:
        return arr
    scale = size / max(h, w)
    pil = Image.fromarray(np.ascontiguousarray(arr.transpose(1, 2, 0)).squeeze())
    small = pil.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS)
    out = np.asarray(small)
    return out[None] if out.ndim == 2 else out.transpose(2, 0, 1)


class ImageBank:
    """Distinct strips of a page, keyed by content: adding the same pixels twice returns the
    same Picture."""

    def __init__(self) -> None:
        self._pictures: dict[str, Picture] = {}

    def strip(self, images: np.ndarray, max_images: int = 8, alt: str = "") -> Picture:
        arr = np.ascontiguousarray(np.asarray(images)[:max_images])
        key = "img-" + hashlib.sha256(arr.tobytes() + str(arr.shape).encode()).hexdigest()[:12]
        if key not in self._pictures:
            jpeg, width, height = strip_jpeg(arr, max_images)
            uri = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
            self._pictures[key] = Picture(key, uri, width, height, alt)
        return self._pictures[key]

    def pictures(self) -> list[Picture]:
        """Every distinct picture, in first-use order (the page's <defs>)."""
        return list(self._pictures.values())
