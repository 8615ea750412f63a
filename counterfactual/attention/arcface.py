"""ArcFace as a differentiable PyTorch module, for FD attention maps in the "arcface" space.

The space runs InsightFace's w600k MobileFaceNet as an ONNX model (`extractors.spaces.arcface`)
on a 112-px similarity crop of each face. Here the same ONNX file is converted to a PyTorch
module with onnx2torch (`arcface_module`: input (x - 127.5) / 127.5, the converted graph,
the space's L2 normalisation; equal to ONNX Runtime to ~1e-6, tested to 1e-4). `ArcFaceNet`
crops each image exactly as the space does (its own landmark locator and `align_arcface`),
hooks the last convolutional feature map (`ARCFACE_LAYER`: the PReLU after the last 1x1
convolution, 64 x 7 x 7, before the flatten and fully connected layer), and brings each
Grad-CAM map back to the image: upsampled (bilinear) to the 112-px crop, then warped to the
image by the inverse of that image's crop similarity (pixels outside the crop get no heat),
and normalised to sum 1.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .gradcam import SpatialNet, normalise_heat

ARCFACE_LAYER = "net.PRelu_94"


class ArcFaceModule(torch.nn.Module):
    """RGB crops (float, 0..255) [N, 3, 112, 112] -> ArcFace embeddings [N, 512]."""

    def __init__(self, net: torch.nn.Module, mean: float, std: float, normalize: bool) -> None:
        super().__init__()
        self.net, self.mean, self.std, self.normalize = net, float(mean), float(std), normalize

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net((crops - self.mean) / self.std)
        return F.normalize(out, dim=1, eps=1e-12) if self.normalize else out


def arcface_module(
    path: str | os.PathLike[str], mean: float = 127.5, std: float = 127.5, normalize: bool = True
) -> ArcFaceModule:
    """The ArcFace ONNX file as a PyTorch module (onnx2torch), in eval mode."""
    from extractors.runtime import torchvision_compat

    torchvision_compat.install()  # onnx2torch imports torchvision (its NMS converter)
    try:
        import onnx
        from onnx2torch import convert
    except ImportError as exc:
        raise RuntimeError(f"ArcFace maps need onnx2torch ({exc})") from None
    net = convert(onnx.load(str(path)))
    return ArcFaceModule(net, mean, std, normalize).eval()


def crop_heat_to_image(
    cams: torch.Tensor, matrices: np.ndarray, size: tuple[int, int], crop_size: int = 112
) -> np.ndarray:
    """Maps [N, h, w] on square crops -> image heat [N, H, W]: upsampled (bilinear) to the
    crop, clamped at 0, warped to the image by the inverse of each image -> crop matrix
    [N, 2, 3] (pixels outside the crop get 0), normalised per image to sum 1."""
    import cv2

    crop = F.interpolate(
        cams[:, None].double(), size=(crop_size, crop_size), mode="bilinear", align_corners=False
    )[:, 0]
    crop_np = torch.clamp(crop, min=0.0).cpu().numpy()
    h, w = size
    out = np.stack(
        [
            cv2.warpAffine(
                c,
                np.asarray(m, np.float64),  # image -> crop; with WARP_INVERSE_MAP each image
                (w, h),  # pixel reads the crop pixel it maps to
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=0.0,
            )
            for c, m in zip(crop_np, matrices)
        ]
    )
    return normalise_heat(out)


class ArcFaceNet(SpatialNet):
    """uint8 NCHW images -> (hooked 7x7 feature map of their ArcFace crops, embeddings); heat is
    mapped back to image coordinates through each crop's similarity (see module doc)."""

    def __init__(self, extractor: Any, device: str = "cpu") -> None:
        model = extractor.model  # insightface ArcFaceONNX: the space's ONNX file and scaling
        module = arcface_module(
            model.model_file, model.input_mean, model.input_std, extractor.normalize
        )
        self.extractor = extractor
        self._matrices: np.ndarray | None = None
        super().__init__(self._crops, module, ARCFACE_LAYER, device)

    def _crops(self, images: torch.Tensor) -> torch.Tensor:
        from extractors.face.align import arcface_matrix

        crops, dets = self.extractor.crops(images)
        self._matrices = np.stack([arcface_matrix(k) for k in dets.kps5])
        return torch.from_numpy(crops.astype(np.float32))

    def to_image_heat(self, cams: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
        if self._matrices is None or len(self._matrices) != len(cams):
            raise RuntimeError("ArcFace heat maps need the crops of the same batch")
        return crop_heat_to_image(cams, self._matrices, size)


def load_arcface_net(device: str = "cpu", **options: Any) -> ArcFaceNet:
    """The "arcface" space's network for maps (options: the space's weights, allow_untrained)."""
    from extractors import load_extractor

    return ArcFaceNet(load_extractor("arcface", device=device, **options), device)


__all__ = [
    "ARCFACE_LAYER",
    "ArcFaceModule",
    "ArcFaceNet",
    "arcface_module",
    "crop_heat_to_image",
    "load_arcface_net",
]
