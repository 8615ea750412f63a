"""Interventions on real DCGAN-DigiFace faces with the real landmark and scorer networks.

Skipped (with the reason) when the weight-carrier packages are not installed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from counterfactual.interventions import build_intervention, verify_intervention
from counterfactual.interventions.regions import (
    REGIONS,
    detect_landmarks,
    detect_parsing,
    parsing_masks,
    region_masks,
)

SEEDS = [0, 1, 2, 3, 4, 5]


@pytest.fixture(scope="module")
def dcgan():
    import generators

    try:
        return generators.load_generator("dcgan-digiface")
    except FileNotFoundError as exc:
        pytest.skip(f"DCGAN weights missing: {exc}")


@pytest.fixture(scope="module")
def base(dcgan):
    return dcgan.images_for_seeds(SEEDS)


@pytest.fixture(scope="module")
def landmarks(base):
    try:
        return detect_landmarks(base)
    except FileNotFoundError as exc:
        pytest.skip(f"face landmark weights missing: {exc}")


def test_truncation_on_dcgan(dcgan, base):
    assert torch.equal(
        build_intervention("truncation", psi=1.0).counterfactual(dcgan, SEEDS, base), base
    )
    flat = build_intervention("truncation", psi=0.0).counterfactual(dcgan, SEEDS, base)
    assert torch.equal(flat, flat[:1].expand_as(flat))
    half = build_intervention("truncation").counterfactual(dcgan, SEEDS, base)
    assert torch.equal(half, dcgan.images(dcgan.latents(SEEDS) * 0.5))


def test_region_masks_sit_on_real_landmarks(base, landmarks):
    from extractors.face.detect import LMK106_PUPILS, landmarks_106
    from extractors.face.locate import detect_faces

    assert landmarks.found.mean() > 0.5
    pupils = np.asarray(landmarks_106(base, detect_faces(base).boxes))[:, list(LMK106_PUPILS)]
    masks = {r: region_masks(landmarks, r)[:, 0].numpy() for r in ("eyes", "mouth", "hat", "skin")}
    for i in np.flatnonzero(landmarks.found):
        for x, y in pupils[i]:
            r, c = int(round(y)), int(round(x))
            assert masks["eyes"][i, r, c] == 1.0
            assert masks["hat"][i, r, c] == 0.0 and masks["skin"][i, r, c] == 0.0
        mx, my = landmarks.mouth[i].mean(0)
        assert masks["mouth"][i, int(round(my)), int(round(mx))] == 1.0


@pytest.mark.parametrize("region", REGIONS)
def test_blur_region_on_real_faces(dcgan, base, landmarks, region):
    twins = build_intervention(f"blur:{region}").counterfactual(dcgan, SEEDS, base)
    mask = parsing_masks(detect_parsing(base, 512), region, (64, 64), soft=False)  # the study's
    outside = (mask == 0).expand_as(base)
    assert torch.equal(twins[outside], base[outside])
    changed = (twins != base).any(dim=1).float().mean(dim=(1, 2))
    covered = (mask[:, 0] > 0.5).float().mean(dim=(1, 2))
    assert (changed[covered > 0.01] > 0.005).all(), f"blur:{region} left a covered image unchanged"
    assert (changed[covered == 0] < 0.05).all()


def test_landmark_masks_remain_an_option(dcgan, base, landmarks):
    twins = build_intervention("blur:eyes", masks="landmarks").counterfactual(dcgan, SEEDS, base)
    outside = (region_masks(landmarks, "eyes") == 0).expand_as(base)
    assert torch.equal(twins[outside], base[outside]) and not torch.equal(twins, base)


def test_synthetic_hat_on_real_faces(dcgan, base, landmarks):
    hat = build_intervention("hat_occluder")
    twins = hat.counterfactual(dcgan, SEEDS, base)
    assert torch.equal(twins, hat.counterfactual(dcgan, SEEDS, base))
    for i in range(len(SEEDS)):
        eye_top = int(np.floor(landmarks.eyes[i][:, 1].min()))
        assert torch.equal(twins[i, :, eye_top:], base[i, :, eye_top:])
        assert (twins[i, :, :eye_top] != base[i, :, :eye_top]).any(dim=0).float().mean() > 0.1


def test_verification_on_real_scorers(dcgan, base):
    try:
        from extractors.scorers import identity_similarity, load_scorer

        scorers = {"gender": load_scorer("gender"), "age": load_scorer("age")}
    except FileNotFoundError as exc:
        pytest.skip(f"scorer weights missing: {exc}")
    same = verify_intervention(base, base.clone(), scorers, "gender", identity=identity_similarity)
    assert [f.code for f in same.flags] == ["target_too_small"]
    assert same.identity.mean > 0.99
    blurred = build_intervention("blur:all").counterfactual(dcgan, SEEDS, base)
    res = verify_intervention(base, blurred, scorers, None, identity=identity_similarity)
    assert res.identity.mean < same.identity.mean


@pytest.mark.slow
def test_learned_gender_edit_moves_gender(dcgan, tmp_path):
    try:
        from extractors.scorers import identity_similarity, load_scorer

        scorers = {"gender": load_scorer("gender"), "age": load_scorer("age")}
    except FileNotFoundError as exc:
        pytest.skip(f"scorer weights missing: {exc}")
    edit = build_intervention("gender", n_samples=600, quantile=0.25)
    edit.prepare(dcgan, tmp_path)
    assert (
        edit.direction.provenance["held_out_balanced_accuracy"] > 0.55
    )  # 0.62 at M=600, 0.74 at M=2000
    seeds = list(range(100, 132))
    base = dcgan.images_for_seeds(seeds)
    twins = edit.counterfactual(dcgan, seeds, base)
    res = verify_intervention(base, twins, scorers, "gender", identity=identity_similarity)
    assert res.target_shift.shift > 0 and res.target_shift.ci_excludes_zero
