"""Truncation as an intervention: twins are the bases' latents pulled towards the centre.

StyleGAN (NVIDIA's semantics): w' = w_avg + psi * (w - w_avg) on layers [0, cutoff)
(all layers when cutoff is None). Gaussian-latent GANs without W (DCGAN): z' = psi * z,
the analogue with w_avg = 0. The generator does the work through
`generator.images(z, truncation_psi=psi, truncation_cutoff=cutoff)`; `truncate` is the
closed form, shared by tests and by anyone holding ws.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from counterfactual.interventions.base import Intervention, check_base_images, register_intervention

if TYPE_CHECKING:
    import torch


def truncate(
    ws: torch.Tensor, w_avg: torch.Tensor | float, psi: float, cutoff: int | None = None
) -> torch.Tensor:
    """w_avg + psi * (ws - w_avg) on layers [0, cutoff) of ws [N, num_ws, dim] (or all of [N, dim])."""
    import torch

    if psi == 1:
        return ws.clone()
    w_avg = torch.as_tensor(w_avg, dtype=ws.dtype, device=ws.device).expand_as(ws[:1])
    out = ws.clone()
    layers = slice(None) if cutoff is None or ws.ndim == 2 else slice(None, cutoff)
    out[:, layers] = w_avg[:, layers].lerp(ws[:, layers], psi)  # NVIDIA: w_avg.lerp(w, psi)
    return out


class Truncation(Intervention):
    """Twins drawn from the same seeds with truncation psi (and optional cutoff)."""

    synthetic = False
    uses_latents = True
    target_scorer = None

    def __init__(self, psi: float = 0.5, cutoff: int | None = None) -> None:
        psi = float(psi)
        if not 0.0 <= psi <= 1.0:
            raise ValueError(f"truncation psi must be in [0, 1], got {psi}")
        if cutoff is not None and int(cutoff) < 1:
            raise ValueError(f"truncation cutoff must be a positive layer count, got {cutoff}")
        self.psi, self.cutoff = psi, None if cutoff is None else int(cutoff)
        self.name = "truncation"

    def prepare(self, generator: Any, workdir: Any, progress: bool = False) -> None:
        if self.cutoff is not None and not getattr(generator, "num_ws", None):
            raise ValueError(
                f"truncation cutoff needs a generator with W+ layers; "
                f"{getattr(generator, 'spec', 'this generator')} has none"
            )

    def counterfactual(
        self,
        generator: Any,
        seeds: Sequence[int],
        base_images: torch.Tensor,
        batch_size: int = 16,
        progress: bool = False,
    ) -> torch.Tensor:
        check_base_images(base_images, seeds)
        self.prepare(generator, None)
        return generator.images(
            generator.latents(list(seeds)),
            space="z",
            batch_size=batch_size,
            truncation_psi=self.psi,
            truncation_cutoff=self.cutoff,
            progress=progress,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "truncation",
            "synthetic": False,
            "psi": self.psi,
            "cutoff": self.cutoff,
            "rule": "w_avg + psi * (w - w_avg) on layers < cutoff; z * psi without a W space",
        }


def make_truncation(*, psi: float = 0.5, cutoff: int | None = None) -> Truncation:
    """truncation: params psi (default 0.5) and cutoff (StyleGAN layers, default all)."""
    return Truncation(psi=psi, cutoff=cutoff)


register_intervention("truncation", make_truncation)
