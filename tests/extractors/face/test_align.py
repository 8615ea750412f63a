"""Face alignment geometry: closed forms, independent references (skimage, insightface), pixels."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from extractors.face.align import (
    ARCFACE_TEMPLATE_112,
    DLIB_UNIT_TEMPLATE5,
    align_arcface,
    apply_affine,
    arcface_matrix,
    dlib_chip_matrix,
    extract_dlib_chips,
    invert_affine,
    pyramid_levels,
    similarity_transform,
)


def similarity(scale: float, angle: float, tx: float, ty: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[scale * c, -scale * s, tx], [scale * s, scale * c, ty]])


def blob_image(points: np.ndarray, size: tuple[int, int], sigma: float) -> np.ndarray:
    """uint8 NCHW [1, 3, H, W]: one Gaussian blob per point; the first three are pure red,
    green and blue at full strength (so each channel peaks on its own blob), the others are
    half-strength mixtures."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((3, h, w))
    colours = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0], [0, 0.5, 0.5]])
    for (px, py), col in zip(points, colours):
        g = np.exp(-((xx - px) ** 2 + (yy - py) ** 2) / (2 * sigma**2))
        img += col[:, None, None] * g
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)[None]


def test_similarity_transform_recovers_known_transform_exactly():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    m = similarity(1.7, 0.4, -12.0, 30.5)
    est = similarity_transform(src, apply_affine(m, src))
    np.testing.assert_allclose(est, m, atol=1e-10)
    np.testing.assert_allclose(
        invert_affine(m) @ np.append(apply_affine(m, src[0]), 1), src[0], atol=1e-10
    )


def test_similarity_transform_matches_skimage_least_squares():
    from skimage.transform import SimilarityTransform

    rng = np.random.default_rng(1)
    src = rng.uniform(0, 64, (5, 2))
    dst = apply_affine(similarity(0.8, -0.3, 5, 7), src) + rng.normal(0, 1.5, (5, 2))
    ref = SimilarityTransform.from_estimate(src, dst)
    np.testing.assert_allclose(similarity_transform(src, dst), ref.params[:2], atol=1e-9)


