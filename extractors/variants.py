"""Variants of any feature space: ``"<space>+<variant>"`` wraps the base space's extractor.

A variant is registered once (`extractors.register_variant`) and applies to every space,
``timm:<model>`` included: ``"arcface+l2"``, ``"inception-fid+l2"``, ``"timm:resnet18+l2"``.
The wrapper carries the base space's dim, trained flag and weights hash over; its name carries
the suffix, so the label (and the untrained badge) shows it everywhere, and its preprocessing
records the variant, so the feature-cache key differs from the base space's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from extractors.base import FeatureExtractor

# Norms below this count as zero: such a feature vector is left as it is (all zeros).
ZERO_NORM = 1e-12


def l2_normalise(features: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit Euclidean length (computed in float64; zero rows stay zero)."""
    f = features.double()
    norms = torch.linalg.vector_norm(f, dim=1, keepdim=True)
    return f / torch.where(norms > ZERO_NORM, norms, torch.ones_like(norms))


class VariantExtractor(FeatureExtractor):
    """A base space followed by a fixed map of its features (see `L2Normalised`)."""

    suffix: str = ""
    what: str = ""

    def __init__(self, base: FeatureExtractor) -> None:
        self.base = base
        self.name = f"{base.name}+{self.suffix}"
        self.dim = base.dim
        self.trained = base.trained
        self.weights_sha256 = base.weights_sha256
        self.default_batch_size = base.default_batch_size
        self.preprocessing: dict[str, Any] = {**base.preprocessing, "variant": self.what}

    def transform(self, features: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _extract(self, images: torch.Tensor) -> torch.Tensor:
        return self.transform(self.base._extract(images)).float()

    @torch.no_grad()
    def __call__(
        self, images: torch.Tensor | np.ndarray, batch_size: int | None = None
    ) -> torch.Tensor:
        """The base space's own call (its batching, face-detection counts), then the map."""
        return self.transform(self.base(images, batch_size=batch_size)).float()

    def __getattr__(self, attr: str) -> Any:
        """Anything else (detection counts, ...) is the base space's."""
        if attr.startswith("__") or attr == "base":
            raise AttributeError(attr)
        return getattr(self.base, attr)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label} of {self.base!r}>"


class L2Normalised(VariantExtractor):
    """The base space's features scaled to unit length before any statistic."""

    suffix = "l2"
    what = "L2-normalised (each feature vector scaled to unit length)"

    def transform(self, features: torch.Tensor) -> torch.Tensor:
        return l2_normalise(features)


__all__ = ["L2Normalised", "VariantExtractor", "l2_normalise"]
