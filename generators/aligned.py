"""Any generator's faces brought to a dataset framing (`align="celeba"` / `"ffhq"`).

`AlignedGenerator` wraps a generator: each generated image is detected (SCRFD, five
landmarks) and framed by `extractors.face.framing` at the generator's own resolution.
**No-face policy for generated sets:** an image where no face is detected is framed from the
detector's canonical landmarks (`extractors.face.detect.canonical_kps5`: the ArcFace template
scaled to the image, the framing of an aligned generator crop, which the face spaces also
assume for such images), and its seed is named in `last_fallback_seeds` (the rank engine
prints it and records it in the run manifest). Dropping those faces instead would bias a
generator's distance in its favour (they are mostly its worst samples); a sample folder, by
contrast, refuses or skips them (`generators.folder`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from generators.base import Generator


class AlignedGenerator(Generator):
    """`inner`'s images, framed by `align` (see the module doc)."""

    def __init__(self, inner: Generator, align: str, device: str = "cpu") -> None:
        from extractors.face.framing import FaceAligner

        self.inner, self.align = inner, align
        self.aligner = FaceAligner(align, str(device))
        self.spec = inner.spec
        self.z_dim, self.w_dim, self.num_ws = inner.z_dim, inner.w_dim, inner.num_ws
        self.resolution, self.weights_sha256 = inner.resolution, inner.weights_sha256
        self.device = inner.device
        self.last_fallback_seeds: list[int] = []

    def __getattr__(self, name: str) -> Any:  # anything else: the wrapped generator's
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def frame(self, images: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
        """uint8 NCHW -> (framed uint8 NCHW at the same size, indices framed by the fallback)."""
        from extractors.face.detect import canonical_kps5
        from extractors.face.framing import warp_quad

        f = self.aligner.framing
        arr = torch.as_tensor(images).cpu().numpy()
        out = np.empty((len(arr), 3, self.resolution, self.resolution), dtype=np.uint8)
        fallback = []
        for i, chw in enumerate(arr):
            hwc = np.ascontiguousarray(chw.transpose(1, 2, 0))
            kps = self.aligner.landmarks(hwc)
            if kps is None:
                fallback.append(i)
                kps = canonical_kps5(*hwc.shape[:2])
            out[i] = warp_quad(hwc, f.quad(kps), self.resolution, f.padding).transpose(2, 0, 1)
        return torch.from_numpy(out), fallback

    def images_for_seeds(self, seeds: Sequence[int], **kwargs: Any) -> torch.Tensor:
        framed, fallback = self.frame(self.inner.images_for_seeds(seeds, **kwargs))
        self.last_fallback_seeds = [int(seeds[i]) for i in fallback]
        return framed

    def images(self, latents: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        framed, fallback = self.frame(self.inner.images(latents, **kwargs))
        self.last_fallback_seeds = []
        return framed

    def mapping(
        self, z: torch.Tensor, truncation_psi: float = 1.0, truncation_cutoff: int | None = None
    ) -> torch.Tensor:
        return self.inner.mapping(z, truncation_psi, truncation_cutoff)

    def synthesis(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        raise TypeError(
            f"{self.spec} with align={self.align!r}: synthesis is not framed; use "
            "images() or images_for_seeds()"
        )

    def describe(self) -> dict[str, Any]:
        return {
            **self.inner.describe(),
            "align": self.aligner.describe(),
            "align_no_face": "canonical landmarks (ArcFace template scaled), seeds named",
        }


__all__ = ["AlignedGenerator"]