def test_similarity_transform_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\[K, 2\]"):
        similarity_transform(np.zeros((5, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="identical"):
        similarity_transform(np.ones((5, 2)), np.zeros((5, 2)))


def test_synthetic_face_warped_by_known_similarity_aligns_back():
    # A canonical 112x112 "face" with blobs on the ArcFace template, warped into a larger image
    # by a known similarity: the landmarks there are known, and alignment must undo the warp.
    canonical = blob_image(ARCFACE_TEMPLATE_112, (112, 112), sigma=3.0)
    warp = similarity(1.4, 0.25, 30.0, 10.0)  # canonical -> image
    image = cv2.warpAffine(
        np.ascontiguousarray(canonical[0].transpose(1, 2, 0)),
        warp,
        (200, 200),
        flags=cv2.INTER_LINEAR,
    )
    image = np.ascontiguousarray(image.transpose(2, 0, 1))[None]
    kps = apply_affine(warp, ARCFACE_TEMPLATE_112)[None]
    np.testing.assert_allclose(arcface_matrix(kps[0]), invert_affine(warp), atol=1e-9)
    crop = align_arcface(image, kps)
    assert crop.shape == (1, 3, 112, 112) and crop.dtype == np.uint8
    diff = np.abs(crop.astype(int) - canonical.astype(int))
    assert diff.mean() < 1.0 and diff.max() <= 40  # two bilinear resamplings of sharp blobs
    for (x, y), channel in zip(ARCFACE_TEMPLATE_112[:3], range(3)):  # pure-colour blobs
        peak = np.unravel_index(crop[0, channel].argmax(), (112, 112))
        assert abs(peak[1] - x) <= 1 and abs(peak[0] - y) <= 1


@pytest.mark.filterwarnings("ignore::FutureWarning")  # insightface calls a deprecated skimage API
def test_arcface_crop_matches_insightface_norm_crop():
    from insightface.utils.face_align import norm_crop

    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (1, 3, 64, 64), dtype=np.uint8)
    kps = ARCFACE_TEMPLATE_112 * 64 / 112 + rng.normal(0, 1.0, (5, 2))
    ours = align_arcface(image, kps[None])[0].transpose(1, 2, 0)
    ref = norm_crop(np.ascontiguousarray(image[0].transpose(1, 2, 0)), kps.astype(np.float32))
    assert np.abs(ours.astype(int) - ref.astype(int)).max() <= 1


def test_dlib_chip_matrix_closed_form():
    # Landmarks = a known similarity of the padded template (in chip pixels): dlib's chip then
    # puts chip pixel u at c + k R (u - (size-1)/2), c the image of the chip centre size/2 and
    # k = (size*s - 1)/(size - 1) (centered_drect spans size*s - 1 pixels).
    size, padding = 64, 0.2
    template = (padding + DLIB_UNIT_TEMPLATE5) / (1 + 2 * padding) * size
    s, angle = 1.3, -0.2
    m = similarity(s, angle, 40.0, 25.0)
    chip = dlib_chip_matrix(apply_affine(m, template), size, padding)
    k = (size * s - 1) / (size - 1)
    rot = m[:, :2] / s
    centre = apply_affine(m, np.array([size / 2, size / 2]))
    np.testing.assert_allclose(chip[:, :2], k * rot, atol=1e-9)
    np.testing.assert_allclose(chip[:, 2], centre - k * rot @ np.full(2, (size - 1) / 2), atol=1e-9)


def test_dlib_template_agrees_with_dlib_five_point_frame():
    # dlib's 5-point template (eye corners, nose base) lives in the same unit frame as its
    # 68-point mean face: our eye centres must lie between the matching eye corners.
    dlib5 = np.array(
        [
            [0.8595674595992, 0.2134981538014],
            [0.6460604764104, 0.2289674387677],
            [0.1205750620789, 0.2137274526848],
            [0.3340850613712, 0.2290642403242],
            [0.4901123135679, 0.6277975316475],
        ]
    )
    np.testing.assert_allclose(DLIB_UNIT_TEMPLATE5[0], (dlib5[2] + dlib5[3]) / 2, atol=0.01)
    np.testing.assert_allclose(DLIB_UNIT_TEMPLATE5[1], (dlib5[0] + dlib5[1]) / 2, atol=0.01)
    assert dlib5[4, 1] > DLIB_UNIT_TEMPLATE5[2, 1]  # nose base below the nose tip


@pytest.mark.parametrize("scale,levels", [(1.0, 0), (1.9, 0), (2.1, 1), (3.9, 1), (4.5, 2)])
def test_pyramid_levels(scale, levels):
    assert pyramid_levels(similarity(scale, 0.3, 0, 0), 32) == levels


@pytest.mark.parametrize("scale", [1.2, 5.0])  # direct sampling and the pyramid path
def test_dlib_chip_puts_landmarks_on_the_template(scale):
    size = 64
    template_px = (0.2 + DLIB_UNIT_TEMPLATE5) / 1.4 * size
    warp = similarity(scale, 0.15, 20.0, 12.0)
    kps = apply_affine(warp, template_px)
    extent = (
        int(np.ceil(apply_affine(warp, np.array([[size, size], [0, size], [size, 0]])).max())) + 20
    )
    image = blob_image(kps, (extent, extent), sigma=2.0 * scale)
    chip = extract_dlib_chips(image, kps[None], size)
    assert chip.shape == (1, 3, size, size) and chip.dtype == np.float32
    for (x, y), channel in zip(template_px[:3], range(3)):
        peak = np.unravel_index(chip[0, channel].argmax(), (size, size))
        assert abs(peak[1] - x) <= 1.0 and abs(peak[0] - y) <= 1.0


def test_alignment_rejects_bad_landmarks():
    image = np.zeros((2, 3, 64, 64), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"\[2, 5, 2\]"):
        align_arcface(image, np.zeros((1, 5, 2)))
    with pytest.raises(ValueError, match="NaN"):
        extract_dlib_chips(image, np.full((2, 5, 2), np.nan), 32)
    with pytest.raises(ValueError, match="uint8"):
        align_arcface(image.astype(np.float32), np.zeros((2, 5, 2)))
