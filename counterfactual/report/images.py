"""Sample images as embedded PNG strips (base64 data URIs) for the report's grids."""
from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

GAP = 3


def strip(images: np.ndarray, max_images: int = 8, min_height: int = 96) -> str:
    """A row of up to `max_images` uint8 NCHW images, upscaled (nearest) to at least
    `min_height` pixels, as a PNG data URI."""
    arr = np.asarray(images)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[1] not in (1, 3):
        raise ValueError(f"expected uint8 NCHW images with 1 or 3 channels, got {arr.dtype} {arr.shape}")
    arr = arr[:max_images]
    if arr.shape[1] == 1:
        arr = np.repeat(arr, 3, axis=1)
    n, _, h, w = arr.shape
    scale = max(1, int(np.ceil(min_height / h)))
    canvas = np.full((h * scale, n * w * scale + (n - 1) * GAP, 3), 255, dtype=np.uint8)
    for i in range(n):
        tile = arr[i].transpose(1, 2, 0).repeat(scale, axis=0).repeat(scale, axis=1)
        x = i * (w * scale + GAP)
        canvas[:, x:x + w * scale] = tile
    buf = io.BytesIO()
    Image.fromarray(canvas).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
