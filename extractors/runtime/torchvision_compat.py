"""Make torchvision's Python side importable on the CPU torch wheel (and nothing more).

The torchvision 0.28.0 wheel on the package registry is built against CUDA torch: on the CPU
torch its C extension cannot load, and `import torchvision` then fails with
"operator torchvision::nms does not exist" (its fake-kernel registrations need the schemas).
timm, open_clip and facenet-pytorch all import torchvision.

`install()` must run before torchvision is first imported. If torchvision's own extension
loads, it does nothing. Otherwise it defines the `nms`/`qnms` schemas, gives `nms` a plain
PyTorch CPU kernel (greedy IoU suppression, what MTCNN's `batched_nms` needs) and lets
`torchvision.ops.boxes` call it. No other torchvision op is provided.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import sys

import torch

_library: torch.library.Library | None = None  # kept alive: dropping it unregisters the ops
_state: str | None = None  # "native", "shim" or "absent"


def nms_reference(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression; indices of kept boxes by decreasing score (int64)."""
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)
    x1, y1, x2, y2 = boxes.unbind(1)
    areas = (x2 - x1) * (y2 - y1)
    order = scores.argsort(descending=True)
    suppressed = torch.zeros(len(boxes), dtype=torch.bool, device=boxes.device)
    keep = []
    for idx in order.tolist():
        if suppressed[idx]:
            continue
        keep.append(idx)
        w = (torch.minimum(x2[idx], x2) - torch.maximum(x1[idx], x1)).clamp(min=0)
        h = (torch.minimum(y2[idx], y2) - torch.maximum(y1[idx], y1)).clamp(min=0)
        inter = w * h
        iou = inter / (areas[idx] + areas - inter)
        suppressed |= iou > iou_threshold
    return torch.tensor(keep, dtype=torch.int64, device=boxes.device)


def _native_extension_loads() -> bool:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return False
    for path in glob.glob(os.path.join(spec.submodule_search_locations[0], "_C*.so")) + glob.glob(
        os.path.join(spec.submodule_search_locations[0], "_C*.pyd")
    ):
        try:
            torch.ops.load_library(path)
            return True
        except (OSError, ImportError, RuntimeError):
            return False
    return False


def install() -> str:
    """Idempotent; returns "native", "shim" or "absent" (torchvision not installed)."""
    global _library, _state
    if _state is not None:
        return _state
    if importlib.util.find_spec("torchvision") is None:
        _state = "absent"
        return _state
    if "torchvision" in sys.modules or _native_extension_loads():
        _state = "native"
        return _state
    _library = torch.library.Library("torchvision", "DEF")
    _library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _library.impl("nms", nms_reference, "CPU")
    import torchvision.ops.boxes as boxes

    boxes._assert_has_ops = lambda: None  # only nms lives behind this check in ops.boxes
    _state = "shim"
    return _state
