"""MobileStyleGAN behind the Generator interface: seeds -> z -> w -> 1024-px face -> uint8.

- z from seeds with NVIDIA's convention (`RandomState(seed).randn(512)`).
- One style vector: `mapping` returns ws [N, 1, 512] (num_ws = 1; there is no W+).
- Truncation in w around `w_avg`, the mean w of the fixed seeds `W_AVG_SEEDS` (computed once,
  on first use, recorded by `describe`): w' = w_avg + psi (w - w_avg). psi = 1 is the default.
- Images: synthesised at 1024 px, reduced to the working resolution by an area average
  (exact box filter for divisors of 1024, antialiased bilinear otherwise), then NVIDIA's
  uint8 rounding. On the CPU each face runs alone (a fixed batch of one), so the output
  never depends on `batch_size`; on CUDA `micro_batch` faces run together.
- Backend: `backend="auto"` runs the synthesis with ONNX Runtime on the CPU (our module,
  exported once into the user cache and checked against eager PyTorch; 2-3x faster than eager
  here, see experiments/bench/bench_mobilestylegan.py) and eager PyTorch fp32 on CUDA;
  "torch" and "onnx" force one.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from counterfactual.foundation.hashing import content_hash, sha256_file
from counterfactual.foundation.packages import require_package_file
from generators.base import (
    Generator,
    check_image_request,
    latents_from_seeds,
    progress_bar,
    to_uint8,
)
from generators.mobilestylegan import network
from generators.mobilestylegan.ir import read_ir
from generators.mobilestylegan.weights import build_networks

PACKAGE = "random_face"
MOBILESTYLEGAN_INSTALL = "pip install --no-deps random-face==2021.7.21.1"
FILES = {  # file inside the package -> its sha256 (the released IR files)
    "data/MappingNetwork.xml": "73e2096cad6e696e4af47df2477e048ab4c42c0e0dec83c7c66604822689e55b",
    "data/MappingNetwork.bin": "212dd716bdb556e18db603ea97300d4fa3c872b878c726b2402fea80820e7305",
    "data/SynthesisNetwork.xml": "7918fce515243954d3e06628cb39a23902d6b1d5d02932cc0c2faee7a2aeeedd",
    "data/SynthesisNetwork.bin": "c7da15fa22d508c82e1c30dd6b4cdf67fe3ccdddaf85b310ee764dbf0c289645",
}
W_AVG_SEEDS = range(10_000)
DEFAULT_RESOLUTION = 512
NATIVE_RESOLUTION = 1024


class WeightFileError(OSError):
    """A MobileStyleGAN weight file is missing or is not the released one."""


def weight_files(directory: str | Path | None = None) -> dict[str, Path]:
    """The four IR files (from `directory`, else the installed wheel), sha256-checked."""
    paths: dict[str, Path] = {}
    for rel, digest in FILES.items():
        if directory is None:
            try:
                path = require_package_file(PACKAGE, rel, MOBILESTYLEGAN_INSTALL)
            except FileNotFoundError as exc:
                raise WeightFileError(str(exc)) from None
        else:
            path = Path(directory) / Path(rel).name
            if not path.is_file():
                raise WeightFileError(f"MobileStyleGAN weight file not found: {path}")
        if sha256_file(path) != digest:
            raise WeightFileError(
                f"{path}: sha256 {sha256_file(path)[:16]}... is not the "
                f"released file's {digest[:16]}...; reinstall with: "
                f"{MOBILESTYLEGAN_INSTALL}"
            )
        paths[Path(rel).stem + Path(rel).suffix] = path
    return paths


def _parse_resolution(argument: str | None, resolution: int | None) -> int:
    if argument and resolution is not None:
        raise ValueError(
            "give the working resolution once: 'mobilestylegan-ffhq:R' or resolution=R"
        )
    value: Any = argument if argument else resolution
    if value is None:
        return DEFAULT_RESOLUTION
    try:
        res = int(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"mobilestylegan-ffhq: working resolution must be an integer, got "
            f"{value!r} (e.g. 'mobilestylegan-ffhq:256')"
        ) from None
    if not 16 <= res <= NATIVE_RESOLUTION:
        raise ValueError(
            f"mobilestylegan-ffhq: working resolution must be in 16..{NATIVE_RESOLUTION}, got {res}"
        )
    return res


def reduce_resolution(images: torch.Tensor, size: int) -> torch.Tensor:
    """Float NCHW at 1024 -> size x size: area average for divisors, else antialiased."""
    native = images.shape[-1]
    if size == native:
        return images
    if native % size == 0:
        return F.avg_pool2d(images, native // size)
    return F.interpolate(
        images, size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )


class MobileStyleGANGenerator(Generator):
    """MobileStyleGAN-FFHQ (our modules, weights from the released IR)."""

    #: Attribute directions in W learned once with `counterfactual learn-directions`
    #: (bank.json: samples, scorers, held-out balanced accuracy and AUC); sweeps use them.
    direction_bank = Path(__file__).parent / "directions"

    def __init__(
        self,
        *,
        device: str | torch.device = "cpu",
        resolution: int = DEFAULT_RESOLUTION,
        weights_dir: str | Path | None = None,
        backend: str = "auto",
    ) -> None:
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {str(device)!r} requested but CUDA is not available")
        files = weight_files(weights_dir)
        mapping, synthesis = build_networks(
            read_ir(files["MappingNetwork.xml"], files["MappingNetwork.bin"]),
            read_ir(files["SynthesisNetwork.xml"], files["SynthesisNetwork.bin"]),
        )
        self.mapping_net = mapping.to(self.device)
        self.synthesis_net = synthesis.to(self.device)
        self.spec = "mobilestylegan-ffhq"
        self.z_dim = self.w_dim = mapping.dim
        self.num_ws = 1
        self.native_resolution = synthesis.resolution
        self.resolution = int(resolution)
        self.micro_batch = 1 if self.device.type == "cpu" else 8
        self.weights_sha256 = FILES["data/SynthesisNetwork.bin"]
        self.mapping_sha256 = FILES["data/MappingNetwork.bin"]
        self._w_avg: torch.Tensor | None = None
        if backend == "onnx" and self.device.type != "cpu":
            raise ValueError(f"backend 'onnx' runs on the CPU only, not on {str(device)!r}")
        if backend not in ("auto", "torch", "onnx"):
            raise ValueError(
                f"mobilestylegan-ffhq: backend must be 'auto', 'torch' or 'onnx', got {backend!r}"
            )
        self.backend_requested = (
            ("onnx" if self.device.type == "cpu" else "torch") if backend == "auto" else backend
        )
        self._runner: Any = None
        self.backend: str | None = None

    def _synthesise(self, ws: torch.Tensor) -> torch.Tensor:
        """w [B, 512] -> float [B, 3, 1024, 1024] on the device, through the chosen backend."""
        if self.backend_requested == "torch":
            self.backend = "torch"
            if self.device.type == "cuda":  # fp32 convolutions: no TF32 on Ampere and later
                with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
                    return self.synthesis_net(ws)
            return self.synthesis_net(ws)
        if self._runner is None:  # ONNX Runtime, exported once (user cache)
            from extractors.runtime.backends import build_runner

            key = (
                "mobilestylegan-synthesis:"
                + self.weights_sha256
                + ":"
                + content_hash(inspect.getsource(network))[:16]
            )
            self._runner, self.backend = build_runner(
                self.synthesis_net, ws[:1].cpu(), "onnx", key, device="cpu"
            )
        return self._runner(ws.cpu())

    @property
    @torch.no_grad()
    def w_avg(self) -> torch.Tensor:
        """Mean w over `W_AVG_SEEDS` (float64 sum, float32 [512]), computed on first use."""
        if self._w_avg is not None:
            return self._w_avg
        total = torch.zeros(self.w_dim, dtype=torch.float64)
        seeds = list(W_AVG_SEEDS)
        for i in range(0, len(seeds), 1000):
            z = latents_from_seeds(seeds[i : i + 1000], self.z_dim).to(self.device)
            total += self.mapping_net(z).double().sum(0).cpu()
        self._w_avg = (total / len(seeds)).float().to(self.device)
        return self._w_avg

    def _check(self, x: torch.Tensor, what: str) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"{what} must be a floating-point torch.Tensor")
        if x.ndim == 3 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 2 or x.shape[1] != self.z_dim:
            raise ValueError(
                f"{what} must have shape [N, {self.z_dim}] or [N, 1, {self.z_dim}], "
                f"got {list(x.shape)}"
            )
        return x.float().to(self.device)

    @torch.no_grad()
    def mapping(
        self, z: torch.Tensor, truncation_psi: float = 1.0, truncation_cutoff: int | None = None
    ) -> torch.Tensor:
        """z [N, 512] -> ws [N, 1, 512], truncated towards w_avg when psi != 1."""
        if truncation_cutoff is not None and truncation_cutoff != 1:
            raise ValueError(
                "MobileStyleGAN has one style vector (no per-layer ws): "
                f"truncation_cutoff must be None, got {truncation_cutoff}"
            )
        w = self.mapping_net(self._check(z, "z"))
        if truncation_psi != 1:
            w = self.w_avg.lerp(w, float(truncation_psi))
        return w[:, None]

    @torch.no_grad()
    def synthesis(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        """ws [N, 1, 512] (or [N, 512]) -> float images [N, 3, 1024, 1024], on device.

        The released network has constant noise only: `noise_mode` must be "const".
        """
        if noise_mode != "const":
            raise ValueError(
                "MobileStyleGAN's released network has constant noise only: "
                f"noise_mode must be 'const', got {noise_mode!r}"
            )
        return self._synthesise(self._check(ws, "ws"))

    @torch.no_grad()
    def images(
        self,
        latents: torch.Tensor,
        *,
        space: str = "z",
        batch_size: int = 16,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        progress: bool = False,
    ) -> torch.Tensor:
        """uint8 [N, 3, R, R] on the CPU at the working resolution R; any batch_size gives
        the same images (the network always runs `micro_batch` faces at a time)."""
        check_image_request(space, batch_size, truncation_psi, truncation_cutoff)
        latents = self._check(latents, "latents")
        n, mb = len(latents), self.micro_batch
        out = torch.empty(n, 3, self.resolution, self.resolution, dtype=torch.uint8)
        bar = progress_bar(n, progress, desc=f"{self.spec} images")
        for i in range(0, n, mb):
            chunk = latents[i : i + mb]
            real = len(chunk)
            if real < mb:
                chunk = torch.cat([chunk, chunk[:1].expand(mb - real, -1)])
            ws = chunk if space == "w" else self.mapping(chunk, truncation_psi, truncation_cutoff)
            img = reduce_resolution(self._synthesise(self._check(ws, "ws")), self.resolution)
            out[i : i + real] = to_uint8(img[:real]).cpu()
            if bar is not None:
                bar.update(real)
        if bar is not None:
            bar.close()
        return out

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(
            {
                "architecture": "MobileStyleGAN (distilled from StyleGAN2-FFHQ)",
                "native_resolution": self.native_resolution,
                "reduction": "area average to the working resolution (antialiased)",
                "mapping_sha256": self.mapping_sha256,
                "w_avg_seeds": [W_AVG_SEEDS.start, W_AVG_SEEDS.stop],
                "truncation": "w_avg + psi (w - w_avg), one style vector",
                "noise": "constant (released network)",
                "micro_batch": self.micro_batch,
                "backend": self.backend_requested,
            }
        )
        return d


def load_mobilestylegan_ffhq(
    argument: str | None = None,
    device: str | torch.device = "cpu",
    resolution: int | None = None,
    backend: str = "auto",
    **kwargs: Any,
) -> MobileStyleGANGenerator:
    """Registry loader for "mobilestylegan-ffhq[:R]" (R: working resolution, default 512)."""
    if kwargs:
        raise TypeError(f"mobilestylegan-ffhq got unexpected options {sorted(kwargs)}")
    return MobileStyleGANGenerator(
        device=device, backend=backend, resolution=_parse_resolution(argument, resolution)
    )


__all__ = [
    "MobileStyleGANGenerator",
    "load_mobilestylegan_ffhq",
    "weight_files",
    "reduce_resolution",
    "WeightFileError",
    "W_AVG_SEEDS",
    "FILES",
    "MOBILESTYLEGAN_INSTALL",
]
