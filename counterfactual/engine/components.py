"""Where an engine gets its parts (generator, extractors, interventions, scorers, feature
cache); every default loads lazily, and tests swap in stand-ins."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

    from counterfactual.config import SpaceConfig, VerificationConfig


def _default_generator(spec: str, device: str, **options: Any) -> Any:
    from generators import load_generator

    return load_generator(spec, device=device, **options)


def _default_extractor(space: SpaceConfig, device: str) -> Any:
    from extractors import load_extractor

    options = {"weights": space.weights} if space.weights else {}
    return load_extractor(
        space.name, device=device, allow_untrained=space.allow_untrained, **options
    )


def _default_intervention(name: str, params: dict[str, Any]) -> Any:
    from counterfactual.interventions import build_intervention

    return build_intervention(name, **params)


def _default_scorer(name: str) -> Callable[[torch.Tensor], Any]:
    from extractors.scorers import load_scorer

    return load_scorer(name)


def _default_identity() -> Callable[[torch.Tensor, torch.Tensor], Any]:
    from extractors.scorers import identity_similarity

    return identity_similarity


def _default_verify(
    base: torch.Tensor,
    twin: torch.Tensor,
    scorers: dict[str, Callable],
    target: str | None,
    identity: Callable | None,
    settings: VerificationConfig,
    parsing: Callable | None = None,
) -> dict:
    from counterfactual.interventions.verify import verify_intervention

    return verify_intervention(base, twin, scorers, target, identity, settings, parsing).to_dict()


def _default_parsing_agreement() -> Callable[[torch.Tensor, torch.Tensor], np.ndarray]:
    """Per-pair parsing agreement twin vs base from the shared face parsing (cached by content)."""
    from counterfactual.interventions.regions import detect_parsing
    from counterfactual.interventions.verify import parsing_agreement

    return lambda base, twin: parsing_agreement(detect_parsing(base), detect_parsing(twin))


def _default_cache(root: Path) -> Any:
    from extractors.runtime.cache import FeatureCache

    return FeatureCache(root)


def _default_feature_key(identity: dict[str, Any], description: dict[str, Any]) -> str:
    from extractors.runtime.cache import feature_key

    return feature_key(identity, description)


@dataclass
class Components:
    """Where the executor gets its parts; tests swap in stand-ins."""

    load_generator: Callable[..., Any] = _default_generator  # (spec, device, **options)
    load_extractor: Callable[[SpaceConfig, str], Any] = _default_extractor
    build_intervention: Callable[[str, dict[str, Any]], Any] = _default_intervention
    load_scorer: Callable[[str], Callable] = _default_scorer
    identity_similarity: Callable[[], Callable] = _default_identity
    verify: Callable[..., dict] = _default_verify
    parsing_agreement: Callable[[], Callable] = _default_parsing_agreement
    feature_cache: Callable[[Path], Any] = _default_cache
    feature_key: Callable[[dict, dict], str] = _default_feature_key
