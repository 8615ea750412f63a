"""General backbones: missing weights, untrained labelling, weight loading, batch invariance,
ONNX/PyTorch agreement. Random weights stand in where no trained weights exist offline."""

from __future__ import annotations

import hashlib
import socket

import numpy as np
import pytest
import torch

import extractors
from extractors import load_extractor
from extractors.runtime.weights import MissingWeightsError
from extractors.spaces import backbones as B

TRAINABLE = [
    "clip-vit-b32",
    "dinov2-vits14",
    "dinov2-vitb14",
    "dinov2-vitl14",
    "swav-resnet50",
    "facenet-vggface2",
]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No weights on disk, a private ONNX cache, and no network: building must stay offline."""
    monkeypatch.setenv("COUNTERFACTUAL_WEIGHTS", str(tmp_path / "no-weights-here"))
    monkeypatch.setenv("COUNTERFACTUAL_CACHE", str(tmp_path / "cache"))

    def no_network(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (3, 3, 40, 48), dtype=torch.uint8, generator=g)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("name", TRAINABLE + ["timm:resnet18"])
def test_missing_weights_error_names_file_and_sha(name):
    with pytest.raises(MissingWeightsError) as info:
        load_extractor(name)
    msg = str(info.value)
    spec = extractors.EXTRACTORS.lookup(name)[0].resolve()
    expected = spec.weight_file if isinstance(spec, B.BackboneSpec) else None
    filename = expected.filename if expected else "resnet18.safetensors"
    assert filename in msg and "sha256" in msg and "COUNTERFACTUAL_WEIGHTS" in msg
    if expected is not None and expected.sha256:
        assert expected.sha256 in msg


def test_available_reports_missing_trained_weights():
    rows = {r["name"]: r for r in extractors.available()}
    for name in TRAINABLE + ["random-inception"]:
        assert rows[name]["trained_weights_found"] is False
    assert rows["random-inception"]["random_weights"] is True
    assert not any(rows[name]["random_weights"] for name in TRAINABLE + ["inception-fid"])


def _batch_invariant(ext, images) -> torch.Tensor:
    full = ext(images, batch_size=3)
    split = ext(images, batch_size=2)
    assert full.shape == (3, ext.dim) and torch.isfinite(full).all()
    assert _rel(split, full) < 1e-5
    return full


@pytest.mark.parametrize("name", ["timm:resnet18", "facenet-vggface2"])  # facenet has dropout
def test_random_weights_are_seeded(name):
    a = load_extractor(name, allow_untrained=True, backend="torch")
    b = load_extractor(name, allow_untrained=True, backend="torch")
    c = load_extractor(name, allow_untrained=True, backend="torch", seed=1)
    assert a.weights_sha256 == b.weights_sha256 != c.weights_sha256


@pytest.mark.slow
def test_random_inception_always_untrained_onnx(images):
    ext = load_extractor("random-inception")
    assert ext.trained is False and "untrained" in ext.label and ext.dim == 2048
    assert ext.preprocessing["backend"] == "onnx"
    full = _batch_invariant(ext, images)
    eager = load_extractor("random-inception", backend="torch")
    assert _rel(full, eager(images)) < 1e-5
    with pytest.raises(ValueError, match="always uses random weights"):
        load_extractor("random-inception", weights="x.pt")


def test_onnx_and_torch_backends_agree(images):
    eager = load_extractor("timm:resnet18", allow_untrained=True, backend="torch")
    onnx = load_extractor("timm:resnet18", allow_untrained=True, backend="onnx")
    assert onnx.preprocessing["backend"] == "onnx" and eager.preprocessing["backend"] == "torch"
    cl = load_extractor("timm:resnet18", allow_untrained=True, backend="torch-channels-last")
    fo, fe, fc = onnx(images, batch_size=2), eager(images), cl(images)
    assert _rel(fo, fe) < 1e-5 and _rel(fc, fe) < 1e-5
    with pytest.raises(ValueError, match="unknown backend"):
        load_extractor("timm:resnet18", allow_untrained=True, backend="tensorrt")


def _module(ext) -> torch.nn.Module:
    return ext.runner.module


def _prefixed(prefix: str, state: dict, **extra: torch.Tensor) -> dict:
    return {**{f"{prefix}{k}": v for k, v in state.items()}, **extra}


@pytest.mark.parametrize(
    "name,to_checkpoint",
    [
        ("timm:resnet18", lambda s: _prefixed("", s, **{"fc.weight": torch.zeros(1000, 512)})),
        (
            "facenet-vggface2",
            lambda s: _prefixed("", s, **{"logits.weight": torch.zeros(8631, 512)}),
        ),
        pytest.param(
            "clip-vit-b32",
            lambda s: _prefixed(
                "visual.",
                s,
                **{"token_embedding.weight": torch.zeros(10, 4), "logit_scale": torch.ones(())},
            ),
            marks=pytest.mark.slow,
        ),  # writes and hashes a 350 MB checkpoint
        ("dinov2-vits14", lambda s: _prefixed("", s, mask_token=torch.zeros(1, 384))),
        pytest.param(
            "dinov2-vitb14",
            lambda s: _prefixed("", s, mask_token=torch.zeros(1, 768)),
            marks=pytest.mark.slow,
        ),
        pytest.param(
            "dinov2-vitl14",
            lambda s: _prefixed("", s, mask_token=torch.zeros(1, 1024)),
            marks=pytest.mark.slow,
        ),
        pytest.param(
            "swav-resnet50",
            lambda s: _prefixed(
                "module.",
                s,
                **{
                    "module.projection_head.0.weight": torch.zeros(2048, 2048),
                    "module.prototypes.weight": torch.zeros(3000, 128),
                },
            ),
            marks=pytest.mark.slow,
        ),
    ],
)
def test_untrained_space_then_checkpoint_in_original_layout(name, to_checkpoint, images, tmp_path):
    # random weights: labelled untrained everywhere, seeded, content-hashed, batch invariant
    ref = load_extractor(name, allow_untrained=True, backend="torch")
    assert "untrained" in ref.label and "untrained" in ref.describe()["label"]
    assert ref.describe()["trained"] is False
    assert ref.preprocessing["init"].startswith("random(seed=0)")
    assert len(ref.weights_sha256) == 64
    full = _batch_invariant(ref, images)
    # the same weights saved in the original release's layout load as a trained space
    path = tmp_path / f"{name.replace(':', '_')}-checkpoint.pth"
    torch.save({"state_dict": to_checkpoint(_module(ref).state_dict())}, path)
    ext = load_extractor(name, weights=str(path), backend="torch")
    assert ext.trained and ext.label == name and "untrained" not in ext.describe()["label"]
    assert ext.weights_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert ext.preprocessing["init"] == "pretrained"
    assert _rel(ext(images[:2]), full[:2]) < 1e-5


def test_clip_untrained_labelled_and_batch_invariant(images):
    ext = load_extractor("clip-vit-b32", allow_untrained=True, backend="torch")
    assert ext.label == "clip-vit-b32 (untrained)" and ext.describe()["trained"] is False
    assert ext.preprocessing["resize"] == "pil-bicubic" and ext.preprocessing["crop"] == "center"
    _batch_invariant(ext, images)


def test_wrong_checkpoint_is_one_clear_error(tmp_path):
    path = tmp_path / "20180402-114759-vggface2.pt"
    torch.save({"conv.weight": torch.zeros(3)}, path)
    with pytest.raises(ValueError, match="do not fit the architecture"):
        load_extractor("facenet-vggface2", weights=str(path))


def test_clip_checksum_pinned_for_the_official_file_name(tmp_path):
    bad = tmp_path / "ViT-B-32.pt"
    bad.write_bytes(b"not the OpenAI file")
    with pytest.raises(ValueError, match="checksum mismatch.*40d365715913c9da"):
        load_extractor("clip-vit-b32", weights=str(bad))


def _cubic_weights(t: float, a: float = -0.75) -> np.ndarray:
    """Keys cubic convolution weights (PyTorch's a = -0.75) for taps -1, 0, 1, 2."""

    def w(x: float) -> float:
        x = abs(x)
        if x <= 1:
            return (a + 2) * x**3 - (a + 3) * x**2 + 1
        return a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a if x < 2 else 0.0

    return np.array([w(t + 1), w(t), w(1 - t), w(2 - t)])


def _bicubic_1d(values: np.ndarray, src: np.ndarray) -> np.ndarray:
    """Resample along axis 0 at source coordinates `src`, edge indices clamped."""
    n = values.shape[0]
    out = []
    for s in src:
        base = int(np.floor(s))
        idx = np.clip(np.arange(base - 1, base + 3), 0, n - 1)
        out.append(np.tensordot(_cubic_weights(s - base), values[idx], axes=1))
    return np.stack(out)


def test_dinov2_pos_embed_uses_the_hub_offset_mapping():
    m, grid, dim = 37, 16, 3
    rng = np.random.default_rng(0)
    table = rng.standard_normal((m, m, dim))
    pos = torch.cat(
        [
            torch.full((1, 1, dim), 9.0),
            torch.tensor(table.reshape(1, m * m, dim), dtype=torch.float32),
        ],
        1,
    )
    out = B.dinov2_pos_embed(pos, grid)
    assert out.shape == (1, 1 + grid * grid, dim) and torch.equal(out[:, 0], pos[:, 0])
    # DINOv2 hub: scale factor (16 + 0.1) / 37, so source coordinate (i + 0.5) * 37 / 16.1 - 0.5
    src = (np.arange(grid) + 0.5) * m / (grid + 0.1) - 0.5
    expected = _bicubic_1d(_bicubic_1d(table, src).transpose(1, 0, 2), src).transpose(1, 0, 2)
    got = out[0, 1:].reshape(grid, grid, dim).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)
    size_based = (np.arange(grid) + 0.5) * m / grid - 0.5  # what a plain resize would use
    assert not np.allclose(src, size_based, atol=1e-2)
    assert torch.equal(B.dinov2_pos_embed(out, grid), out)
