"""Low-level operations of the StyleGAN2 synthesis network, in plain PyTorch (CPU or GPU, fp32).

Written from the papers (Karras et al. 2020, "Analyzing and Improving the Image Quality of
StyleGAN", and "Training GANs with Limited Data") so that a network built from them computes
what NVIDIA's reference implementation computes for the same weights:

- `upfirdn2d`: upsample by zero insertion, pad (or crop), convolve with a 2-D FIR filter, then
  keep every `down`-th pixel. The filter is applied as a true convolution (flipped), scaled by
  `gain` (the upsampling factor squared keeps the DC gain of a zero-inserted signal at one).
- `upsample2d`: `upfirdn2d` with up=2 and the padding that keeps the image centred
  (ceil((taps+1)/2) before, floor((taps-2)/2) after, per axis).
- `conv2d_up2`: a convolution evaluated on the 2x upsampled grid, computed as a stride-2
  transposed convolution followed by the FIR low-pass (the two are linear and shift-invariant
  on the fine grid, so their order does not matter).
- `modulated_conv2d`: weights scaled per sample by the style s (w'_oikk = s_i w_oikk) and,
  with demodulation, divided by sqrt(sum_ikk w'^2 + 1e-8) per output channel; run as one
  grouped convolution over the batch (one group per sample, as NVIDIA's fused path), so a
  batch of N images costs one convolution call per layer instead of N. The per-sample weights
  are computed in float32 and cast to the activations' dtype (float16 in fp16 blocks, where
  weight and styles are first divided by their max-norms to avoid overflow; the factors cancel
  under demodulation).
- `bias_act`: add a per-channel bias, apply the activation, multiply by its gain (sqrt(2) for
  (leaky) ReLU) and clamp to +-clamp when a clamp is given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

Padding = tuple[int, int, int, int]  # (x_before, x_after, y_before, y_after)


def setup_filter(taps: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """A separable FIR filter from 1-D taps as a 2-D outer product normalised to sum 1."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    if f.ndim == 1:
        f = torch.outer(f, f)
    if f.ndim != 2:
        raise ValueError(f"FIR filter must be 1-D or 2-D, got shape {tuple(f.shape)}")
    return f / f.sum()


