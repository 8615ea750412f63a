"""The "<space>+l2" variant of every space: features scaled to unit length before any statistic,
registered once, labelled by its name, cached apart from its base space."""

from __future__ import annotations

import json
from typing import ClassVar

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image

import extractors
from counterfactual.cli import main
from counterfactual.config import SpaceConfig
from extractors import load_extractor
from extractors.base import FeatureExtractor
from extractors.runtime.cache import feature_key
from helpers.registries import registered


class RandomProjection(FeatureExtractor):
    """Toy random-weight space: a fixed random projection of 4x4-pooled pixels (5-d)."""

    name, dim, trained, weights_sha256 = "toy-random", 5, False, None
    preprocessing: ClassVar[dict] = {
        "features": "4x4 average pool, fixed random projection (seed 0)"
    }

    def _extract(self, images: torch.Tensor) -> torch.Tensor:
        pooled = torch.nn.functional.adaptive_avg_pool2d(images.double(), 4).flatten(1)
        w = torch.from_numpy(np.random.default_rng(0).normal(size=(pooled.shape[1], self.dim)))
        return pooled @ w - 40.0  # off-centre, so the norms differ between faces


def load_toy(device: str = "cpu", **_: object) -> RandomProjection:
    return RandomProjection()


@pytest.fixture(scope="module", autouse=True)
def _toy_space():
    """The module's toy feature space in the registry while its tests run."""
    with registered(_register):
        yield


def _register() -> None:
    extractors.register_extractor(
        "toy-random", f"{__name__}:load_toy", description="test space", random_weights=True
    )


def _scipy_fd(x: np.ndarray, y: np.ndarray) -> float:
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def _by_hand(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.sqrt((x**2).sum(axis=1, keepdims=True))


def _write_folder(path, images: np.ndarray) -> None:
    path.mkdir()
    for i, img in enumerate(images):
        Image.fromarray(img).save(path / f"{i:03d}.png")


def test_l2_fd_equals_fd_of_features_normalised_by_hand(tmp_path, capsys):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 200, (30, 16, 16, 3), dtype=np.uint8)
    b = np.clip(rng.integers(0, 200, (30, 16, 16, 3)) * 1.3 + 20, 0, 255).astype(np.uint8)
    _write_folder(tmp_path / "a", a)
    _write_folder(tmp_path / "b", b)
    args = ["fd", str(tmp_path / "a"), str(tmp_path / "b"), "--json", "--no-progress"]
    assert main(args + ["--space", "toy-random+l2"]) == 0
    out = json.loads(capsys.readouterr().out)
    base = RandomProjection()
    raw = [base(torch.from_numpy(s).permute(0, 3, 1, 2).contiguous()).numpy() for s in (a, b)]
    expected = _scipy_fd(*(_by_hand(f) for f in raw))
    assert out["fd"] == pytest.approx(expected, rel=1e-5)
    assert out["space"] == "toy-random+l2" and out["space_label"] == "toy-random+l2 (untrained)"
    assert out["trained"] is False
    assert main(args + ["--space", "toy-random"]) == 0  # the base space's FD is another number
    assert json.loads(capsys.readouterr().out)["fd"] == pytest.approx(_scipy_fd(*raw), rel=1e-5)
    assert abs(_scipy_fd(*raw) - expected) > 1e-3 * expected


def test_variant_carries_the_base_space_and_has_its_own_cache_key():
    base = load_extractor("toy-random")
    l2 = load_extractor("toy-random+l2")
    assert (l2.name, l2.dim, l2.trained, l2.weights_sha256) == (
        "toy-random+l2",
        base.dim,
        False,
        None,
    )
    assert l2.label == "toy-random+l2 (untrained)"
    assert "L2-normalised" in l2.describe()["preprocessing"]["variant"]
    identity = {"generator": "test", "seeds": [0, 1, 2]}
    assert feature_key(identity, l2.describe()) != feature_key(identity, base.describe())
    images = torch.randint(
        0, 256, (7, 3, 12, 12), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)
    )
    feats, raw = l2(images, batch_size=3).numpy(), base(images).numpy()
    np.testing.assert_allclose(feats, _by_hand(raw), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.linalg.norm(feats, axis=1), 1.0, rtol=1e-6)


def test_a_registered_network_space_gets_the_variant(monkeypatch, tmp_path):
    monkeypatch.setenv("COUNTERFACTUAL_WEIGHTS", str(tmp_path / "none"))
    base = load_extractor("timm:resnet18", allow_untrained=True, backend="torch")
    l2 = load_extractor("timm:resnet18+l2", allow_untrained=True, backend="torch")
    assert l2.name == "timm:resnet18+l2" and l2.label == "timm:resnet18+l2 (untrained)"
    assert (l2.dim, l2.weights_sha256) == (base.dim, base.weights_sha256)
    images = torch.randint(
        0, 256, (2, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(2)
    )
    np.testing.assert_allclose(
        l2(images).numpy(), _by_hand(base(images).numpy()), rtol=1e-5, atol=1e-6
    )


def test_variant_is_listed_once_and_validated():
    rows = [r for r in extractors.available() if r.get("variant")]
    assert [r["name"] for r in rows] == ["<space>+l2"]
    assert "L2-normalised" in rows[0]["description"]
    assert not any(
        r["name"].endswith("+l2") for r in extractors.available() if not r.get("variant")
    )
    assert SpaceConfig(name="random-inception+l2").name == "random-inception+l2"
    assert SpaceConfig(name="timm:resnet18+l2").name == "timm:resnet18+l2"
    for bad in ("random-inception+l3", "no-such-space+l2", "+l2"):
        with pytest.raises(ValueError, match="unknown feature space"):
            SpaceConfig(name=bad)
    with pytest.raises(ValueError, match="variant"):
        load_extractor("toy-random+l3")
