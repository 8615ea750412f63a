"""Image resizing filters used by feature spaces, each under a name recorded in `preprocessing`.

All filters take float32 NCHW tensors in the [0, 255] range and return float32 NCHW.

- ``"tf-bilinear"``: TensorFlow 1 ``tf.image.resize_bilinear(align_corners=False)``, the
  *legacy asymmetric* mapping without half-pixel centres: output pixel ``i`` samples input
  coordinate ``s = i * in / out``, between ``floor(s)`` and ``min(floor(s) + 1, in - 1)``; no
  antialiasing. This is the ResizeBilinear op inside the original FID graph (TTUR) and what
  NVIDIA's stylegan2-ada/stylegan3 Inception detector reproduces with ``affine_grid`` +
  ``grid_sample(padding_mode="border")``. Implemented exactly as two interpolation matrices
  built in float64 (out = Wy @ x @ Wx^T).
- ``"pytorch-bilinear"``: ``F.interpolate(mode="bilinear", align_corners=False,
  antialias=False)``: half-pixel centres, ``s = (i + 0.5) * in / out - 0.5`` clamped at 0;
  pytorch-fid's resize (its whole pipeline, with its x / 127.5 - 1 scaling, is inception-fid's
  ``resize="pytorch-fid"``).
- ``"clean"``: clean-fid's antialiased resize: PIL bicubic on each channel as a 32-bit float
  image (no uint8 rounding), clipped to [0, 255].
- ``"pil-bicubic"``: PIL bicubic on the uint8 RGB image (rounded to uint8), as torchvision's
  ``Resize(BICUBIC)`` on PIL images in the CLIP / DINO / timm pipelines.
- ``"bicubic-aa"`` / ``"bilinear-aa"``: ``F.interpolate(mode="bicubic" / "bilinear",
  antialias=True)``, torchvision's ``Resize`` on tensors.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

Size = tuple[int, int]
Resizer = Callable[[torch.Tensor, Size], torch.Tensor]


def tf_legacy_bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """[n_out, n_in] float64 interpolation matrix of TF1's legacy (asymmetric) bilinear resize."""
    scale = n_in / n_out
    src = np.arange(n_out, dtype=np.float64) * scale
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    m = np.zeros((n_out, n_in), dtype=np.float64)
    rows = np.arange(n_out)
    np.add.at(m, (rows, lo), 1.0 - frac)
    np.add.at(m, (rows, hi), frac)
    return m


def tf_bilinear(x: torch.Tensor, size: Size) -> torch.Tensor:
    """TF1 legacy ``resize_bilinear(align_corners=False)`` (see module docstring)."""
    h, w = x.shape[-2:]
    if (h, w) == tuple(size):
        return x.float()
    wy = torch.from_numpy(tf_legacy_bilinear_matrix(h, size[0]))
    wx = torch.from_numpy(tf_legacy_bilinear_matrix(w, size[1]))
    out = torch.matmul(torch.matmul(wy, x.double()), wx.T)
    return out.float()


def pytorch_bilinear(x: torch.Tensor, size: Size) -> torch.Tensor:
    """``F.interpolate`` bilinear, half-pixel centres, no antialias (pytorch-fid's resize)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x.float()
    return F.interpolate(
        x.float(), size=size, mode="bilinear", align_corners=False, antialias=False
    )


def clean_bicubic(x: torch.Tensor, size: Size) -> torch.Tensor:
    """clean-fid: PIL bicubic per channel on float32 images, clipped to [0, 255]."""
    arr = x.float().cpu().numpy()
    out = np.empty(arr.shape[:2] + tuple(size), dtype=np.float32)
    for n in range(arr.shape[0]):
        for c in range(arr.shape[1]):
            img = Image.fromarray(np.ascontiguousarray(arr[n, c]))  # mode "F"
            out[n, c] = np.asarray(img.resize((size[1], size[0]), resample=Image.BICUBIC))
    return torch.from_numpy(out.clip(0, 255))


def pil_bicubic_uint8(x: torch.Tensor, size: Size) -> torch.Tensor:
    """PIL bicubic on the uint8 RGB image (the classic torchvision-on-PIL pipeline)."""
    arr = x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    out = np.stack(
        [
            np.asarray(Image.fromarray(a).resize((size[1], size[0]), resample=Image.BICUBIC))
            for a in arr
        ]
    )
    return torch.from_numpy(out).permute(0, 3, 1, 2).float().contiguous()


def bicubic_antialias(x: torch.Tensor, size: Size) -> torch.Tensor:
    """``F.interpolate`` bicubic with antialias (torchvision ``Resize(BICUBIC)`` on tensors)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x.float()
    return F.interpolate(x.float(), size=size, mode="bicubic", align_corners=False, antialias=True)


def bilinear_antialias(x: torch.Tensor, size: Size) -> torch.Tensor:
    """``F.interpolate`` bilinear with antialias (torchvision ``Resize(BILINEAR)`` on tensors)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x.float()
    return F.interpolate(x.float(), size=size, mode="bilinear", align_corners=False, antialias=True)


RESIZERS: dict[str, Resizer] = {
    "tf-bilinear": tf_bilinear,
    "pytorch-bilinear": pytorch_bilinear,
    "clean": clean_bicubic,
    "pil-bicubic": pil_bicubic_uint8,
    "bicubic-aa": bicubic_antialias,
    "bilinear-aa": bilinear_antialias,
}


def get_resizer(name: str) -> Resizer:
    """The resize filter registered under `name`."""
    try:
        return RESIZERS[name]
    except KeyError:
        raise ValueError(f"unknown resize filter {name!r}; known: {', '.join(RESIZERS)}") from None


def resize(x: torch.Tensor, size: Size, method: str) -> torch.Tensor:
    """Resize float NCHW [0, 255] images to `size` (H, W) with the named filter."""
    return get_resizer(method)(x, (int(size[0]), int(size[1])))


def resize_shorter_center_crop(
    x: torch.Tensor, resize_to: int, crop: int, method: str
) -> torch.Tensor:
    """Resize so the shorter side is `resize_to` (aspect kept), then centre-crop `crop` x `crop`."""
    h, w = x.shape[-2:]
    if h <= w:
        new = (resize_to, max(1, int(resize_to * w / h)))
    else:
        new = (max(1, int(resize_to * h / w)), resize_to)
    x = resize(x, new, method)
    top = int(round((new[0] - crop) / 2.0))
    left = int(round((new[1] - crop) / 2.0))
    if top < 0 or left < 0:
        raise ValueError(f"cannot centre-crop {crop}x{crop} from a {new[0]}x{new[1]} image")
    return x[..., top : top + crop, left : left + crop]
