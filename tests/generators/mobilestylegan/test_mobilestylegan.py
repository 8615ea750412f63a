"""MobileStyleGAN-FFHQ: our module against OpenVINO's own execution of the released IR.

The fixture `tests/data/mobilestylegan/openvino_reference.npz` was made by
`experiments/make_mobilestylegan_fixture.py` with openvino 2026.4.1 (seeds 0..7, psi 1 and 0.5,
strided samples, a centre crop and whole-image moments of each 1024-px output).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from counterfactual.foundation.packages import package_file
from generators.mobilestylegan.generator import (
    FILES,
    PACKAGE,
    W_AVG_SEEDS,
    WeightFileError,
    reduce_resolution,
    weight_files,
)
from generators.mobilestylegan.ir import IRFormatError, read_ir
from generators.mobilestylegan.network import idwt
from helpers.paths import DATA

FIXTURE = DATA / "mobilestylegan" / "openvino_reference.npz"
INSTALLED = package_file(PACKAGE, "data/SynthesisNetwork.bin") is not None
needs_weights = pytest.mark.skipif(
    not INSTALLED, reason="random-face wheel not installed (make setup installs it)"
)
TOLERANCE = 1e-3  # max abs on the [-1, 1] output, the bar


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def gen():
    from generators import load_generator

    return load_generator("mobilestylegan-ffhq:64")


def test_fixture_is_from_the_released_files(reference):
    assert str(reference["SynthesisNetwork_bin_sha256"]) == FILES["data/SynthesisNetwork.bin"]
    assert str(reference["MappingNetwork_bin_sha256"]) == FILES["data/MappingNetwork.bin"]


@needs_weights
def test_mapping_and_w_average_match_openvino(gen, reference):
    z = gen.latents(list(reference["seeds"]))
    np.testing.assert_array_equal(z.numpy(), reference["z"])  # NVIDIA's seed convention
    ws = gen.mapping(z)
    assert ws.shape == (8, 1, 512)
    np.testing.assert_allclose(ws[:, 0].numpy(), reference["w"], atol=1e-4, rtol=0)
    assert (W_AVG_SEEDS.start, W_AVG_SEEDS.stop) == (0, 10_000)
    np.testing.assert_allclose(gen.w_avg.numpy(), reference["w_avg"], atol=1e-5, rtol=0)
    half = gen.mapping(z, truncation_psi=0.5)[:, 0].numpy()
    np.testing.assert_allclose(half, reference["psi0.5_w"], atol=1e-4, rtol=0)
    # closed form: psi = 0 sends every face to w_avg
    np.testing.assert_allclose(
        gen.mapping(z, truncation_psi=0.0)[:, 0].numpy(),
        np.broadcast_to(gen.w_avg.numpy(), (8, 512)),
        atol=1e-6,
    )


@pytest.fixture(scope="module")
def torch_gen():
    from generators import load_generator

    return load_generator("mobilestylegan-ffhq:64", backend="torch")


@needs_weights
@pytest.mark.parametrize("psi", [1.0, 0.5])
@pytest.mark.parametrize("backend", ["default", "torch"])
def test_synthesis_matches_openvino_within_1e_3(gen, torch_gen, reference, psi, backend):
    """Every seed through the default (CPU: ONNX Runtime) backend; two through eager PyTorch,
    the path CUDA uses."""
    use = gen if backend == "default" else torch_gen
    ws = use.mapping(torch.from_numpy(reference["z"]), truncation_psi=psi)
    for i in range(len(ws) if backend == "default" else 2):
        img = use.synthesis(ws[i : i + 1])[0].numpy()
        assert img.shape == (3, 1024, 1024)
        h = img.shape[1] // 2 - 16
        views = {
            "grid0": img[:, ::16, ::16],
            "grid9": img[:, 9::16, 9::16],
            "centre": img[:, h : h + 32, h : h + 32],
        }
        for key, view in views.items():
            err = np.abs(view - reference[f"psi{psi}_{key}"][i]).max()
            assert err < TOLERANCE, f"seed {i} psi {psi} {key}: max abs error {err}"
        moments = np.stack(
            [img.astype(np.float64).mean(axis=(1, 2)), img.astype(np.float64).std(axis=(1, 2))]
        )
        expected = np.stack([reference[f"psi{psi}_mean"][i], reference[f"psi{psi}_std"][i]])
        np.testing.assert_allclose(moments, expected, atol=1e-4)


@needs_weights
def test_uint8_images_identical_across_batch_sizes(gen):
    seeds = [11, 12, 13]
    by_size = [gen.images_for_seeds(seeds, batch_size=b) for b in (1, 4, 16)]
    assert by_size[0].dtype == torch.uint8 and by_size[0].shape == (3, 3, 64, 64)
    for other in by_size[1:]:
        assert torch.equal(by_size[0], other)
    # the working resolution is the area average of the 1024-px face (then uint8 rounding)
    full = gen.synthesis(gen.mapping(gen.latents([12])))
    expected = (
        (full.reshape(1, 3, 64, 16, 64, 16).mean(dim=(3, 5)) * 127.5 + 128)
        .clamp(0, 255)
        .to(torch.uint8)
    )
    assert (by_size[0][1:2].int() - expected.int()).abs().max() <= 1


def test_idwt_inverts_an_independent_forward_haar_transform():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 8, 10))
    a, b = x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2]
    c, d = x[:, :, 1::2, 0::2], x[:, :, 1::2, 1::2]
    # orthonormal 2-D Haar analysis, rows then columns
    ll, lh = (a + b + c + d) / 2, (a + b - c - d) / 2
    hl, hh = (a - b + c - d) / 2, (a - b - c + d) / 2
    t = [torch.from_numpy(v) for v in (ll, lh, hl, hh)]
    packed = torch.cat(
        [t[0], torch.stack(t[1:], dim=2).flatten(1, 2)], dim=1
    )  # LL, C x (LH, HL, HH)
    np.testing.assert_allclose(idwt(packed, 3).numpy(), x, atol=1e-12)


def test_reduce_resolution_is_an_area_average():
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    out = reduce_resolution(x, 16)
    np.testing.assert_allclose(out.numpy(), x.numpy().reshape(2, 3, 16, 4, 16, 4).mean((3, 5)))
    assert reduce_resolution(x, 64) is x
    assert reduce_resolution(x, 48).shape == (2, 3, 48, 48)


def test_spec_argument_sets_the_working_resolution():
    from generators.mobilestylegan.generator import _parse_resolution

    assert _parse_resolution(None, None) == 512
    assert _parse_resolution("256", None) == 256
    with pytest.raises(ValueError, match="integer"):
        _parse_resolution("big", None)
    with pytest.raises(ValueError, match="16..1024"):
        _parse_resolution("2048", None)


def test_missing_or_altered_weight_files_name_the_file(tmp_path):
    with pytest.raises(WeightFileError, match="MappingNetwork.xml"):
        weight_files(tmp_path)
    for rel in FILES:
        (tmp_path / Path(rel).name).write_bytes(b"not the released file")
    with pytest.raises(WeightFileError, match=r"MappingNetwork\.xml: sha256 .* not the released"):
        weight_files(tmp_path)


def test_ir_reader_rejects_malformed_files(tmp_path):
    xml, blob = tmp_path / "n.xml", tmp_path / "n.bin"
    blob.write_bytes(b"\0" * 8)
    xml.write_text("<net version='10'><layers>")
    with pytest.raises(IRFormatError, match="not valid XML"):
        read_ir(xml, blob)
    xml.write_text("<html/>")
    with pytest.raises(IRFormatError, match="not an OpenVINO IR"):
        read_ir(xml, blob)
    xml.write_text(
        "<net version='10'><layers><layer id='0' name='c' type='Const'>"
        "<data element_type='f32' shape='4' offset='0' size='16'/></layer></layers>"
        "<edges/></net>"
    )
    graph = read_ir(xml, blob)
    with pytest.raises(IRFormatError, match="does not fit the 8-byte weight file"):
        graph.const("0")
    xml.write_text(
        "<net version='10'><layers/><edges><edge from-layer='0' from-port='0' "
        "to-layer='1' to-port='0'/></edges></net>"
    )
    with pytest.raises(IRFormatError, match="missing layer"):
        read_ir(xml, blob)


@needs_weights
def test_registry_spec_describe_and_latent_edits(gen):
    from generators.base import Generator

    assert isinstance(gen, Generator) and gen.spec == "mobilestylegan-ffhq:64"
    assert (gen.z_dim, gen.w_dim, gen.num_ws, gen.resolution) == (512, 512, 1, 64)
    d = gen.describe()
    assert d["weights_sha256"] == FILES["data/SynthesisNetwork.bin"]
    assert d["w_avg_seeds"] == [0, 10_000] and d["native_resolution"] == 1024
    z = gen.latents([21, 22])
    # truncation through images() is the same as synthesising the truncated ws
    direct = gen.images(z, truncation_psi=0.5)
    via_w = gen.images(gen.mapping(z, truncation_psi=0.5), space="w")
    assert torch.equal(direct, via_w)
    with pytest.raises(ValueError, match="already truncated"):
        gen.images(gen.mapping(z), space="w", truncation_psi=0.5)
    with pytest.raises(ValueError, match="one style vector"):
        gen.mapping(z, truncation_cutoff=4)
    with pytest.raises(ValueError, match="noise_mode"):
        gen.synthesis(gen.mapping(z), noise_mode="random")
