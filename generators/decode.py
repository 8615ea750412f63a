"""Any PIL image -> uint8 RGB pixels, scaled as its pixel values say.

Rules, by PIL mode (one handler per mode in `_HANDLERS`; an unknown mode is refused):
- "1": 0 -> 0, 1 -> 255. "L": as stored, repeated into R, G, B.
- "P": the palette's colours. "RGB", "RGBX": as stored.
- "CMYK": R = (255 - C)(255 - K) / 255 (likewise G from M, B from Y; PIL's formula, no ICC
  colour management). "YCbCr": full-range JPEG/JFIF conversion. "HSV": the standard HSV->RGB.
- "LAB": CIE L*a*b* -> sRGB through ImageCms (PIL's own `convert` mislabels the channels).
- 16-bit greyscale "I;16", "I;16L", "I;16B", "I;16N": round(v * 255 / 65535).
- "I" (32-bit integers, what older PIL versions and some encoders give for 16-bit greyscale):
  read as 16-bit, round(v * 255 / 65535); values outside 0..65535 are refused (the scale is
  unknown).
- "F" (32-bit float): intensities in [0, 1], round(v * 255); NaN, inf or values outside
  [0, 1] are refused.
- 16-bit colour PNGs: PIL keeps the high byte of each sample (v >> 8, within 1 of v / 257).
- Alpha ("RGBA", "LA", "PA", premultiplied "RGBa" / "La", and "P" / "L" / "RGB" with a
  transparency key), see `ALPHA_RULES`: "drop" (default) keeps the stored colour and ignores
  alpha -- the convention of pytorch-fid and clean-fid (PIL `convert("RGB")`), so FDs compare
  with theirs; "black" / "white" composite over that background, round(c a + bg (1 - a)) with
  a = alpha / 255. Premultiplied colours are un-premultiplied first.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

from counterfactual.errors import UserError

ALPHA_RULES: dict[str, float | None] = {"drop": None, "black": 0.0, "white": 255.0}
_16BIT = 255.0 / 65535.0


class BadImageError(UserError):
    """An image file that cannot be decoded, is refused by a policy, or cannot be read: bad
    input (a ValueError), reported as one line with exit code 2 (`counterfactual.errors`)."""


Decoded = tuple[
    np.ndarray, np.ndarray | None
]  # (colour float64/uint8 [H,W,3], alpha [H,W] in 0..255)


def _grey(values: np.ndarray) -> np.ndarray:
    return np.repeat(values[..., None], 3, axis=2)


def _colour(img: Image.Image, where: str) -> Decoded:
    """8-bit modes PIL converts correctly; alpha kept aside when the image has any."""
    if img.mode in ("RGBA", "LA", "PA", "RGBa") or "transparency" in img.info:
        rgba = np.asarray(img.convert("RGBA"))
        return rgba[..., :3], rgba[..., 3]
    return np.asarray(img.convert("RGB")), None


def _premultiplied_la(img: Image.Image, where: str) -> Decoded:
    arr = np.asarray(img).astype(np.float64)
    grey, alpha = arr[..., 0], arr[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        grey = np.where(alpha > 0, np.minimum(255.0, grey * 255.0 / alpha), 0.0)
    return _grey(grey), alpha


def _lab(img: Image.Image, where: str) -> Decoded:
    from PIL import ImageCms

    transform = ImageCms.buildTransform(
        ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB"
    )
    return np.asarray(ImageCms.applyTransform(img, transform)), None


def _sixteen_bit(img: Image.Image, where: str) -> Decoded:
    return _grey(np.asarray(img).astype(np.float64) * _16BIT), None


def _int32(img: Image.Image, where: str) -> Decoded:
    values = np.asarray(img).astype(np.int64)
    lo, hi = int(values.min()), int(values.max())
    if lo < 0 or hi > 65535:
        raise BadImageError(
            f"{where}: 32-bit integer image with values {lo}..{hi}, outside the "
            "16-bit range 0..65535 it is read in; convert it to 8 or 16 bits"
        )
    return _grey(values.astype(np.float64) * _16BIT), None


def _float(img: Image.Image, where: str) -> Decoded:
    values = np.asarray(img).astype(np.float64)
    if not np.isfinite(values).all():
        raise BadImageError(f"{where}: float image with NaN or inf pixels")
    lo, hi = float(values.min()), float(values.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise BadImageError(
            f"{where}: float image with values {lo:.6g}..{hi:.6g}; float images "
            "are read as intensities in [0, 1]"
        )
    return _grey(np.clip(values, 0.0, 1.0) * 255.0), None


_HANDLERS: dict[str, Callable[[Image.Image, str], Decoded]] = {
    **{
        mode: _colour
        for mode in (
            "1",
            "L",
            "P",
            "RGB",
            "RGBX",
            "RGBA",
            "RGBa",
            "LA",
            "PA",
            "CMYK",
            "YCbCr",
            "HSV",
        )
    },
    "La": _premultiplied_la,
    "LAB": _lab,
    **{mode: _sixteen_bit for mode in ("I;16", "I;16L", "I;16B", "I;16N")},
    "I": _int32,
    "F": _float,
}


def to_rgb(img: Image.Image, where: str = "<image>", alpha: str = "drop") -> np.ndarray:
    """uint8 [H, W, 3] pixels of a PIL image under the module's rules (`where` names it in errors)."""
    if alpha not in ALPHA_RULES:
        raise ValueError(f"alpha must be one of {', '.join(ALPHA_RULES)}, got {alpha!r}")
    handler = _HANDLERS.get(img.mode)
    if handler is None:
        raise BadImageError(
            f"{where}: unsupported image mode {img.mode!r}; supported: {', '.join(_HANDLERS)}"
        )
    colour, a = handler(img, where)
    background = ALPHA_RULES[alpha]
    if a is not None and background is not None:
        weight = a.astype(np.float64)[..., None] / 255.0
        colour = colour.astype(np.float64) * weight + background * (1.0 - weight)
    if colour.dtype != np.uint8:
        colour = np.rint(colour).clip(0, 255).astype(np.uint8)
    return np.ascontiguousarray(colour)


__all__ = ["ALPHA_RULES", "BadImageError", "to_rgb"]
