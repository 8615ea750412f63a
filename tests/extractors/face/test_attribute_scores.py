"""The parsing/landmark attribute scorers eyeglasses, smile, skin_tone and bangs: closed forms on
synthetic maps, and on real MobileStyleGAN faces labelled by eye (tests/data/eye_labels):
AUC against the labels, scale-free (128/256/512 px) and batch-invariant."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from counterfactual.interventions.labelling import auc
from extractors.face.attribute_scores import (
    BANGS_BOX_HEIGHT,
    ParsedFaces,
    bangs_score,
    eyeglasses_score,
    ita_score,
    smile_score,
)
from extractors.face.parsing_classes import PARSING_CLASSES
from helpers.paths import DATA

LABELS = DATA / "eye_labels" / "mobilestylegan_256.json"
C = {n: i for i, n in enumerate(PARSING_CLASSES)}


def _landmarks(scale: float = 1.0) -> np.ndarray:
    """106 points of a face on a 128 frame: pupils at y 50, chin at y 100, brows at y 40
    spanning x 34..94, mouth corners 44 apart, outer eye corners 60 apart."""
    p = np.full((106, 2), 64.0)
    p[38], p[88] = (44, 50), (84, 50)
    p[0] = (64, 100)
    p[43:52, 0], p[97:106, 0] = np.linspace(34, 62, 9), np.linspace(66, 94, 9)
    p[43:52, 1] = p[97:106, 1] = 40
    p[52], p[61] = (42, 80), (86, 80)
    p[35], p[93] = (34, 50), (94, 50)
    return p[None] * scale


def test_eyeglasses_is_the_glasses_share_of_the_face():
    m = np.zeros((1, 128, 128), np.uint8)
    m[0, 30:110, 30:98] = C["skin"]  # 80 x 68 face
    assert eyeglasses_score(m)[0] == 0.0
    m[0, 45:55, 35:93] = C["eyeglasses"]
    assert eyeglasses_score(m)[0] == pytest.approx(10 * 58 / (80 * 68))
    assert eyeglasses_score(np.kron(m, np.ones((1, 3, 3), np.uint8)))[0] == pytest.approx(
        10 * 58 / (80 * 68)
    )
    assert eyeglasses_score(np.zeros((1, 8, 8), np.uint8))[0] == 0.0  # nothing parsed


def test_smile_is_mouth_width_over_eye_corner_distance_and_scale_free():
    faces = ParsedFaces(np.zeros((1, 128, 128), np.uint8), _landmarks())
    assert smile_score(faces)[0] == pytest.approx(44 / 60)
    big = ParsedFaces(np.zeros((1, 512, 512), np.uint8), _landmarks(4.0))
    assert smile_score(big)[0] == pytest.approx(44 / 60)


def test_bangs_is_the_hair_share_of_the_forehead_box():
    # brow line y 40, face height 50 -> box rows [15, 40), columns [34, 94)
    assert BANGS_BOX_HEIGHT == 0.5
    scores = []
    for fringe_bottom in (0, 15, 25, 40):
        m = np.zeros((1, 128, 128), np.uint8)
        m[0, :fringe_bottom, 20:108] = C["hair"]
        scores.append(bangs_score(ParsedFaces(m, _landmarks()))[0])
    np.testing.assert_allclose(scores, [0.0, 0.0, 10 / 25, 1.0])
    m = np.zeros((1, 128, 128), np.uint8)
    m[0, :25, 20:108] = C["hair"]
    big = np.kron(m, np.ones((1, 2, 2), np.uint8))
    assert bangs_score(ParsedFaces(big, _landmarks(2.0)))[0] == pytest.approx(10 / 25)


def test_ita_of_a_uniform_skin_colour_is_the_closed_form():
    from skimage.color import rgb2lab

    m = np.zeros((2, 64, 64), np.uint8)
    m[:, 18:46, 18:46] = C["skin"]  # inside the colour patch (32..96 at 128 px)
    colours = np.array([[224, 172, 140], [120, 75, 50]], np.uint8)  # light, dark
    images = torch.zeros(2, 3, 128, 128, dtype=torch.uint8)
    images[:, :, 32:96, 32:96] = torch.from_numpy(colours)[:, :, None, None]
    images[:, :, :32] = 255  # not skin: ignored
    ita = ita_score(ParsedFaces(m, _landmarks(0.5).repeat(2, 0), images))
    lab = rgb2lab(colours[None] / 255.0)[0]
    expected = np.degrees(np.arctan((lab[:, 0] - 50) / lab[:, 2]))
    np.testing.assert_allclose(ita, expected, atol=1e-6)
    assert ita[0] > 41 > ita[1]  # light (> 41) vs tan/brown in Chardon's bins
    assert np.isnan(
        ita_score(ParsedFaces(np.zeros((1, 64, 64), np.uint8), _landmarks(0.5), images[:1]))
    )[0]


# -- real faces, labelled by eye --------------------------------------------------------------
def _needs_face_weights() -> None:
    from extractors.face.detect import LANDMARK106_WEIGHTS, SCRFD_WEIGHTS
    from extractors.face.parsing import PARSING_WEIGHTS
    from extractors.runtime.weights import locate

    missing = [
        w.name for w in (PARSING_WEIGHTS, SCRFD_WEIGHTS, LANDMARK106_WEIGHTS) if locate(w) is None
    ]
    if missing:
        pytest.skip(f"face weights not installed: {', '.join(missing)}")


@pytest.fixture(scope="module")
def labelled():
    _needs_face_weights()
    doc = json.loads(LABELS.read_text())
    names = sorted(doc["faces"])
    images = torch.stack(
        [
            torch.from_numpy(
                np.array(Image.open(LABELS.with_suffix("") / n).convert("RGB"))
            ).permute(2, 0, 1)
            for n in names
        ]
    )
    return names, images, [doc["faces"][n] for n in names]


@pytest.fixture(scope="module")
def scorers():
    from extractors.scorers import load_scorer

    return {k: load_scorer(k) for k in ("eyeglasses", "smile", "skin_tone", "bangs", "hat")}


# label -> (scorer, sign): dark skin is a low ITA (the file's hat labels have one positive here)
AGAINST = {
    "eyeglasses": ("eyeglasses", 1),
    "smile": ("smile", 1),
    "dark_skin": ("skin_tone", -1),
    "bangs": ("bangs", 1),
}


def test_scorers_agree_with_labels_made_by_eye(labelled, scorers, one_torch_thread):
    _, images, labels = labelled
    scores = {k: s(images) for k, s in scorers.items()}
    for s in scores.values():
        assert s.dtype == np.float64 and s.shape == (len(images),)
    for label, (scorer, sign) in AGAINST.items():
        keep = [i for i, lab in enumerate(labels) if lab[label] is not None]
        y = np.array([labels[i][label] for i in keep])
        assert 3 <= y.sum() <= len(y) - 3, label
        value = auc(y, sign * scores[scorer][keep])
        assert value >= 0.9, (label, value, y.sum(), len(y))


SUBSET = ["seed0002.png", "seed0003.png", "seed0005.png", "seed0028.png", "seed0040.png"]


def test_scorers_are_scale_free_and_batch_invariant(labelled, scorers, one_torch_thread):
    from extractors.face.analysis import shared_analyzer

    names, images, _ = labelled
    faces = images[[names.index(n) for n in SUBSET]]
    at = {128: faces}
    for size in (256, 512):
        at[size] = (
            F.interpolate(faces.float(), size=(size, size), mode="bilinear", align_corners=False)
            .round()
            .clamp(0, 255)
            .to(torch.uint8)
        )
    tolerance = {"eyeglasses": 0.03, "smile": 0.03, "skin_tone": 3.0, "bangs": 0.1, "hat": 0.15}
    ref = {k: s(at[128]) for k, s in scorers.items()}
    for size in (256, 512):
        for k, s in scorers.items():
            np.testing.assert_allclose(
                s(at[size]), ref[k], atol=tolerance[k], err_msg=f"{k} at {size} px"
            )
    shared_analyzer().clear()  # no cached analysis: the splits are analysed afresh
    for k, s in scorers.items():
        split = np.concatenate([s(faces[:2]), s(faces[2:3]), s(faces[3:])])
        np.testing.assert_array_equal(split, ref[k], err_msg=k)
