"""Which feature spaces have FD attention maps, and why the others have none (no torch here,
so a config can be validated without loading a network)."""

from __future__ import annotations

# Space -> the eager module's last convolutional block (a dotted path in the space's module,
# run with backend="torch"); its output is the map's feature map.
SPATIAL_LAYERS: dict[str, str] = {
    "inception-fid": "net.Mixed_7c",  # TFScaled(FIDInceptionV3): pool3 = mean of Mixed_7c
    "random-inception": "Mixed_7c",  # timm inception_v3 (num_classes=0): global avg pool
}
# Space -> the loader of its own `gradcam.SpatialNet` ("module:function", called with the
# device and the space's options), for spaces whose network is not the extractor's torch runner.
SPATIAL_NETS: dict[str, str] = {
    # the shipped ONNX converted by onnx2torch; heat warped back from the 112-px crop
    "arcface": "counterfactual.attention.arcface:load_arcface_net",
}
_ONNX_FACE = (
    "runs as an ONNX model on an aligned face crop: a map needs the network as a "
    "PyTorch module (onnx2torch) and the inverse of the crop's warp; not built yet"
)
NO_MAP_REASONS: dict[str, str] = {
    "gender-classifier": _ONNX_FACE.replace("an aligned", "a 32-px dlib"),
    "age-classifier": _ONNX_FACE.replace("an aligned", "a 64-px dlib"),
    "dlib-face": "dlib's C++ network: not differentiable from Python",
    "clip-vit-b32": "a vision transformer: no convolutional feature map (token maps not built)",
    "dinov2-vits14": "a vision transformer: no convolutional feature map (token maps not built)",
    "dinov2-vitb14": "a vision transformer: no convolutional feature map (token maps not built)",
    "dinov2-vitl14": "a vision transformer: no convolutional feature map (token maps not built)",
}
DEFAULT_REASON = (
    "no spatial layer registered for this space (counterfactual.attention.spaces.SPATIAL_LAYERS "
    "or SPATIAL_NETS)"
)


def has_map(space: str) -> bool:
    """True when `space` has an attention map (a registered last convolutional block)."""
    return space in SPATIAL_LAYERS or space in SPATIAL_NETS


def no_map_reason(space: str) -> str:
    """Why `space` has no attention map."""
    return NO_MAP_REASONS.get(space, DEFAULT_REASON)


__all__ = ["SPATIAL_LAYERS", "SPATIAL_NETS", "NO_MAP_REASONS", "has_map", "no_map_reason"]
