"""The Intervention interface and the registry that builds interventions from config names.

An intervention turns base images (one per seed) into counterfactual twins that differ
from their base in one attribute: twin i pairs with base i (same seed, one edit).

    intervention = build_intervention("gender", shift=0.4)
    intervention.prepare(generator, workdir)           # learn/load directions (cached)
    twins = intervention.counterfactual(generator, seeds, base_images)

Names are registered with `register_intervention`; "prefix" names take an argument after
a colon ("blur:eyes", "direction:/path/boundary.npy").
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from counterfactual.foundation.registry import Registry

if TYPE_CHECKING:
    import torch


class Intervention(ABC):
    """One counterfactual edit applied to every base image of a matched set."""

    name: str
    synthetic: bool = False  # True for pixel-space occluders drawn by us
    uses_latents: bool = False  # True when twins need the generator's latents (not a folder)
    target_scorer: str | None = None  # scorer whose shift verifies the edit

    def prepare(self, generator: Any, workdir: Path, progress: bool = False) -> None:  # noqa: B027
        """Learn or load whatever the edit needs (idempotent; caches under `workdir`).

        The default does nothing: pixel edits need no preparation."""

    @abstractmethod
    def counterfactual(
        self,
        generator: Any,
        seeds: Sequence[int],
        base_images: torch.Tensor,
        batch_size: int = 16,
        progress: bool = False,
    ) -> torch.Tensor:
        """uint8 NCHW twins; twin i is base i (same seed) with this one intervention."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Everything that determines the twins (for cache keys and the manifest)."""


def check_base_images(
    base_images: torch.Tensor | np.ndarray, seeds: Sequence[int] | None = None
) -> torch.Tensor:
    """Validate a uint8 NCHW RGB batch (matching `seeds` in length) and return it as a tensor."""
    import torch

    if isinstance(base_images, np.ndarray):
        base_images = torch.from_numpy(base_images)
    if not isinstance(base_images, torch.Tensor) or base_images.dtype != torch.uint8:
        raise TypeError("base_images must be a uint8 NCHW tensor")
    if base_images.ndim != 4 or base_images.shape[1] != 3:
        raise ValueError(f"base_images must have shape [N, 3, H, W], got {list(base_images.shape)}")
    if seeds is not None and len(seeds) != len(base_images):
        raise ValueError(f"{len(seeds)} seeds but {len(base_images)} base images")
    return base_images.cpu()


INTERVENTIONS = Registry("intervention")


def register_intervention(
    name: str, factory: Callable[..., Intervention], prefix: bool = False, arg_help: str = ""
) -> None:
    """Register `factory(**params)` under `name`; prefix=True: "name:<arg>" calls factory(arg, **params)."""
    INTERVENTIONS.register(
        name, factory, argument="required" if prefix else "none", arg_help=arg_help or "arg"
    )


def available_interventions() -> list[str]:
    """Registered names, prefixes shown as "name:<arg>"."""
    return sorted(e.display for e in INTERVENTIONS)


def _check_params(
    name: str, factory: Callable[..., Any], params: dict[str, Any], skip: int
) -> None:
    sig = inspect.signature(factory)
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return
    allowed = [
        p.name
        for p in list(sig.parameters.values())[skip:]
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"intervention {name!r}: unknown parameter(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(allowed) or 'none'}"
        )


def build_intervention(name: str, **params: Any) -> Intervention:
    """Build a registered intervention from its config name ("gender", "blur:eyes", ...)."""
    entry, arg = INTERVENTIONS.lookup(name)
    factory = entry.resolve()
    _check_params(name, factory, params, skip=0 if arg is None else 1)
    return factory(**params) if arg is None else factory(arg, **params)
