"""`counterfactual fd A B --space NAME` on folders, against an independent scipy computation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image

import extractors
from counterfactual.cli import main
from extractors.base import FeatureExtractor
from helpers.registries import registered


class ChannelMoments(FeatureExtractor):
    """Toy space: per-channel mean and std of the pixels (6-d), float64 math."""

    name, dim, trained, weights_sha256 = "toy-moments", 6, True, None
    preprocessing = {"features": "per-channel mean and std"}

    def _extract(self, images: torch.Tensor) -> torch.Tensor:
        x = images.double().flatten(2)
        return torch.cat([x.mean(2), x.std(2)], 1)


def load_toy(device: str = "cpu", **_: object) -> ChannelMoments:
    return ChannelMoments()


@pytest.fixture(scope="module", autouse=True)
def _toy_space():
    """The module's toy feature space in the registry while its tests run."""
    with registered(_register):
        yield


def _register() -> None:
    extractors.register_extractor("toy-moments", f"{__name__}:load_toy", description="test space")


def _write_folder(path, images: np.ndarray) -> None:
    path.mkdir()
    for i, img in enumerate(images):
        Image.fromarray(img).save(path / f"{i:03d}.png")


def _scipy_fd(x: np.ndarray, y: np.ndarray) -> float:
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def test_fd_of_two_folders_matches_scipy(tmp_path, capsys):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 200, (20, 16, 16, 3), dtype=np.uint8)
    b = np.clip(rng.integers(0, 200, (20, 16, 16, 3)) * 1.2 + 30, 0, 255).astype(np.uint8)
    _write_folder(tmp_path / "a", a)
    _write_folder(tmp_path / "b", b)
    rc = main(
        [
            "fd",
            str(tmp_path / "a"),
            str(tmp_path / "b"),
            "--space",
            "toy-moments",
            "--json",
            "--no-progress",
        ]
    )
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    feats = [
        ChannelMoments()(torch.from_numpy(s).permute(0, 3, 1, 2).contiguous())
        .numpy()
        .astype(np.float64)
        for s in (a, b)
    ]
    assert out["fd"] == pytest.approx(_scipy_fd(*feats), rel=1e-6)
    assert out["fd"] == pytest.approx(out["mean_term"] + out["trace_term"], rel=1e-12)
    assert (out["n_a"], out["n_b"]) == (20, 20)


def test_same_source_needs_a_second_seed_range(tmp_path, capsys):
    rng = np.random.default_rng(1)
    _write_folder(tmp_path / "a", rng.integers(0, 255, (24, 8, 8, 3), dtype=np.uint8))
    folder = str(tmp_path / "a")
    args = ["fd", folder, folder, "--space", "toy-moments", "--json", "--no-progress", "--n", "12"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["fd"] == pytest.approx(0.0, abs=1e-9)
    assert "same seeds" in captured.err
    assert main(args + ["--seed-start-b", "12"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fd"] > 1.0 and (out["seed_start_a"], out["seed_start_b"]) == (0, 12)
