"""Our PyTorch module of MobileStyleGAN (Belousov 2021, arXiv 2104.04767), inference only.

MobileStyleGAN is a student distilled from StyleGAN2-FFHQ. It keeps StyleGAN2's mapping
network (pixel norm, 8 fully connected layers with leaky ReLU) and replaces the synthesis
network: a learned 4x4 constant, one modulated 3x3 convolution, then seven blocks that each
upsample by an inverse Haar wavelet transform (IDWT) and apply two modulated depthwise-separable
3x3 convolutions; the last block predicts 12 wavelet channels (3 colours x LL/LH/HL/HH) that a
final IDWT turns into the 1024x1024 RGB image in [-1, 1]. One style vector w drives every
layer (no W+), and the per-layer noise is a constant of the released network (no noise inputs).

This module reproduces the computation of the released inference graph (OpenVINO IR), where
the demodulation (which depends on weights only) is already folded into the pointwise weights
and the noise into a constant image per layer; `weights.py` maps the graph's constants onto it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LEAKY_SLOPE = 0.2
HAAR = 1.0 / math.sqrt(2.0)


class MappingNetwork(nn.Module):
    """z [N, 512] -> w [N, 512]: pixel norm, then `depth` x (linear, leaky ReLU, x gain)."""

    def __init__(
        self, dim: int = 512, depth: int = 8, eps: float = 1e-8, gain: float = math.sqrt(2.0)
    ) -> None:
        super().__init__()
        self.dim, self.depth, self.eps, self.gain = dim, depth, eps, gain
        self.fc = nn.ModuleList(nn.Linear(dim, dim) for _ in range(depth))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z * torch.reciprocal(torch.sqrt(z.square().mean(dim=1, keepdim=True) + self.eps))
        for fc in self.fc:
            x = F.leaky_relu(fc(x), LEAKY_SLOPE) * self.gain
        return x


class Modulation(nn.Module):
    """Per-channel style: gain * (A w + b), shaped [N, C, 1, 1]."""

    def __init__(self, style_dim: int, channels: int, gain: float) -> None:
        super().__init__()
        self.affine = nn.Linear(style_dim, channels)
        self.gain = gain

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        s = self.affine(w)[:, :, None, None]
        return s if self.gain == 1.0 else s * self.gain


class StyledConv(nn.Module):
    """Modulated convolution (3x3 dense, or 3x3 depthwise then 1x1 pointwise), constant noise,
    bias and leaky ReLU; demodulation is folded into the (last) weight."""

    def __init__(
        self, cin: int, cout: int, style_dim: int, size: int, *, depthwise: bool, gain: float
    ) -> None:
        super().__init__()
        self.modulation = Modulation(style_dim, cin, gain)
        self.weight_dw = nn.Parameter(torch.zeros(cin, 1, 3, 3)) if depthwise else None
        self.weight = nn.Parameter(
            torch.zeros(cout, cin, 1 if depthwise else 3, 1 if depthwise else 3)
        )
        self.register_buffer("noise", torch.zeros(1, 1, size, size))
        self.bias = nn.Parameter(torch.zeros(1, cout, 1, 1))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = x * self.modulation(w)
        if self.weight_dw is not None:
            x = F.conv2d(F.conv2d(x, self.weight_dw, padding=1, groups=x.shape[1]), self.weight)
        else:
            x = F.conv2d(x, self.weight, padding=1)
        return F.leaky_relu(x + self.noise + self.bias, LEAKY_SLOPE)


def _haar_kernels() -> torch.Tensor:
    """[4, 1, 2, 2] synthesis kernels of LL, LH, HL, HH: K[a, b] = g(a) g(b) with
    g0 = (1, 1)/sqrt2 and g1 = (1, -1)/sqrt2 (LH varies along rows, HL along columns)."""
    g0 = torch.tensor([HAAR, HAAR])
    g1 = torch.tensor([HAAR, -HAAR])
    pairs = [(g0, g0), (g1, g0), (g0, g1), (g1, g1)]
    return torch.stack([torch.outer(r, c) for r, c in pairs])[:, None]


def idwt(x: torch.Tensor, channels: int) -> torch.Tensor:
    """One-level inverse Haar transform of [N, 4C, H, W] laid out as (LL [C], then C x (LH,
    HL, HH)) -> [N, C, 2H, 2W]: the sub-bands of each channel are gathered together and
    combined by one transposed depthwise convolution (stride 2) with the Haar kernels."""
    n, _, h, w = x.shape
    order = torch.arange(channels, device=x.device)
    perm = torch.stack(
        [order, channels + 3 * order, channels + 3 * order + 1, channels + 3 * order + 2], dim=1
    ).reshape(-1)  # per channel: LL..HH
    kernels = _haar_kernels().to(x).repeat(channels, 1, 1, 1)
    return F.conv_transpose2d(x.index_select(1, perm), kernels, stride=2, groups=channels)


class Upsample(nn.Module):
    """Style-modulated inverse wavelet upsampling: [N, 4C, H, W] -> [N, C, 2H, 2W]."""

    def __init__(self, cin: int, style_dim: int) -> None:
        super().__init__()
        self.modulation = Modulation(style_dim, cin, 1.0)
        self.channels = cin // 4

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return idwt(x * self.modulation(w), self.channels)


class SynthesisBlock(nn.Module):
    """IDWT upsampling, then two depthwise-separable styled convolutions."""

    def __init__(
        self, cin: int, cout: int, style_dim: int, size: int, gains: tuple[float, float]
    ) -> None:
        super().__init__()
        self.up = Upsample(cin, style_dim)
        self.conv1 = StyledConv(cin // 4, cout, style_dim, size, depthwise=True, gain=gains[0])
        self.conv2 = StyledConv(cout, cout, style_dim, size, depthwise=True, gain=gains[1])

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(self.up(x, w), w), w)


class SynthesisNetwork(nn.Module):
    """w [N, 512] -> image [N, 3, 1024, 1024], RGB roughly in [-1, 1]."""

    def __init__(
        self,
        channels: tuple[int, ...] = (512, 512, 512, 512, 512, 256, 128, 64),
        style_dim: int = 512,
    ) -> None:
        super().__init__()
        self.channels, self.style_dim = tuple(channels), style_dim
        self.const = nn.Parameter(torch.zeros(1, channels[0], 4, 4))
        self.conv1 = StyledConv(
            channels[0],
            channels[0],
            style_dim,
            4,
            depthwise=False,
            gain=1.0 / math.sqrt(channels[0] * 9),
        )
        self.blocks = nn.ModuleList()
        size = 4
        for cin, cout in zip(channels[:-1], channels[1:]):
            size *= 2
            self.blocks.append(
                SynthesisBlock(
                    cin,
                    cout,
                    style_dim,
                    size,
                    (1 / math.sqrt(cin // 4 * 9), 1 / math.sqrt(cout * 9)),
                )
            )
        self.to_img_modulation = Modulation(style_dim, channels[-1], 1 / math.sqrt(channels[-1]))
        self.to_img = nn.Conv2d(channels[-1], 12, 1)
        self.resolution = size * 2

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        x = self.conv1(self.const.expand(len(w), -1, -1, -1), w)
        for block in self.blocks:
            x = block(x, w)
        return idwt(self.to_img(x * self.to_img_modulation(w)), 3)


__all__ = ["MappingNetwork", "SynthesisNetwork", "idwt"]
