"""Our PyTorch module of StyleGAN2(-ADA), compatible with NVIDIA's weights and semantics.

`StyleGAN2Generator(**init_kwargs)` takes the init kwargs of NVIDIA's `training.networks.Generator`
(stylegan2-ada-pytorch; the flat form of the stylegan3 repository's `networks_stylegan2` is
accepted too), and its `load_state_dict` takes NVIDIA's parameter and buffer names unchanged
(`mapping.fc0.weight`, `mapping.w_avg`, `synthesis.b4.const`, `synthesis.b8.conv0.affine.weight`,
`...resample_filter`, `...noise_const`, `...noise_strength`, `...torgb.*`, `...skip.weight`).
It is written from the papers (Karras et al. 2020: StyleGAN2 and StyleGAN2-ADA), not from
NVIDIA's code. The computation, for one image:

    mapping:   x = z / sqrt(mean(z^2) + 1e-8)   (concatenated with the likewise normalised
               label embedding when c_dim > 0), then `num_layers` equalised-lr fully connected
               layers y = lrelu(x W^T * lr/sqrt(fan_in) + b * lr) * sqrt(2); w is broadcast to
               all `num_ws` layers; truncation: w' = w_avg + psi (w - w_avg), on the first
               `truncation_cutoff` layers only when a cutoff is given.
    synthesis: a learned 4x4 constant, then per resolution a block of two style-modulated 3x3
               convolutions (the first upsamples 2x with the [1,3,3,1] FIR filter), each
               followed by noise * noise_strength, bias, lrelu * sqrt(2) (times sqrt(1/2) in the
               resnet branch) and clamping to +-conv_clamp; styles s = affine(w) (bias init 1);
               demodulated weights w_oikk * s_i / sqrt(sum_ikk (w s)^2 + 1e-8) (the equalised-lr
               gain 1/sqrt(fan_in) cancels under demodulation and is not applied).
               ToRGB: a 1x1 modulated convolution without demodulation whose styles carry the
               gain 1/sqrt(fan_in), plus bias, linear, clamped. 'skip' sums the 2x FIR-upsampled
               image of the previous block and every block's ToRGB output; 'orig' has one ToRGB
               at the end; 'resnet' adds sqrt(1/2) * (1x1 conv of the 2x upsampled input).
    noise:     "const" uses the stored `noise_const` buffers, "random" fresh N(0, 1) noise per
               image (torch's global RNG), "none" no noise at all.

Batching: the modulated convolutions run as one grouped convolution over the batch (one group
per image, NVIDIA's fused path), so synthesising N images costs one convolution call per layer.

Precision: by default everything runs in float32 on every device. NVIDIA runs the
`num_fp16_res` highest-resolution blocks in float16 on the GPU; `forward(..., fp16=True)` does
the same. Float32 outputs of such networks differ from NVIDIA's GPU outputs by fp16 rounding.

`generator.py` puts a loaded network behind the project's Generator interface.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from generators.stylegan2.ops import (
    activation_gain,
    bias_act,
    conv2d,
    modulated_conv2d,
    setup_filter,
    upsample2d,
)

NOISE_MODES = ("const", "random", "none")
ARCHITECTURES = ("orig", "skip", "resnet")
# Keyword arguments that only exist in StyleGAN3 generators (stylegan3's networks_stylegan3).
STYLEGAN3_KWARGS = {
    "magnitude_ema_beta",
    "conv_kernel",
    "use_radial_filters",
    "filter_size",
    "lrelu_upsampling",
    "num_layers",
    "num_critical",
    "first_cutoff",
    "first_stopband",
    "last_stopband_rel",
    "margin_size",
    "output_scale",
}


class FullyConnectedLayer(nn.Module):
    """Equalised learning rate dense layer: act(x (W * lr/sqrt(in))^T + b * lr)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        if bias:
            self.bias = nn.Parameter(torch.full([out_features], float(bias_init)))
        else:
            self.register_parameter("bias", None)
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        b = (
            None
            if self.bias is None
            else (self.bias * self.bias_gain if self.bias_gain != 1 else self.bias)
        )
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation)


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """x / sqrt(mean(x^2) + eps) along dim 1."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class MappingNetwork(nn.Module):
    """z (and label c) -> w, broadcast to num_ws layers, with truncation towards w_avg."""

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        num_ws: int | None,
        num_layers: int = 8,
        embed_features: int | None = None,
        layer_features: int | None = None,
        activation: str = "lrelu",
        lr_multiplier: float = 0.01,
        w_avg_beta: float | None = 0.995,
    ) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.num_ws, self.num_layers, self.w_avg_beta = num_ws, num_layers, w_avg_beta
        embed_features = (w_dim if embed_features is None else embed_features) if c_dim else 0
        layer_features = w_dim if layer_features is None else layer_features
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for idx in range(num_layers):
            setattr(
                self,
                f"fc{idx}",
                FullyConnectedLayer(
                    features[idx],
                    features[idx + 1],
                    activation=activation,
                    lr_multiplier=lr_multiplier,
                ),
            )
        if num_ws is not None and w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(
        self,
        z: torch.Tensor | None,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
    ) -> torch.Tensor:
        parts = []
        if self.z_dim > 0:
            _check_shape(z, "z", self.z_dim)
            parts.append(normalize_2nd_moment(z.to(torch.float32)))
        if self.c_dim > 0:
            _check_shape(c, "c", self.c_dim)
            parts.append(normalize_2nd_moment(self.embed(c.to(torch.float32))))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        if self.num_ws is not None:
            x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            x = truncate(
                x, self.w_avg if hasattr(self, "w_avg") else None, truncation_psi, truncation_cutoff
            )
        return x


def truncate(
    ws: torch.Tensor, w_avg: torch.Tensor | None, psi: float, cutoff: int | None = None
) -> torch.Tensor:
    """w_avg + psi (ws - w_avg) on all layers, or on the first `cutoff` layers of [N, L, D] ws."""
    if psi == 1:
        return ws
    if w_avg is None:
        raise ValueError(
            "truncation needs mapping.w_avg, which this network does not have (w_avg_beta=None)"
        )
    if ws.ndim == 2 or cutoff is None:
        return w_avg.lerp(ws, psi)
    ws = ws.clone()
    ws[:, :cutoff] = w_avg.lerp(ws[:, :cutoff], psi)
    return ws


def _check_shape(x: torch.Tensor | None, name: str, dim: int) -> None:
    if x is None or x.ndim != 2 or x.shape[1] != dim:
        got = None if x is None else tuple(x.shape)
        raise ValueError(f"{name} must have shape [N, {dim}], got {got}")


class SynthesisLayer(nn.Module):
    """Modulated (optionally 2x upsampling) convolution + noise + bias + activation + clamp."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        kernel_size: int = 3,
        up: int = 1,
        use_noise: bool = True,
        activation: str = "lrelu",
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.resolution, self.up, self.use_noise = resolution, up, use_noise
        self.activation, self.conv_clamp = activation, conv_clamp
        self.padding = kernel_size // 2
        self.act_gain = activation_gain(activation)
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(
            torch.randn([out_channels, in_channels, kernel_size, kernel_size])
        )
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))

    def forward(
        self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const", gain: float = 1.0
    ) -> torch.Tensor:
        styles = self.affine(w)
        noise = None
        if self.use_noise and noise_mode == "random":
            noise = (
                torch.randn([x.shape[0], 1, self.resolution, self.resolution], device=x.device)
                * self.noise_strength
            )
        elif self.use_noise and noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        # The upsampling layer is defined with convolution, the others with correlation.
        x = modulated_conv2d(
            x,
            self.weight,
            styles,
            noise=noise,
            up=self.up,
            padding=self.padding,
            resample_filter=self.resample_filter,
            flip_weight=(self.up == 1),
        )
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(x, self.bias, act=self.activation, gain=self.act_gain * gain, clamp=clamp)


