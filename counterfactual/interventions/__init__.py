"""Counterfactual interventions: edits that change one attribute of a base face.

    build_intervention(name, **params) -> Intervention
    names: gender, age, hair_length, hat (learned latent edits), hat_occluder (synthetic),
           truncation, blur:<region>, fill:<region>, direction:<path.npy>,
           distortions flip:vertical|horizontal, rotate, shift, erase, swirl, puzzle, noise, jpeg,
           resample (one strength parameter each)
    regions: eyes, brows, nose, mouth, hair, hat, skin, ears, neck, background, all
             (parsing masks; masks = "landmarks": eyes, nose, mouth, hair, skin, background, hat, all)

Modules: base (interface, registry), latent (Z/W/W+ edits), directions (load/learn/
condition/calibrate), attributes (latent attribute edits), truncation, regions (masks),
pixel (blur, fill, synthetic hat), distortions (global pixel distortions), verify (did the edit change its attribute only?).
"""
from counterfactual.interventions import attributes as _attributes  # noqa: F401 (registers)
from counterfactual.interventions import distortions as _distortions  # noqa: F401 (registers)
from counterfactual.interventions import pixel as _pixel  # noqa: F401 (registers)
from counterfactual.interventions import truncation as _truncation  # noqa: F401 (registers)
from counterfactual.interventions.base import (
    Intervention, available_interventions, build_intervention, register_intervention)
from counterfactual.interventions.directions import (
    Direction, LearnSettings, calibrate_alpha, condition_direction, learn_direction, load_direction,
    save_direction)
from counterfactual.interventions.regions import (
    LANDMARK_REGIONS, REGIONS, FaceLandmarks, parsing_masks, region_masks)
from counterfactual.interventions.verify import VerificationResult, verify_intervention

__all__ = ["Intervention", "build_intervention", "register_intervention", "available_interventions",
           "Direction", "LearnSettings", "learn_direction", "load_direction", "save_direction",
           "condition_direction", "calibrate_alpha", "REGIONS", "LANDMARK_REGIONS", "FaceLandmarks",
           "region_masks", "parsing_masks",
           "VerificationResult", "verify_intervention"]
