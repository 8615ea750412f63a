"""Counterfactual interventions: edits that change one attribute of a base face.

    build_intervention(name, **params) -> Intervention
    names: gender, age, hair_length, hat, eyeglasses, smile, skin_tone, bangs (learned latent edits), hat_occluder (synthetic),
           truncation, blur:<region>, fill:<region>, direction:<path.npy>,
           distortions flip:vertical|horizontal, rotate, shift, erase, swirl, puzzle, noise, jpeg,
           resample (one strength parameter each)
    regions: eyes, brows, nose, mouth, hair, hat, skin, ears, neck, background, all
             (parsing masks; masks = "landmarks": eyes, nose, mouth, hair, skin, background, hat, all)

Modules: base (interface, registry), latent (Z/W/W+ edits), directions (load/learn/
condition/calibrate), labelling (rules that label samples for learning), attributes (latent attribute edits), truncation, regions (masks),
pixel (blur, fill, synthetic hat), distortions (global pixel distortions), verify (did the edit change its attribute only?).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from counterfactual.interventions import attributes as _attributes  # noqa: F401 (registers)
from counterfactual.interventions import distortions as _distortions  # noqa: F401 (registers)
from counterfactual.interventions import pixel as _pixel  # noqa: F401 (registers)
from counterfactual.interventions import truncation as _truncation  # noqa: F401 (registers)
from counterfactual.interventions.base import (
    Intervention,
    available_interventions,
    build_intervention,
    register_intervention,
)

# Registering and building interventions (config validation) needs neither torch nor OpenCV:
# those load when an edit runs. The rest is imported on first use (PEP 562).
_EXPORTS = {
    **dict.fromkeys(
        (
            "Direction",
            "LearnSettings",
            "calibrate_alpha",
            "condition_direction",
            "learn_direction",
            "load_direction",
            "save_direction",
        ),
        "counterfactual.interventions.directions",
    ),
    **dict.fromkeys(
        ("LANDMARK_REGIONS", "REGIONS", "FaceLandmarks", "parsing_masks", "region_masks"),
        "counterfactual.interventions.regions",
    ),
    **dict.fromkeys(
        ("VerificationResult", "verify_intervention"), "counterfactual.interventions.verify"
    ),
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)


__all__ = [
    "Intervention",
    "build_intervention",
    "register_intervention",
    "available_interventions",
    "Direction",
    "LearnSettings",
    "learn_direction",
    "load_direction",
    "save_direction",
    "condition_direction",
    "calibrate_alpha",
    "REGIONS",
    "LANDMARK_REGIONS",
    "FaceLandmarks",
    "region_masks",
    "parsing_masks",
    "VerificationResult",
    "verify_intervention",
]
