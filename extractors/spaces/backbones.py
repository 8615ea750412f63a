"""General-purpose feature spaces on user-supplied weights (or random weights, labelled).

| space | architecture (built offline) | input | features |
| --- | --- | --- | --- |
| ``clip-vit-b32`` | open_clip ``ViT-B-32-quickgelu`` image tower (OpenAI CLIP) | shorter side 224 (PIL bicubic on uint8), centre crop 224, CLIP mean/std | 512-d projected image embedding (not L2-normalised) |
| ``dinov2-vit{s,b,l}14`` | timm ``vit_{small,base,large}_patch14_dinov2`` at 224 | 224x224 (bicubic, antialiased), ImageNet mean/std | CLS token after the final norm (384/768/1024-d) |
| ``swav-resnet50`` | timm ``resnet50`` (torchvision layout) | 224x224 (bicubic, antialiased), ImageNet mean/std | 2048-d global average pool |
| ``facenet-vggface2`` | facenet_pytorch ``InceptionResnetV1`` | 160x160 (bicubic, antialiased), (x - 127.5) / 128 | 512-d L2-normalised embedding |
| ``random-inception`` | timm ``inception_v3``, random init (always untrained; the rFID idea) | 299x299 (TF-legacy bilinear), (x/255 - 0.5) / 0.5 | 2048-d pool |
| ``timm:<model>`` | any timm model, ``weights=PATH`` | the model's own data config (resize shorter side to size / crop_pct, centre crop) | pooled features (``num_classes=0``) |

Weights: ``weights=PATH``, else the expected file name in a ``$COUNTERFACTUAL_WEIGHTS``
directory. Missing and ``allow_untrained=False`` -> `MissingWeightsError`; with
``allow_untrained=True`` the architecture keeps a seeded random initialisation, ``trained`` is
False and the label says "untrained". Nothing is ever downloaded: timm models are built with
``pretrained=False`` and open_clip with ``pretrained=None``. Random-weight networks switch on
``torch.set_flush_denormal(True)`` (process-wide; denormals make them several times slower),
and those with batch norm get data-free BN statistics from seeded noise images
(`extractors.runtime.network_extractor.calibrate_batchnorm`; otherwise random Inception-v3 features reach ~1e11).
``backend="auto"`` runs every space on ONNX Runtime (exported once per weights, verified
against eager PyTorch, cached; see `extractors.runtime.backends`), which measured 1.4-9x faster
than eager PyTorch on this 2-core CPU; ``"torch"`` / ``"torch-channels-last"`` run eagerly.
DINOv2's 37x37 position embedding (518 px) is resampled once to 16x16 the way the official
hub model does at run time (bicubic, scale factor (16 + 0.1) / 37, no antialias).
"""

from __future__ import annotations

import logging
import math
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from extractors.runtime.backends import build_runner
from extractors.runtime.network_extractor import (
    BN_CALIBRATION_IMAGES,
    NetworkExtractor,
    calibrate_batchnorm,
    seeded,
    state_dict_sha256,
)
from extractors.runtime.resize import RESIZERS, resize_shorter_center_crop
from extractors.runtime.resize import resize as resize_images
from extractors.runtime.weights import MissingWeightsError, WeightFile, locate, require

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

StateDict = dict[str, torch.Tensor]


# ------------------------------------------------------------------ preprocessing
@dataclass(frozen=True)
class Preprocessing:
    """uint8 NCHW -> float NCHW: resize (square, or shorter side + centre crop), then
    (x / 255 - mean) / std per channel."""

    size: int
    resize: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resize_shorter_to: int | None = None  # None: resize straight to size x size

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float()
        if self.resize_shorter_to is None:
            x = resize_images(x, (self.size, self.size), self.resize)
        else:
            x = resize_shorter_center_crop(x, self.resize_shorter_to, self.size, self.resize)
        mean = torch.tensor(self.mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32).view(1, 3, 1, 1)
        return ((x / 255.0 - mean) / std).contiguous()

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "size": [self.size, self.size],
            "resize": self.resize,
            "mean": list(self.mean),
            "std": list(self.std),
            "normalize": "(x/255-mean)/std",
        }
        if self.resize_shorter_to is not None:
            out["resize_shorter_to"] = self.resize_shorter_to
            out["crop"] = "center"
        return out