def _pad_or_crop(x: torch.Tensor, padding: Padding) -> torch.Tensor:
    # F.pad accepts negative amounts, which crop.
    return F.pad(x, list(padding))


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor,
    up: int = 1,
    down: int = 1,
    padding: Padding = (0, 0, 0, 0),
    gain: float = 1.0,
) -> torch.Tensor:
    """Upsample (zero insertion), pad, FIR-filter (true convolution, x gain), downsample.

    x: [N, C, H, W]; f: 2-D [fh, fw] (or 1-D, applied along both axes separably).
    Output size per axis: (in * up + pad_before + pad_after - taps) // down + 1.
    """
    n, c, h, w = x.shape
    if up > 1:
        z = x.new_zeros(n, c, h * up, w * up)
        z[:, :, ::up, ::up] = x
        x = z
    x = _pad_or_crop(x, padding)
    f = f.to(dtype=x.dtype, device=x.device)
    if f.ndim == 1:
        g = (f * math.sqrt(gain)).flip(0)
        x = F.conv2d(x, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
        x = F.conv2d(x, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    else:
        g = (f * gain).flip([0, 1])
        x = F.conv2d(x, g[None, None].expand(c, 1, -1, -1), groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def _taps(f: torch.Tensor) -> tuple[int, int]:
    """(width, height) of a filter."""
    return (f.shape[-1], f.shape[0]) if f.ndim == 2 else (f.shape[0], f.shape[0])


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """2x (or `up`x) upsampling with the FIR filter f, output exactly `up` times larger."""
    fw, fh = _taps(f)
    pad = ((fw + up - 1) // 2, (fw - up) // 2, (fh + up - 1) // 2, (fh - up) // 2)
    return upfirdn2d(x, f, up=up, padding=pad, gain=up * up)


def conv2d(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    padding: int = 0,
    groups: int = 1,
    flip_weight: bool = True,
) -> torch.Tensor:
    """Convolution of x with w ([O, I/groups, k, k]), optionally on the `up`x upsampled grid.

    up=1: plain correlation (flip_weight=True) or convolution (False), symmetric padding.
    up>1: equivalent to `upfirdn2d(x, f, up, pad, gain=up^2)` followed by the convolution with
    `padding` on the fine grid, computed as a stride-`up` transposed convolution followed by
    the FIR filter; the output is exactly `up` times larger than x for odd k and padding k//2.
    """
    out_channels, in_per_group, kh, kw = w.shape
    if up == 1:
        if not flip_weight:
            w = w.flip([2, 3])
        return F.conv2d(x, w, padding=padding, groups=groups)
    if f is None:
        raise ValueError("upsampling convolution needs a FIR filter")
    fw, fh = _taps(f)
    # Padding of the upsampled signal before the filter + convolution (both on the fine grid).
    px0 = padding + (fw + up - 1) // 2
    px1 = padding + (fw - up) // 2
    py0 = padding + (fh + up - 1) // 2
    py1 = padding + (fh - up) // 2
    if kw == 1 and kh == 1:
        # A 1x1 convolution commutes with upsampling: convolve on the coarse grid first.
        x = F.conv2d(x, w, groups=groups)
        return upfirdn2d(x, f, up=up, padding=(px0, px1, py0, py1), gain=up * up)
    # Transposed convolution scatters x[i] * w[a] to 2i + a: that is the zero-inserted signal
    # convolved (not correlated) with w, so correlation semantics need the kernel flipped.
    if flip_weight:
        w = w.flip([2, 3])
    # conv_transpose2d wants [in, out/groups, k, k].
    w = w.reshape(groups, out_channels // groups, in_per_group, kh, kw).transpose(1, 2)
    w = w.reshape(groups * in_per_group, out_channels // groups, kh, kw)
    # The stride-`up` transposed convolution is the full convolution of the zero-inserted
    # signal (length up*H) with w, i.e. a valid convolution after padding k-1 before and
    # k-up after; the FIR step pads (or crops) whatever remains of the requested padding.
    px0 -= kw - 1
    px1 -= kw - up
    py0 -= kh - 1
    py1 -= kh - up
    x = F.conv_transpose2d(x, w, stride=up, groups=groups)
    return upfirdn2d(x, f, padding=(px0, px1, py0, py1), gain=up * up)


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None = None,
    up: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    flip_weight: bool = True,
) -> torch.Tensor:
    """StyleGAN2 weight (de)modulation, then the convolution, then additive noise.

    x [N, I, H, W], weight [O, I, k, k], styles [N, I]. Each sample n uses
    w_n = weight * styles[n] (per input channel), divided, with demodulation, by
    sqrt(sum over (i, k, k) of w_n^2 + 1e-8) per output channel; all N samples run as one
    grouped convolution. Output in x's dtype.
    """
    n = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    if x.dtype == torch.float16 and demodulate:  # pre-normalise: no fp16 overflow
        weight = weight * (
            1
            / math.sqrt(in_channels * kh * kw)
            / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True)
        )
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
    w = weight.unsqueeze(0) * styles.reshape(n, 1, in_channels, 1, 1)  # [N, O, I, k, k]
    if demodulate:
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()  # [N, O]
        w = w * dcoefs.reshape(n, out_channels, 1, 1, 1)
    x = x.reshape(1, n * in_channels, *x.shape[2:])
    w = w.reshape(n * out_channels, in_channels, kh, kw).to(x.dtype)
    x = conv2d(x, w, f=resample_filter, up=up, padding=padding, groups=n, flip_weight=flip_weight)
    x = x.reshape(n, out_channels, *x.shape[2:])
    if noise is not None:
        noise = noise.to(x.dtype)
        x = x.add_(noise) if _can_inplace(x) else x + noise
    return x


def _can_inplace(x: torch.Tensor) -> bool:
    """In-place ops (same values, less memory traffic) are safe when no gradient is tracked."""
    return not (torch.is_grad_enabled() and x.requires_grad)


# name -> (function, default gain); the gain keeps the activations' scale for N(0, 1) inputs.
ACTIVATIONS: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], float]] = {
    "linear": (lambda x: x, 1.0),
    "relu": (F.relu, math.sqrt(2)),
    "lrelu": (lambda x: F.leaky_relu(x, 0.2), math.sqrt(2)),
    "tanh": (torch.tanh, 1.0),
    "sigmoid": (torch.sigmoid, 1.0),
    "elu": (F.elu, 1.0),
    "selu": (F.selu, 1.0),
    "softplus": (F.softplus, 1.0),
    "swish": (lambda x: x * torch.sigmoid(x), math.sqrt(2)),
}


def activation_gain(act: str) -> float:
    """Default gain of an activation (sqrt(2) for ReLU-like ones, 1 otherwise)."""
    if act not in ACTIVATIONS:
        raise ValueError(f"unknown activation {act!r}; known: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[act][1]


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    act: str = "linear",
    gain: float | None = None,
    clamp: float | None = None,
) -> torch.Tensor:
    """act(x + b) * gain, clamped to [-clamp, clamp]; b is per channel (dim 1)."""
    func, default_gain = ACTIVATIONS[act] if act in ACTIVATIONS else (None, None)
    if func is None:
        raise ValueError(f"unknown activation {act!r}; known: {', '.join(ACTIVATIONS)}")
    if b is not None:
        x = x + b.to(x.dtype).reshape([-1 if i == 1 else 1 for i in range(x.ndim)])
    inplace = b is not None and _can_inplace(x)  # x is then our own fresh tensor
    if act == "lrelu" and inplace:
        x = F.leaky_relu_(x, 0.2)
    else:
        x = func(x)
    g = default_gain if gain is None else gain
    if g != 1:
        x = x.mul_(g) if inplace else x * g
    if clamp is not None and clamp >= 0:
        x = x.clamp_(-clamp, clamp) if inplace else x.clamp(-clamp, clamp)
    return x
