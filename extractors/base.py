"""The one interface every feature space implements.

`extractor(images)` takes a uint8 NCHW batch (torch tensor or numpy array, any resolution,
RGB) and returns float32 features [N, dim] on the CPU. Each extractor owns its
preprocessing (resize filter, crop, normalisation, face alignment) and records it in
`preprocessing`, which is part of every cache key and every output.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import torch

from extractors.runtime import torchvision_compat

torchvision_compat.install()  # before any feature space imports timm, open_clip or facenet

UNTRAINED_LABEL = "untrained"


def as_uint8_nchw(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Validate and convert a batch to a uint8 NCHW RGB torch tensor (CPU)."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"expected a uint8 NCHW tensor or array, got {type(images).__name__}")
    if images.dtype != torch.uint8:
        raise TypeError(f"expected uint8 images, got dtype {images.dtype}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected images of shape [N, 3, H, W], got {list(images.shape)}")
    return images


class FeatureExtractor(ABC):
    """A feature space: uint8 NCHW images -> float features [N, dim]."""

    name: str
    dim: int
    trained: bool
    weights_sha256: str | None
    preprocessing: dict[str, Any]
    default_batch_size: int = 32

    @property
    def label(self) -> str:
        """Display name; random-weight spaces are marked untrained everywhere they appear."""
        return self.name if self.trained else f"{self.name} ({UNTRAINED_LABEL})"

    @abstractmethod
    def _extract(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 NCHW CPU batch -> float features [N, dim]."""

    @torch.no_grad()
    def __call__(
        self, images: torch.Tensor | np.ndarray, batch_size: int | None = None
    ) -> torch.Tensor:
        images = as_uint8_nchw(images)
        bs = batch_size or self.default_batch_size
        chunks = [
            self._extract(images[i : i + bs]).float().cpu() for i in range(0, len(images), bs)
        ]
        if not chunks:
            return torch.zeros(0, self.dim)
        return torch.cat(chunks)

    def describe(self) -> dict[str, Any]:
        """Everything that determines the features, for manifests and cache keys."""
        return {
            "name": self.name,
            "label": self.label,
            "dim": self.dim,
            "trained": self.trained,
            "weights_sha256": self.weights_sha256,
            "preprocessing": self.preprocessing,
        }