class ToRGBLayer(nn.Module):
    """Modulated 1x1 convolution to image channels, no demodulation, linear, clamped."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        kernel_size: int = 1,
        conv_clamp: float | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(
            torch.randn([out_channels, in_channels, kernel_size, kernel_size])
        )
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(
            x, self.weight, styles, demodulate=False, padding=self.weight.shape[-1] // 2
        )
        return bias_act(x, self.bias, clamp=self.conv_clamp)


class Conv2dLayer(nn.Module):
    """Equalised-lr convolution (optionally 2x upsampling) + bias + activation (resnet skip)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        up: int = 1,
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.activation, self.up, self.conv_clamp = activation, up, conv_clamp
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.padding = kernel_size // 2
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.act_gain = activation_gain(activation)
        self.weight = nn.Parameter(
            torch.randn([out_channels, in_channels, kernel_size, kernel_size])
        )
        if bias:
            self.bias = nn.Parameter(torch.zeros([out_channels]))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        x = conv2d(
            x,
            (self.weight * self.weight_gain).to(x.dtype),
            f=self.resample_filter,
            up=self.up,
            padding=self.padding,
            flip_weight=(self.up == 1),
        )
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(x, self.bias, act=self.activation, gain=self.act_gain * gain, clamp=clamp)


class SynthesisBlock(nn.Module):
    """One resolution: (const | 2x up conv0) -> conv1 -> ToRGB, per architecture."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        img_channels: int,
        is_last: bool,
        architecture: str = "skip",
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
        use_fp16: bool = False,
        fp16_channels_last: bool = False,
        fused_modconv_default: Any = True,
        **layer_kwargs: Any,
    ) -> None:
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        self.in_channels, self.resolution = in_channels, resolution
        self.is_last, self.architecture = is_last, architecture
        self.use_fp16 = use_fp16  # runs in float16 only when the synthesis asks for fp16
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.num_conv = self.num_torgb = 0
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(
                in_channels,
                out_channels,
                w_dim,
                resolution,
                up=2,
                resample_filter=resample_filter,
                conv_clamp=conv_clamp,
                **layer_kwargs,
            )
            self.num_conv += 1
        self.conv1 = SynthesisLayer(
            out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp, **layer_kwargs
        )
        self.num_conv += 1
        if is_last or architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
            self.num_torgb += 1
        if in_channels != 0 and architecture == "resnet":
            self.skip = Conv2dLayer(
                in_channels,
                out_channels,
                kernel_size=1,
                bias=False,
                up=2,
                resample_filter=resample_filter,
            )

    def forward(
        self,
        x: torch.Tensor | None,
        img: torch.Tensor | None,
        ws: torch.Tensor,
        noise_mode: str = "const",
        fp16: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x in the block's dtype (float16 when `fp16` and the block is an fp16 block), img and
        the returned img in float32."""
        dtype = torch.float16 if fp16 and self.use_fp16 else torch.float32
        w_iter = iter(ws.unbind(1))
        if self.in_channels == 0:
            x = self.const.to(dtype).unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
            x = self.conv1(x, next(w_iter), noise_mode)
        elif self.architecture == "resnet":
            x = x.to(dtype)
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x, next(w_iter), noise_mode)
            x = self.conv1(x, next(w_iter), noise_mode, gain=math.sqrt(0.5))
            x = y + x
        else:
            x = x.to(dtype)
            x = self.conv0(x, next(w_iter), noise_mode)
            x = self.conv1(x, next(w_iter), noise_mode)
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        if self.is_last or self.architecture == "skip":
            y = self.torgb(x, next(w_iter)).to(torch.float32)
            img = y if img is None else img + y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> image [N, img_channels, R, R] through blocks b4 ... bR."""

    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_fp16_res: int = 0,
        **block_kwargs: Any,
    ) -> None:
        super().__init__()
        log2 = int(np.log2(img_resolution))
        if img_resolution < 4 or 2**log2 != img_resolution:
            raise ValueError(f"img_resolution must be a power of two >= 4, got {img_resolution}")
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.block_resolutions = [2**i for i in range(2, log2 + 1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        fp16_resolution = max(2 ** (log2 + 1 - num_fp16_res), 8)
        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(
                channels[res // 2] if res > 4 else 0,
                channels[res],
                w_dim=w_dim,
                resolution=res,
                img_channels=img_channels,
                is_last=(res == img_resolution),
                use_fp16=(res >= fp16_resolution),
                **block_kwargs,
            )
            self.num_ws += block.num_conv + (block.num_torgb if res == img_resolution else 0)
            setattr(self, f"b{res}", block)

    def forward(
        self, ws: torch.Tensor, noise_mode: str = "const", fp16: bool = False
    ) -> torch.Tensor:
        """Images [N, C, R, R] float32; `fp16` runs the fp16 blocks (num_fp16_res) in float16."""
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        if ws.ndim != 3 or tuple(ws.shape[1:]) != (self.num_ws, self.w_dim):
            raise ValueError(
                f"ws must have shape [N, {self.num_ws}, {self.w_dim}], got {tuple(ws.shape)}"
            )
        ws = ws.to(torch.float32)
        x = img = None
        w_idx = 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            # Consecutive blocks share one w: a block's ToRGB uses the next block's conv0 w.
            cur = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            w_idx += block.num_conv
            x, img = block(x, img, cur, noise_mode=noise_mode, fp16=fp16)
        return img


class StyleGAN2Generator(nn.Module):
    """NVIDIA-compatible StyleGAN2(-ADA) generator: mapping + synthesis (see module doc)."""

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        mapping_kwargs: dict[str, Any] | None = None,
        synthesis_kwargs: dict[str, Any] | None = None,
        **flat_synthesis_kwargs: Any,
    ) -> None:
        super().__init__()
        stylegan3 = sorted(STYLEGAN3_KWARGS & set(flat_synthesis_kwargs))
        if stylegan3:
            raise ValueError(
                f"init kwargs {stylegan3} belong to a StyleGAN3 generator, "
                "which is not supported (only StyleGAN2 / StyleGAN2-ADA)"
            )
        synthesis_kwargs = {**(synthesis_kwargs or {}), **flat_synthesis_kwargs}
        mapping_kwargs = dict(mapping_kwargs or {})
        self.init_kwargs = dict(
            z_dim=z_dim,
            c_dim=c_dim,
            w_dim=w_dim,
            img_resolution=img_resolution,
            img_channels=img_channels,
            mapping_kwargs=mapping_kwargs,
            synthesis_kwargs=synthesis_kwargs,
        )
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = SynthesisNetwork(
            w_dim=w_dim,
            img_resolution=img_resolution,
            img_channels=img_channels,
            **synthesis_kwargs,
        )
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(
            z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=self.num_ws, **mapping_kwargs
        )

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        noise_mode: str = "const",
        fp16: bool = False,
    ) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, fp16=fp16)
