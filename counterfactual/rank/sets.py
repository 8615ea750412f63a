"""Image sets of a rank run: generated once, fed to every feature space, features cached.

Each set (the reference, then each generator) is generated only when some space lacks its
features; its images stay in memory while every such space extracts them, and the features go
to the run's `extractors.runtime.cache.FeatureCache` under `feature_key(set identity, extractor)`,
by the shared feature engine (`counterfactual.engine.features.FeatureEngine`). A set's identity is
everything that determines its images:
the generator's `describe()` (spec, weights hash; a folder's file-list hash), the seeds and
the truncation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from counterfactual.errors import UserError
from counterfactual.rank.config import REFERENCE_ID, RankConfig, SetConfig


@dataclass(frozen=True)
class ImageSet:
    """One set of a rank run: which generator, how, and which seeds."""

    id: str
    role: str  # "reference" or "generator"
    spec: str
    truncation_psi: float
    truncation_cutoff: int | None
    seeds: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict)  # load_generator options (folder, align)

    def generation_kwargs(self) -> dict[str, Any]:
        """Truncation arguments for `images_for_seeds` (omitted at their defaults)."""
        out: dict[str, Any] = {}
        if self.truncation_psi != 1.0:
            out["truncation_psi"] = self.truncation_psi
        if self.truncation_cutoff is not None:
            out["truncation_cutoff"] = self.truncation_cutoff
        return out

    def identity(self, generator_description: dict[str, Any]) -> dict[str, Any]:
        """Everything that determines the set's images (the feature-cache key input)."""
        return {
            "generator": generator_description,
            "seeds": list(self.seeds),
            "truncation_psi": self.truncation_psi,
            "truncation_cutoff": self.truncation_cutoff,
        }

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "role": self.role,
            "spec": self.spec,
            "truncation_psi": self.truncation_psi,
            "truncation_cutoff": self.truncation_cutoff,
            "n": len(self.seeds),
            "seeds_first": int(self.seeds[0]),
            "seeds_last": int(self.seeds[-1]),
            "options": dict(self.options),
            "align": self.options.get("align"),
        }


def _image_set(config: RankConfig, item: SetConfig, set_id: str, role: str) -> ImageSet:
    return ImageSet(
        set_id,
        role,
        item.spec,
        float(item.truncation_psi),
        item.truncation_cutoff,
        tuple(config.seeds_of(item)),
        item.loader_options(),
    )


def image_sets(config: RankConfig) -> list[ImageSet]:
    """The reference set first, then the generators in config order."""
    out = [_image_set(config, config.reference, REFERENCE_ID, "reference")]
    out += [_image_set(config, g, g.key, "generator") for g in config.generators]
    return out


def check_seeds_available(generator: Any, image_set: ImageSet) -> None:
    """A sample folder must hold a file for every requested index."""
    if hasattr(generator, "__len__"):
        size = len(generator)
        if max(image_set.seeds) >= size:
            raise UserError(
                f"set {image_set.id!r}: {image_set.spec} holds {size} images but "
                f"the config asks for indices up to {max(image_set.seeds)}; lower "
                "its seeds count (every generator needs the same count)"
            )


def generate(generator: Any, image_set: ImageSet, batch_size: int, progress: bool) -> torch.Tensor:
    """The set's images: uint8 NCHW on the CPU."""
    check_seeds_available(generator, image_set)
    images = generator.images_for_seeds(
        list(image_set.seeds),
        batch_size=batch_size,
        progress=progress,
        **image_set.generation_kwargs(),
    )
    images = torch.as_tensor(images).cpu().contiguous()
    if images.dtype != torch.uint8 or images.ndim != 4 or len(images) != len(image_set.seeds):
        raise RuntimeError(
            f"set {image_set.id!r}: generator returned {list(images.shape)} "
            f"{images.dtype}; expected {len(image_set.seeds)} uint8 NCHW images"
        )
    return images
