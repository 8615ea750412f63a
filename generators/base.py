"""The one interface every face generator implements.

A generator turns seeds into uint8 NCHW images, deterministically:

    seeds -> latents(seeds) -> mapping(z) -> ws -> synthesis(ws) -> float NCHW in [-1, 1]
          -> images(...) -> uint8 NCHW

Generators without a W space (DCGAN) use the identity mapping (`w_dim is None`, `ws` is z).
Sample folders have no latents at all: their `images_for_seeds` reads file number `seed`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


def latents_from_seeds(seeds: Sequence[int], z_dim: int) -> torch.Tensor:
    """NVIDIA's convention: z = np.random.RandomState(seed).randn(z_dim), float32 [N, z_dim]."""
    z = np.stack([np.random.RandomState(int(s)).randn(z_dim) for s in seeds])
    return torch.from_numpy(z.astype(np.float32))


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float NCHW in [-1, 1] -> uint8 NCHW, NVIDIA's rounding: (x * 127.5 + 128).clamp(0, 255)."""
    return (images * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def check_image_request(
    space: str, batch_size: int, truncation_psi: float = 1.0, truncation_cutoff: int | None = None
) -> None:
    """The arguments of `Generator.images` that every generator checks the same way: latents
    in "z" or "w", a positive batch size, and no truncation of ws that `mapping` already made."""
    if space not in ("z", "w"):
        raise ValueError(f"space must be 'z' or 'w', got {space!r}")
    if space == "w" and (truncation_psi != 1 or truncation_cutoff is not None):
        raise ValueError(
            "truncation is applied by mapping(); ws (space='w') are already "
            "truncated, so leave truncation_psi=1 and truncation_cutoff=None"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")


def progress_bar(total: int, enabled: bool, desc: str) -> Any:
    """A tqdm bar counting images, or None when progress is off."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img")


class Generator(ABC):
    """Face generator behind one interface."""

    spec: str  # the load_generator spec that built it
    z_dim: int | None  # None for sample folders
    w_dim: int | None  # None without a W space
    num_ws: int | None  # number of per-layer w vectors (W+), None without W
    resolution: int  # output images are resolution x resolution
    weights_sha256: str | None  # sha256 of the weight file (None for folders)
    device: torch.device

    def latents(self, seeds: Sequence[int]) -> torch.Tensor:
        """z for each seed (NVIDIA's RandomState convention), float32 [N, z_dim]."""
        if self.z_dim is None:
            raise TypeError(f"{self.spec} has no latent space")
        return latents_from_seeds(seeds, self.z_dim)

    @abstractmethod
    def mapping(
        self, z: torch.Tensor, truncation_psi: float = 1.0, truncation_cutoff: int | None = None
    ) -> torch.Tensor:
        """z [N, z_dim] -> ws [N, num_ws, w_dim] (or z itself, truncated, without a W space)."""

    @abstractmethod
    def synthesis(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        """ws -> float images NCHW, roughly in [-1, 1]."""

    @abstractmethod
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
        """uint8 NCHW (on CPU) for latents in `space` ("z" or "w"); the same for any batch size
        (batched StyleGAN2 synthesis: to float rounding, within one uint8 level)."""

    def images_for_seeds(self, seeds: Sequence[int], **kwargs: Any) -> torch.Tensor:
        """Generate the images of these seeds (z from `latents`)."""
        return self.images(self.latents(seeds), space="z", **kwargs)

    def describe(self) -> dict[str, Any]:
        """Everything that determines this generator's output, for manifests and cache keys."""
        return {
            "spec": self.spec,
            "class": type(self).__name__,
            "z_dim": self.z_dim,
            "w_dim": self.w_dim,
            "num_ws": self.num_ws,
            "resolution": self.resolution,
            "weights_sha256": self.weights_sha256,
        }
