"""Generators through the registry: the contract every generator keeps."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from counterfactual.foundation.packages import package_file
from generators import load_generator
from generators.base import Generator

needs_dcgan = pytest.mark.skipif(
    package_file("gan_face_generate", "weights.tar") is None,
    reason="gan-face-generate not installed",
)


@pytest.fixture(scope="module")
def dcgan() -> Generator:
    return load_generator("dcgan-digiface")


@needs_dcgan
def test_default_generator_via_registry(dcgan):
    assert isinstance(dcgan, Generator)
    assert dcgan.spec == "dcgan-digiface"
    assert (dcgan.z_dim, dcgan.w_dim, dcgan.num_ws, dcgan.resolution) == (100, None, None, 64)
    d = dcgan.describe()
    assert d["weights_sha256"] and d["spec"] == "dcgan-digiface"
    x = dcgan.images_for_seeds([0, 1])
    assert x.dtype == torch.uint8 and x.device.type == "cpu" and x.shape == (2, 3, 64, 64)


def test_unknown_spec_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown generator 'biggan'.*dcgan-digiface"):
        load_generator("biggan")


@needs_dcgan
def test_latents_follow_nvidia_convention(dcgan):
    z = dcgan.latents([5, 77])
    for row, seed in zip(z, [5, 77]):
        np.testing.assert_array_equal(
            row.numpy(), np.random.RandomState(seed).randn(100).astype(np.float32)
        )


@needs_dcgan
def test_batch_size_invariance(dcgan):
    seeds = list(range(9))
    ref = dcgan.images_for_seeds(seeds, batch_size=9)
    assert torch.equal(dcgan.images_for_seeds(seeds, batch_size=1), ref)
    assert torch.equal(dcgan.images_for_seeds(seeds[4:7], batch_size=3), ref[4:7])
    assert torch.equal(dcgan.images_for_seeds(seeds[::-1], batch_size=4), ref.flip(0))


@needs_dcgan
def test_psi_zero_collapses_every_seed_to_the_mode(dcgan):
    x = dcgan.images_for_seeds([0, 1, 2], truncation_psi=0.0)
    assert torch.equal(x[0], x[1]) and torch.equal(x[0], x[2])
    assert torch.equal(x[:1], dcgan.images(torch.zeros(1, 100)))


def _arrays() -> list[np.ndarray]:
    return [np.random.RandomState(i).randint(0, 256, (16, 16, 3), dtype=np.uint8) for i in range(3)]


def test_folder_round_trip_lossless(tmp_path):
    arrays = _arrays()
    for i, a in enumerate(arrays):
        Image.fromarray(a).save(tmp_path / f"img{i:02d}.png")
    with zipfile.ZipFile(tmp_path / "all.zip", "w") as zf:
        for i in range(3):
            zf.write(tmp_path / f"img{i:02d}.png", f"sub/img{i:02d}.png")
    expected = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    for spec in (f"folder:{tmp_path}", f"folder:{tmp_path / 'all.zip'}"):
        g = load_generator(spec)
        assert g.spec == spec and g.z_dim is None and g.resolution == 16 and len(g) == 3
        assert torch.equal(g.images_for_seeds([0, 1, 2], batch_size=2), expected)


def test_folder_corrupt_file_named_and_skip_bad_counted(tmp_path):
    for i, a in enumerate(_arrays()):
        Image.fromarray(a).save(tmp_path / f"img{i}.png")
    (tmp_path / "img1x.jpg").write_bytes(b"definitely not a jpeg")
    with pytest.raises(ValueError, match="img1x.jpg"):
        load_generator(f"folder:{tmp_path}").images_for_seeds(range(4))
    g = load_generator(f"folder:{tmp_path}", skip_bad=True)
    assert len(g) == 3 and g.describe()["skipped"] == ["img1x.jpg"]
