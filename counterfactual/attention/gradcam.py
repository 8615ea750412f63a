"""Grad-CAM maps of FD in a feature space: where in an image the distance looks.

For a set B compared with a reference set A, `fd_gradient` gives g_i = dFD/df_i for each
image's pooled feature f_i. A space with a map (`SPATIAL_LAYERS`) is run eagerly with a hook
on its last convolutional feature map A_i [C, h, w] (the hooked output becomes a leaf, so
the backward pass covers only the head after it); autograd chains g_i through the head:
dFD/dA_i = (df_i/dA_i)^T g_i. Grad-CAM weighting (Kynkäänniemi et al., ICLR 2023, after
Selvaraju et al.): channel weights w_c = the spatial mean of dFD/dA_i[c], map =
ReLU(sum_c w_c A_i[c]), upsampled (bilinear) to the image and normalised per image to sum 1
(a distribution of "heat" over pixels; an all-zero map stays zero). For Inception, whose
pool3 is the spatial mean of Mixed_7c, dFD/dA_i[c, h, w] = g_ic / (h w), so w = g_i / (h w).

Spaces with a map and why not the others: `counterfactual.attention.spaces`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from counterfactual.errors import UserError

from .spaces import SPATIAL_LAYERS, SPATIAL_NETS, has_map, no_map_reason

#: Largest relative difference allowed between the eager network's features and the run's
#: cached ones (another backend, e.g. ONNX Runtime, differs by ~1e-6): more means the
#: regenerated images or the network are not the run's.
FEATURE_RTOL = 1e-3


class SpatialNet:
    """A feature space's eager network with its last feature map exposed: uint8 NCHW images ->
    (feature map A [N, C, h, w], a leaf requiring grad; pooled features f [N, D] = head(A))."""

    def __init__(
        self,
        preprocess: Callable[[torch.Tensor], torch.Tensor],
        module: torch.nn.Module,
        layer: str,
        device: str = "cpu",
    ) -> None:
        self.preprocess = preprocess
        self.device = torch.device(device)
        self.module = module.eval().to(self.device)
        for p in self.module.parameters():
            p.requires_grad_(False)
        target = self.module.get_submodule(layer)
        self._captured: list[torch.Tensor] = []
        target.register_forward_hook(self._hook)

    def _hook(self, _module: Any, _inputs: Any, output: torch.Tensor) -> torch.Tensor:
        leaf = output.detach().requires_grad_(True)
        self._captured.append(leaf)
        return leaf

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self._captured.clear()
        with torch.enable_grad():
            feats = self.module(self.preprocess(torch.as_tensor(images)).to(self.device))
        if len(self._captured) != 1:
            raise RuntimeError(f"the hooked layer ran {len(self._captured)} times (expected once)")
        return self._captured[0], feats

    def to_image_heat(self, cams: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
        """The last batch's maps [N, h, w] as image heat [N, H, W] (the feature map covers the
        whole image: `to_image_heat`; a space that sees a crop maps it back itself)."""
        return to_image_heat(cams, size)


def load_spatial_net(space: str, device: str = "cpu", **options: Any) -> SpatialNet:
    """The eager network of a space with a map (options: the space's weights, allow_untrained)."""
    if not has_map(space):
        raise UserError(f"space {space!r} has no attention map: {no_map_reason(space)}")
    if space in SPATIAL_NETS:
        from counterfactual.foundation.registry import resolve

        net: SpatialNet = resolve(SPATIAL_NETS[space])(device, **options)
        return net
    from extractors import load_extractor

    extractor = load_extractor(space, device=device, backend="torch", **options)
    module = getattr(extractor.runner, "module", None)
    if module is None:
        raise RuntimeError(f"{space}: the torch backend kept no module")
    return SpatialNet(extractor.preprocess, module, SPATIAL_LAYERS[space], device)


def gradcam(
    acts: torch.Tensor, feats: torch.Tensor, grad_feats: np.ndarray | torch.Tensor
) -> torch.Tensor:
    """Grad-CAM maps [N, h, w] (float64) from a feature map leaf `acts`, the features computed
    from it and dFD/dfeatures [N, D]: ReLU(sum_c mean_hw(dFD/dA)[c] A[c])."""
    weights = channel_weights(acts, feats, grad_feats)
    cam = torch.einsum("nc,nchw->nhw", weights, acts.detach().double())
    return torch.relu(cam)


def channel_weights(
    acts: torch.Tensor, feats: torch.Tensor, grad_feats: np.ndarray | torch.Tensor
) -> torch.Tensor:
    """Grad-CAM channel weights [N, C] (float64): the spatial mean of dFD/dA, chained by
    autograd from dFD/dfeatures [N, D] through the network's head."""
    g = torch.as_tensor(np.asarray(grad_feats), dtype=feats.dtype, device=feats.device)
    if g.shape != feats.shape:
        raise ValueError(
            f"gradient shape {list(g.shape)} does not match features {list(feats.shape)}"
        )
    (grad_acts,) = torch.autograd.grad(feats, acts, grad_outputs=g, retain_graph=True)
    return grad_acts.double().mean(dim=(2, 3))


def to_image_heat(cams: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """Maps [N, h, w] upsampled (bilinear) to the image size (H, W) and normalised per image
    to sum 1: float64 [N, H, W] (an all-zero map stays zero)."""
    up = F.interpolate(cams[:, None].double(), size=size, mode="bilinear", align_corners=False)[
        :, 0
    ]
    return normalise_heat(torch.clamp(up, min=0.0).cpu().numpy())


def normalise_heat(heat: np.ndarray) -> np.ndarray:
    """Non-negative maps [N, H, W] normalised per image to sum 1 (float64; an all-zero map
    stays zero)."""
    heat = np.asarray(heat, dtype=np.float64)
    total = heat.sum(axis=(1, 2), keepdims=True)
    return np.where(total > 0, heat / np.where(total > 0, total, 1.0), 0.0)


@dataclass
class HeatMaps:
    """Per-image heat [N, H, W] (each sums to 1, or 0 where the map was empty) and the largest
    relative difference between the eager features and the reference features checked."""

    heat: np.ndarray
    feature_rdiff: float


def heat_maps(
    net: SpatialNet,
    images: torch.Tensor,
    grads: np.ndarray,
    expected: np.ndarray | None,
    batch_size: int = 16,
    progress: Callable[[int], None] | None = None,
) -> HeatMaps:
    """Heat maps of uint8 NCHW `images` whose FD gradients are `grads` [N, D]; `expected`: the
    run's cached features of the same images, checked against the eager ones (UserError when
    they differ by more than `FEATURE_RTOL`)."""
    images = torch.as_tensor(images)
    size = (int(images.shape[-2]), int(images.shape[-1]))
    out, worst = [], 0.0
    for start in range(0, len(images), batch_size):
        stop = min(start + batch_size, len(images))
        acts, feats = net(images[start:stop])
        if expected is not None:
            ref = np.asarray(expected[start:stop], np.float64)
            diff = np.abs(feats.detach().double().cpu().numpy() - ref).max()
            worst = max(worst, float(diff / max(np.abs(ref).max(), 1e-12)))
        out.append(net.to_image_heat(gradcam(acts, feats, grads[start:stop]), size))
        if progress is not None:
            progress(stop - start)
    if worst > FEATURE_RTOL:
        raise UserError(
            f"the eager network's features differ from the run's cached ones by "
            f"{worst:.3g} (relative; allowed {FEATURE_RTOL}): the regenerated images "
            "or the network are not the run's"
        )
    return HeatMaps(np.concatenate(out) if out else np.zeros((0, *size)), worst)


__all__ = [
    "FEATURE_RTOL",
    "SpatialNet",
    "HeatMaps",
    "load_spatial_net",
    "gradcam",
    "channel_weights",
    "to_image_heat",
    "normalise_heat",
    "heat_maps",
]
