"""Resize filters against closed forms and independent references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from extractors.runtime.resize import (
    RESIZERS,
    resize,
    resize_shorter_center_crop,
    tf_legacy_bilinear_matrix,
)


def _bilinear(img: np.ndarray, y: float, x: float) -> float:
    """Bilinear value at (y, x) of a 2-D array, neighbours clamped at the last index."""
    y0, x0 = int(np.floor(y)), int(np.floor(x))
    y1, x1 = min(y0 + 1, img.shape[0] - 1), min(x0 + 1, img.shape[1] - 1)
    wy, wx = y - y0, x - x0
    return (
        (1 - wy) * (1 - wx) * img[y0, x0]
        + (1 - wy) * wx * img[y0, x1]
        + wy * (1 - wx) * img[y1, x0]
        + wy * wx * img[y1, x1]
    )


def test_tf_bilinear_1d_hand_computed():
    # in=3 -> out=5: s = i * 3/5 = 0, .6, 1.2, 1.8, 2.4 ; s=2.4 clamps to the last pixel
    row = torch.tensor([0.0, 10.0, 20.0]).view(1, 1, 1, 3)
    out = resize(row, (1, 5), "tf-bilinear").flatten().tolist()
    assert out == pytest.approx([0.0, 6.0, 12.0, 18.0, 20.0], abs=1e-5)


def test_tf_bilinear_2d_closed_form_asymmetric_mapping():
    img = np.array([[0.0, 100.0, 30.0], [200.0, 255.0, 7.0]])
    out_h, out_w = 5, 7
    expected = np.array(
        [[_bilinear(img, i * 2 / out_h, j * 3 / out_w) for j in range(out_w)] for i in range(out_h)]
    )
    x = torch.tensor(img, dtype=torch.float32).expand(1, 3, 2, 3)
    got = resize(x, (out_h, out_w), "tf-bilinear")
    for c in range(3):
        np.testing.assert_allclose(got[0, c].numpy(), expected, rtol=0, atol=1e-4)


def test_tf_bilinear_matches_nvidia_grid_sample_formulation():
    # NVIDIA's detector: affine_grid shifted by 1/in - 1/out, grid_sample(border), i.e. s = i*in/out
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 64, 48, generator=g) * 255
    out_h, out_w = 299, 299
    theta = torch.eye(2, 3, dtype=torch.float64)
    theta[0, 2] += 1 / 48 - 1 / out_w
    theta[1, 2] += 1 / 64 - 1 / out_h
    grid = F.affine_grid(
        theta.unsqueeze(0).repeat(2, 1, 1), [2, 3, out_h, out_w], align_corners=False
    )
    ref = F.grid_sample(
        x.double(), grid, mode="bilinear", padding_mode="border", align_corners=False
    )
    got = resize(x, (out_h, out_w), "tf-bilinear")
    np.testing.assert_allclose(got.numpy(), ref.float().numpy(), rtol=0, atol=2e-3)


def test_tf_bilinear_rows_sum_to_one_and_identity():
    m = tf_legacy_bilinear_matrix(64, 299)
    np.testing.assert_allclose(m.sum(1), 1.0, atol=1e-12)
    x = torch.rand(1, 3, 299, 299) * 255
    assert torch.equal(resize(x, (299, 299), "tf-bilinear"), x)


def test_pytorch_bilinear_is_half_pixel_mapping():
    img = np.arange(12, dtype=np.float64).reshape(3, 4) ** 1.5
    out_h, out_w = 7, 5

    def src(i: int, n_in: int, n_out: int) -> float:
        return max((i + 0.5) * n_in / n_out - 0.5, 0.0)

    expected = np.array(
        [
            [_bilinear(img, src(i, 3, out_h), src(j, 4, out_w)) for j in range(out_w)]
            for i in range(out_h)
        ]
    )
    x = torch.tensor(img, dtype=torch.float32).expand(1, 3, 3, 4)
    got = resize(x, (out_h, out_w), "pytorch-bilinear")
    np.testing.assert_allclose(got[0, 1].numpy(), expected, rtol=0, atol=1e-4)
    ref = F.interpolate(x, size=(out_h, out_w), mode="bilinear", align_corners=False)
    assert torch.equal(got, ref)
    # the two bilinear conventions genuinely differ
    assert not torch.allclose(got, resize(x, (out_h, out_w), "tf-bilinear"))


def test_clean_resize_antialiases_where_tf_bilinear_aliases():
    checker = (torch.arange(64).view(-1, 1) + torch.arange(64).view(1, -1)) % 2 * 255.0
    x = checker.expand(1, 3, 64, 64).contiguous()
    clean = resize(x, (16, 16), "clean")
    aliased = resize(x, (16, 16), "tf-bilinear")
    assert float(clean[..., 2:-2, 2:-2].std()) < 1.0  # ~uniform grey inside
    assert abs(float(clean[..., 2:-2, 2:-2].mean()) - 127.5) < 1.0
    assert abs(float(aliased.mean()) - 127.5) > 100  # samples one phase: aliased to 0
    flat = torch.full((1, 3, 50, 40), 77.0)
    np.testing.assert_allclose(resize(flat, (299, 299), "clean").numpy(), 77.0, atol=1e-3)
    spiky = torch.zeros(1, 3, 8, 8)
    spiky[..., 4, 4] = 255
    up = resize(spiky, (40, 40), "clean")
    assert float(up.min()) >= 0 and float(up.max()) <= 255  # bicubic overshoot clipped


def test_every_filter_shape_and_unknown_name():
    x = torch.rand(2, 3, 30, 20) * 255
    for name in RESIZERS:
        assert resize(x, (17, 23), name).shape == (2, 3, 17, 23)
    with pytest.raises(ValueError, match="unknown resize filter 'lanczos9'"):
        resize(x, (8, 8), "lanczos9")


def test_resize_shorter_center_crop_geometry():
    x = torch.zeros(1, 3, 40, 80)
    x[..., :, 30:50] = 255.0  # a centred vertical band
    out = resize_shorter_center_crop(x, 20, 20, "bilinear-aa")
    assert out.shape == (1, 3, 20, 20)
    # 40x80 -> 20x40, crop columns 10..30: the band (15..25 after scaling) is centred
    band = out[0, 0].mean(0)
    assert (
        float(band[9:11].mean()) > 200
        and float(band[:3].mean()) < 30
        and float(band[-3:].mean()) < 30
    )


def test_inception_pipelines_scale_to_the_graph_range_and_name_their_origin():
    """What the Inception graph receives, (pipeline(x) - 128) / 128 (`TFScaled`), per mode."""
    from extractors.spaces.inception import PIPELINES, get_pipeline

    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (2, 3, 40, 56), dtype=torch.uint8, generator=g)
    seen = {name: (p(x) - 128) / 128 for name, p in PIPELINES.items()}
    # pytorch-fid: ToTensor, F.interpolate bilinear (half-pixel), 2x - 1 (its formulas)
    ref = (
        2 * F.interpolate(x.float() / 255, size=(299, 299), mode="bilinear", align_corners=False)
        - 1
    )
    assert float((seen["pytorch-fid"] - ref).abs().max()) < 1e-6
    # the TF-scaled modes: (x - 128) / 128 of the named filter, numbers exactly as before
    for name in ("tf-bilinear", "pytorch-bilinear", "clean"):
        assert torch.equal(PIPELINES[name](x), resize(x.float(), (299, 299), name))
    assert float(seen["pytorch-bilinear"].max()) <= 127 / 128 + 1e-6
    assert (
        abs(
            float((seen["pytorch-fid"] - seen["pytorch-bilinear"]).abs().max())
            - (1 / 127.5 - 1 / 128) * 255
            + 1e-9
        )
        < 2e-3
    )  # the scaling differs, up to 3.9e-3
    assert all(p.reproduces for p in PIPELINES.values())
    assert set(RESIZERS) | {"pytorch-fid"} == set(PIPELINES)
    with pytest.raises(ValueError, match="unknown resize 'nearest'"):
        get_pipeline("nearest")