# ------------------------------------------------------------------ reading weight files
def read_state_dict(path: Path) -> StateDict:
    """A flat state dict from .safetensors, a TorchScript archive (OpenAI CLIP) or a torch
    checkpoint (unwrapping 'state_dict' / 'model' and stripping 'module.' prefixes)."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state: Any = load_file(str(path))
    else:
        state = None
        if zipfile.is_zipfile(path):
            try:
                state = dict(torch.jit.load(str(path), map_location="cpu").state_dict())
            except RuntimeError:
                state = None
        if state is None:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        for key in ("state_dict", "model"):
            if isinstance(state, dict) and isinstance(state.get(key), dict):
                state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: not a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_strict(module: nn.Module, state: StateDict, origin: str) -> None:
    """load_state_dict(strict) with one readable error naming the file and the key mismatch."""
    wanted = set(module.state_dict())
    missing = sorted(wanted - set(state))
    unexpected = sorted(set(state) - wanted)
    if missing or unexpected:
        raise ValueError(
            f"{origin}: weights do not fit the architecture; missing keys "
            f"{missing[:6]}{'...' if len(missing) > 6 else ''}, unexpected keys "
            f"{unexpected[:6]}{'...' if len(unexpected) > 6 else ''}"
        )
    module.load_state_dict(state, strict=True)


def _drop(state: StateDict, prefixes: tuple[str, ...]) -> StateDict:
    return {k: v for k, v in state.items() if not k.startswith(prefixes)}


# ------------------------------------------------------------------ architectures
def _timm(name: str, **kwargs: Any) -> nn.Module:
    import timm

    return timm.create_model(name, pretrained=False, num_classes=0, **kwargs)


def _clip_visual() -> nn.Module:
    import open_clip

    log = logging.getLogger()
    level = log.level
    log.setLevel(logging.ERROR)  # open_clip warns that no pretrained weights were loaded
    try:
        model = open_clip.create_model("ViT-B-32-quickgelu", pretrained=None, device="cpu")
    finally:
        log.setLevel(level)
    return model.visual


def _facenet() -> nn.Module:
    from facenet_pytorch.models.inception_resnet_v1 import InceptionResnetV1

    return InceptionResnetV1(pretrained=None, classify=False)


def _load_clip(module: nn.Module, state: StateDict, origin: str) -> None:
    if any(k.startswith("visual.") for k in state):
        state = {k.removeprefix("visual."): v for k, v in state.items() if k.startswith("visual.")}
    load_strict(module, state, origin)


def dinov2_pos_embed(pos_embed: torch.Tensor, grid: int, offset: float = 0.1) -> torch.Tensor:
    """Resample a [1, 1 + M*M, D] position embedding to grid x grid as the DINOv2 hub model's
    ``interpolate_pos_encoding`` does (bicubic, scale factor (grid + offset) / M, no antialias)."""
    n = pos_embed.shape[1] - 1
    m = int(math.isqrt(n))
    if m * m != n:
        raise ValueError(f"position embedding of {n} patches is not square")
    if m == grid:
        return pos_embed
    cls, patches = pos_embed[:, :1], pos_embed[:, 1:]
    dim = pos_embed.shape[-1]
    patches = patches.reshape(1, m, m, dim).permute(0, 3, 1, 2).float()
    scale = (grid + offset) / m
    patches = F.interpolate(patches, scale_factor=(scale, scale), mode="bicubic", antialias=False)
    if patches.shape[-2:] != (grid, grid):
        raise ValueError(
            f"position embedding resampled to {tuple(patches.shape[-2:])}, expected {grid}"
        )
    patches = patches.permute(0, 2, 3, 1).reshape(1, grid * grid, dim).to(pos_embed.dtype)
    return torch.cat([cls, patches], dim=1)


def _load_dinov2(module: nn.Module, state: StateDict, origin: str) -> None:
    from timm.models.vision_transformer import checkpoint_filter_fn

    grid = module.patch_embed.grid_size[0]
    state = dict(state)
    if "pos_embed" in state:
        state["pos_embed"] = dinov2_pos_embed(state["pos_embed"], grid)
    load_strict(module, checkpoint_filter_fn(state, module), origin)


def _load_swav(module: nn.Module, state: StateDict, origin: str) -> None:
    load_strict(module, _drop(state, ("projection_head.", "prototypes.", "fc.")), origin)


def _load_facenet(module: nn.Module, state: StateDict, origin: str) -> None:
    load_strict(module, _drop(state, ("logits.",)), origin)


def _load_plain(module: nn.Module, state: StateDict, origin: str) -> None:
    load_strict(module, state, origin)


# ------------------------------------------------------------------ the spaces
@dataclass(frozen=True)
class BackboneSpec:
    """A space: its architecture, weight file, loader, preprocessing and preferred backend.
    Calling it builds the extractor; each spec is registered once, in `extractors.spaces`."""

    name: str
    dim: int
    build: Callable[[], nn.Module]
    weight_file: WeightFile | None  # None: random weights only (never trained)
    load: Callable[[nn.Module, StateDict, str], None] = _load_plain
    preprocessing: Preprocessing = field(
        default_factory=lambda: Preprocessing(224, "bicubic-aa", IMAGENET_MEAN, IMAGENET_STD)
    )
    prefer_backend: str = "onnx"  # what backend="auto" uses (falls back to torch)
    batch_size: int = 16

    def __call__(
        self,
        device: str = "cpu",
        weights: str | None = None,
        allow_untrained: bool = False,
        backend: str = "auto",
        seed: int = 0,
        resize: str | None = None,
        **_: Any,
    ) -> NetworkExtractor:
        """Build this space (see the module docstring)."""
        untrained_only = self.weight_file is None
        return _build_extractor(
            self.name,
            self.dim,
            self.build,
            self.weight_file,
            self.load,
            _preprocessing_with(self.preprocessing, resize),
            self.prefer_backend,
            self.batch_size,
            device,
            weights,
            allow_untrained or untrained_only,
            backend,
            seed,
        )

    def find_weights(self) -> Path | None:
        """Registry probe: the located weight file, or None (always None for random-only)."""
        return None if self.weight_file is None else locate(self.weight_file)


_VIT_SIZES = {"s": "small", "b": "base", "l": "large"}


def _dinov2(size: str, dim: int, hub: str) -> BackboneSpec:
    return BackboneSpec(
        f"dinov2-vit{size}14",
        dim,
        lambda: _timm(f"vit_{_VIT_SIZES[size]}_patch14_dinov2", img_size=224),
        WeightFile(
            f"dinov2_vit{size}14_pretrain.pth",
            None,
            f"Meta's DINOv2 release (dl.fbaipublicfiles.com/dinov2/dinov2_vit{size}14/"
            f"dinov2_vit{size}14_pretrain.pth; or timm's {hub} safetensors)",
        ),
        _load_dinov2,
        Preprocessing(224, "bicubic-aa", IMAGENET_MEAN, IMAGENET_STD),
        prefer_backend="onnx",
        batch_size=16,
    )


CLIP_VIT_B32 = BackboneSpec(
    "clip-vit-b32",
    512,
    _clip_visual,
    WeightFile(
        "ViT-B-32.pt",
        "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
        "OpenAI's CLIP release (openaipublic.azureedge.net/clip/models/40d36571.../ViT-B-32.pt)",
    ),
    _load_clip,
    Preprocessing(224, "pil-bicubic", CLIP_MEAN, CLIP_STD, resize_shorter_to=224),
    prefer_backend="onnx",
    batch_size=32,
)
DINOV2_VITS14 = _dinov2("s", 384, "vit_small_patch14_dinov2.lvd142m")
DINOV2_VITB14 = _dinov2("b", 768, "vit_base_patch14_dinov2.lvd142m")
DINOV2_VITL14 = _dinov2("l", 1024, "vit_large_patch14_dinov2.lvd142m")
SWAV_RESNET50 = BackboneSpec(
    "swav-resnet50",
    2048,
    lambda: _timm("resnet50"),
    WeightFile(
        "swav_800ep_pretrain.pth.tar",
        None,
        "Meta's SwAV release (dl.fbaipublicfiles.com/deepcluster/swav_800ep_pretrain.pth.tar)",
    ),
    _load_swav,
    Preprocessing(224, "bicubic-aa", IMAGENET_MEAN, IMAGENET_STD),
    prefer_backend="onnx",
    batch_size=16,
)
FACENET_VGGFACE2 = BackboneSpec(
    "facenet-vggface2",
    512,
    _facenet,
    WeightFile(
        "20180402-114759-vggface2.pt",
        None,
        "the facenet-pytorch GitHub release v2.2.9 (20180402-114759-vggface2.pt)",
    ),
    _load_facenet,
    Preprocessing(160, "bicubic-aa", (127.5 / 255,) * 3, (128 / 255,) * 3),
    prefer_backend="onnx",
    batch_size=32,
)
RANDOM_INCEPTION = BackboneSpec(
    "random-inception",
    2048,
    lambda: _timm("inception_v3"),
    None,
    preprocessing=Preprocessing(299, "tf-bilinear", (0.5,) * 3, (0.5,) * 3),
    prefer_backend="onnx",
    batch_size=16,
)


# ------------------------------------------------------------------ building extractors
def _build_extractor(
    spec_name: str,
    dim: int,
    build: Callable[[], nn.Module],
    weight_file: WeightFile | None,
    load: Callable[[nn.Module, StateDict, str], None],
    preprocessing: Preprocessing,
    prefer: str,
    batch_size: int,
    device: str,
    weights: str | None,
    allow_untrained: bool,
    backend: str,
    seed: int,
    extra: dict[str, Any] | None = None,
) -> NetworkExtractor:
    path: Path | None = None
    sha: str | None = None
    if weight_file is not None:
        try:
            path, sha = require(weight_file, weights)
        except MissingWeightsError:
            if not allow_untrained:
                raise
    elif weights is not None:
        raise ValueError(
            f"{spec_name} always uses random weights; weights={weights!r} is not accepted"
        )
    with seeded(seed):
        module = build().eval()
    if path is not None:
        load(module, read_state_dict(path), str(path))
        init = "pretrained"
    else:
        torch.set_flush_denormal(True)
        init = f"random(seed={seed})"
        if calibrate_batchnorm(module, preprocessing, preprocessing.size, seed):
            init += f", batch-norm statistics from {BN_CALIBRATION_IMAGES} seeded noise images"
        sha = state_dict_sha256(module)
    module = module.eval()
    gen = torch.Generator().manual_seed(0)
    example = torch.randn((2, 3, preprocessing.size, preprocessing.size), generator=gen)
    runner, used = build_runner(
        module,
        example,
        backend,
        key=f"{spec_name}:{sha}",
        prefer=prefer,
        flush_denormal=path is None,
        device=device,
    )
    info = {**preprocessing.describe(), "init": init, "backend": used, **(extra or {})}
    return NetworkExtractor(
        spec_name,
        dim,
        path is not None,
        sha,
        preprocessing,
        runner,
        info,
        default_batch_size=batch_size,
        source=str(path) if path else None,
    )


def _preprocessing_with(base: Preprocessing, resize: str | None) -> Preprocessing:
    if resize is None:
        return base
    if resize not in RESIZERS:
        raise ValueError(f"unknown resize {resize!r}; known: {', '.join(RESIZERS)}")
    return Preprocessing(base.size, resize, base.mean, base.std, base.resize_shorter_to)


def _timm_preprocessing(module: nn.Module) -> Preprocessing:
    from timm.data import resolve_data_config

    cfg = resolve_data_config({}, model=module)
    size = int(cfg["input_size"][-1])
    crop_pct = float(cfg.get("crop_pct") or 1.0)
    filt = {"bicubic": "bicubic-aa", "bilinear": "bilinear-aa"}.get(
        cfg.get("interpolation", "bicubic"), "bicubic-aa"
    )
    shorter = int(math.floor(size / crop_pct))
    return Preprocessing(
        size,
        filt,
        tuple(cfg["mean"]),
        tuple(cfg["std"]),
        resize_shorter_to=shorter if shorter != size else None,
    )


def load_timm(
    model_name: str,
    device: str = "cpu",
    weights: str | None = None,
    allow_untrained: bool = False,
    backend: str = "auto",
    seed: int = 0,
    resize: str | None = None,
    **_: Any,
) -> NetworkExtractor:
    """``timm:<model_name>``: any timm model, pooled features, weights from a local file."""
    import timm

    if not timm.is_model(model_name):
        raise ValueError(f"timm has no model named {model_name!r}")
    with seeded(seed):
        probe_module = _timm(model_name)
    dim = int(probe_module.num_features)
    prep = _preprocessing_with(_timm_preprocessing(probe_module), resize)
    filename = Path(weights).name if weights else f"{model_name}.safetensors"
    weight_file = WeightFile(filename, None, f"a local checkpoint of timm's {model_name}")
    head = probe_module.pretrained_cfg.get("classifier", "head")
    heads = tuple(f"{h}." for h in ([head] if isinstance(head, str) else head))

    def load(module: nn.Module, state: StateDict, origin: str) -> None:
        load_strict(module, _drop(state, heads), origin)

    return _build_extractor(
        f"timm:{model_name}",
        dim,
        lambda: probe_module,
        weight_file,
        load,
        prep,
        "onnx",
        16,
        device,
        weights,
        allow_untrained,
        backend,
        seed,
        extra={"timm_model": model_name},
    )
