"""Safe loading of NVIDIA StyleGAN2-ADA pickles (built here in NVIDIA's exact structure)."""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import os
import pickle
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import generators
from generators.base import to_uint8
from generators.stylegan2 import (
    InvalidWeightsError,
    StyleGAN2Generator,
    UnsafePickleError,
    load_stylegan2,
)
from generators.stylegan2.network import SynthesisLayer, ToRGBLayer
from generators.stylegan2.unpickler import read_nvidia_pickle
from helpers.paths import fixture_dir
from helpers.stylegan2_records import (
    module_tree,
    nvidia_names,  # noqa: F401 (a pytest fixture)
    set_layer_state,  # noqa: F401
    snapshot,
    write_pickle,
)

FIXTURE = fixture_dir("stylegan2-ada-tiny")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def fixture_data():
    meta = json.loads((FIXTURE / "meta.json").read_text())
    sd = torch.load(FIXTURE / "generator_state_dict.pt", weights_only=True)
    expected = torch.load(FIXTURE / "expected_outputs.pt", weights_only=True)
    return meta, sd, expected


def check_reproduces_fixture(gen, expected, settings=("psi1", "psi0.5", "psi0.7_cutoff2")):
    params = {"psi1": (1.0, None), "psi0.5": (0.5, None), "psi0.7_cutoff2": (0.7, 2)}
    for name in settings:
        psi, cutoff = params[name]
        ws = gen.net.mapping(expected["z"], None, psi, cutoff)
        assert float((ws - expected[f"ws_{name}"]).abs().max()) <= 1e-4
        img = gen.net.synthesis(ws, noise_mode="const")
        assert float((img - expected[f"img_{name}_const"]).abs().max()) <= 1e-4
    none = gen.net.synthesis(gen.net.mapping(expected["z"], None), noise_mode="none")
    assert float((none - expected["img_psi1_none"]).abs().max()) <= 1e-4


# ----- loading real-structure pickles -----------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_nvidia_pickle_loads_and_reproduces_fixture(tmp_path, nvidia_names, fixture_data, protocol):
    path = write_pickle(tmp_path, snapshot(nvidia_names, fixture_data), protocol)
    blob = path.read_bytes()
    assert b"torch_utils.persistence" in blob and b"_reconstruct_persistent_obj" in blob
    gen = generators.load_generator(f"stylegan2:{path}")
    assert nvidia_names.calls == []  # NVIDIA's hook never ran
    assert gen.spec == f"stylegan2:{path}"
    assert gen.weights_sha256 == hashlib.sha256(blob).hexdigest()
    assert (gen.z_dim, gen.w_dim, gen.num_ws, gen.resolution) == (64, 64, 8, 32)
    loaded = gen.net.state_dict()
    assert set(loaded) == set(fixture_data[1])
    assert all(torch.equal(loaded[k], v) for k, v in fixture_data[1].items())
    check_reproduces_fixture(
        gen,
        fixture_data[2],
        ("psi0.7_cutoff2",) if protocol != 4 else ("psi1", "psi0.5", "psi0.7_cutoff2"),
    )
    imgs = gen.images(fixture_data[2]["z"], batch_size=3)
    ref = to_uint8(fixture_data[2]["img_psi1_const"])
    assert int((imgs.int() - ref.int()).abs().max()) <= 1


def test_numpy1_global_names_are_accepted(tmp_path, nvidia_names, fixture_data):
    """Pickles written with numpy 1.x name numpy.core.multiarray.scalar (protocol 3 text)."""
    blob = pickle.dumps(snapshot(nvidia_names, fixture_data), protocol=3)
    assert b"numpy._core.multiarray\nscalar" in blob
    blob = blob.replace(b"numpy._core.multiarray\nscalar", b"numpy.core.multiarray\nscalar")
    path = tmp_path / "np1.pkl"
    path.write_bytes(blob)
    data = read_nvidia_pickle(path)
    state = data["G_ema"].state
    assert state["weight_gain"] == pytest.approx(0.125)
    assert isinstance(state["_init_kwargs"]["mapping_kwargs"], dict)


def test_other_network_key_and_records(tmp_path, nvidia_names, fixture_data):
    path = write_pickle(tmp_path, snapshot(nvidia_names, fixture_data))
    data = read_nvidia_pickle(path)
    assert data["G_ema"].class_name == "Generator" and data["D"].class_name == "Discriminator"
    assert data["training_set_kwargs"]["resolution"] == 32
    g = load_stylegan2(str(path), key="G")  # all-zero weights: not the fixture
    assert float(g.net.synthesis.b4.const.abs().max()) == 0
    with pytest.raises(InvalidWeightsError, match="'G_nope'.*keys"):
        load_stylegan2(str(path), key="G_nope")
    with pytest.raises(InvalidWeightsError, match="Discriminator, not an NVIDIA Generator"):
        load_stylegan2(str(path), key="D")


def test_mismatched_weights_name_the_keys(tmp_path, nvidia_names, fixture_data):
    meta, sd, _ = fixture_data
    bad = {k: v for k, v in sd.items() if k != "synthesis.b8.conv0.affine.bias"}
    bad["synthesis.b8.extra"] = torch.zeros(3)
    path = write_pickle(tmp_path, {"G_ema": module_tree(bad, nvidia_names, meta["init_kwargs"])})
    with pytest.raises(
        InvalidWeightsError,
        match=r"missing keys \['synthesis.b8.conv0.affine"
        r".bias'\]; unexpected keys \['synthesis.b8"
        r".extra'\]",
    ):
        load_stylegan2(str(path))


# ----- state dict + JSON ------------------------------------------------------------------


def test_state_dict_with_sibling_json(tmp_path, fixture_data):
    meta, sd, expected = fixture_data
    torch.save(sd, tmp_path / "sd.pt")
    (tmp_path / "sd.json").write_text(json.dumps(meta["init_kwargs"]))
    gen = generators.load_generator(f"stylegan2:{tmp_path / 'sd.pt'}")
    check_reproduces_fixture(gen, expected)
    assert gen.weights_sha256 == hashlib.sha256((tmp_path / "sd.pt").read_bytes()).hexdigest()
    # an explicit JSON (here the fixture's meta.json, with an "init_kwargs" entry)
    gen2 = load_stylegan2(
        str(FIXTURE / "generator_state_dict.pt"), init_kwargs_json=str(FIXTURE / "meta.json")
    )
    check_reproduces_fixture(gen2, expected, ("psi0.5",))


def test_state_dict_without_json_names_it(tmp_path, fixture_data):
    torch.save(fixture_data[1], tmp_path / "weights.pt")
    with pytest.raises(FileNotFoundError, match="weights.json"):
        load_stylegan2(str(tmp_path / "weights.pt"))


# ----- bad files --------------------------------------------------------------------------


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.pkl"
    with pytest.raises(FileNotFoundError, match="nope.pkl"):
        generators.load_generator(f"stylegan2:{missing}")
    with pytest.raises(ValueError, match="needs a file"):
        generators.load_generator("stylegan2")


def test_truncated_and_non_pickle_files(tmp_path, nvidia_names, fixture_data):
    blob = pickle.dumps(snapshot(nvidia_names, fixture_data), protocol=4)
    cases = {
        "truncated.pkl": blob[: len(blob) // 2],
        "text.pkl": b"hello, not a pickle\n",
        "empty.pkl": b"",
        "tail.pkl": blob[-1000:],
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(InvalidWeightsError, match=f"{name} is not a readable"):
            load_stylegan2(str(tmp_path / name))


# ----- malicious pickles: refused, and provably without side effects ----------------------


class Call:
    """Pickles as a call func(*args)."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def _payloads(marker: Path) -> dict[str, object]:
    py = f"open({str(marker)!r}, 'w').write('pwned')"
    return {
        "posix.system": Call(os.system, f"touch {marker}"),
        "builtins.eval": Call(builtins.eval, py),
        "builtins.exec": Call(builtins.exec, py),
        "subprocess.Popen": Call(subprocess.Popen, ["touch", str(marker)]),
        "builtins.getattr": Call(getattr, Call(builtins.__import__, "os"), "system"),
        "pathlib.Path": Call(Path, str(marker)),
    }


@pytest.mark.parametrize("where", ["top", "inside_module_state", "inside_init_kwargs"])
@pytest.mark.parametrize("protocol", [2, 4])
def test_malicious_globals_refused_without_side_effects(
    tmp_path, nvidia_names, fixture_data, where, protocol
):
    marker = tmp_path / "pwned"
    for name, payload in _payloads(marker).items():
        snap = snapshot(nvidia_names, fixture_data, with_g=False)
        if where == "top":
            snap = {"evil": payload, **snap}
        elif where == "inside_module_state":
            snap["G_ema"].state["_modules"]["mapping"].state["evil"] = payload
        else:
            snap["G_ema"].state["_init_kwargs"]["mapping_kwargs"]["evil"] = payload
        path = write_pickle(tmp_path, snap, protocol, name=f"{name}.pkl")
        # (protocol 2 spells them __builtin__.eval, commands.Popen: reported by Python 3 names)
        with pytest.raises(UnsafePickleError, match=f"refused global {name}:"):
            load_stylegan2(str(path))
        assert not marker.exists(), name


@pytest.mark.parametrize(
    "module, name",
    [
        ("os", "system"),
        ("nt", "system"),
        ("builtins", "__import__"),
        ("torch", "load"),
        ("numpy", "load"),
        ("io", "open"),
        ("shutil", "rmtree"),
        ("copyreg", "_reconstructor"),
        ("torch_utils.persistence", "_src_to_module"),
        ("dnnlib.util", "call_func_by_name"),
        ("torch._utils", "_rebuild_device_tensor_from_numpy"),
        ("collections", "defaultdict"),
    ],
)
def test_any_other_global_refused(tmp_path, module, name):
    path = tmp_path / "g.pkl"
    # GLOBAL opcode: find_class runs before anything could be called
    path.write_bytes(b"\x80\x02c" + f"{module}\n{name}\n".encode() + b")R.")
    with pytest.raises(UnsafePickleError, match=f"refused global {module}.{name}"):
        read_nvidia_pickle(path)


def test_malicious_storage_blob_refused(tmp_path):
    """Storages are nested torch.save blobs, parsed with the same allow-list: a payload in one
    is refused before being called."""
    marker = tmp_path / "pwned"
    inner = pickle.dumps(Call(os.system, f"touch {marker}"), protocol=2)
    path = write_pickle(tmp_path, {"G_ema": Call(torch.storage._load_from_bytes, inner)})
    with pytest.raises(UnsafePickleError, match="refused global posix.system"):
        read_nvidia_pickle(path)
    assert not marker.exists()


def test_persistent_ids_refused(tmp_path):
    class P(pickle.Pickler):
        def persistent_id(self, obj):
            return "x" if obj == "secret" else None

    buf = io.BytesIO()
    P(buf, protocol=2).dump({"G_ema": "secret"})
    path = tmp_path / "pid.pkl"
    path.write_bytes(buf.getvalue())
    with pytest.raises(UnsafePickleError, match="persistent id"):
        read_nvidia_pickle(path)


# ----- per-layer conv_clamp: both repositories' conventions -------------------------------


def stylegan3_kwargs(meta) -> dict:
    """Init kwargs as stylegan3's train.py --cfg=stylegan2 writes them (without --fp32):
    flat synthesis kwargs, no conv_clamp and no num_fp16_res (the module defaults apply)."""
    kw = meta["init_kwargs"]
    syn = kw["synthesis_kwargs"]
    return {
        **{k: kw[k] for k in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")},
        "mapping_kwargs": dict(kw["mapping_kwargs"]),
        "channel_base": syn["channel_base"],
        "channel_max": syn["channel_max"],
        "fused_modconv_default": "inference_only",
    }


def reference_net(meta, sd, conv_clamp):
    """Our generator built directly (ada-style nested kwargs) with an explicit clamp."""
    kw = json.loads(json.dumps(meta["init_kwargs"]))
    kw["synthesis_kwargs"]["conv_clamp"] = conv_clamp
    net = StyleGAN2Generator(**kw)
    net.load_state_dict(sd)
    return net.eval()


def clamps(net) -> set:
    return {m.conv_clamp for m in net.modules() if isinstance(m, (SynthesisLayer, ToRGBLayer))}


def test_stylegan3_repository_pickle_keeps_conv_clamp(tmp_path, nvidia_names, fixture_data):
    meta, sd, expected = fixture_data
    tree = module_tree(sd, nvidia_names, stylegan3_kwargs(meta))
    set_layer_state(tree, "conv_clamp", 256)  # what NVIDIA's layers carry in the pickle
    gen = load_stylegan2(str(write_pickle(tmp_path, {"G_ema": tree}, name="sg3.pkl")))
    assert clamps(gen.net) == {256}
    check_reproduces_fixture(gen, expected)
    # the clamp matters: scale the constant input so activations exceed 256
    loud = {**sd, "synthesis.b4.const": sd["synthesis.b4.const"] * 3000}
    tree = module_tree(loud, nvidia_names, stylegan3_kwargs(meta))
    set_layer_state(tree, "conv_clamp", 256)
    gen = load_stylegan2(str(write_pickle(tmp_path, {"G_ema": tree}, name="loud.pkl")))
    ws = gen.net.mapping(expected["z"], None)
    with torch.no_grad():
        ours = gen.net.synthesis(ws)
        clamped = reference_net(meta, loud, 256).synthesis(ws)
        unclamped = reference_net(meta, loud, None).synthesis(ws)
    assert torch.equal(ours, clamped)
    assert float((unclamped - clamped).abs().max()) > 100  # the bug of issue 14: up to 1e2


@pytest.mark.parametrize(
    "convention, layer_state, expected_clamp",
    [
        ("stylegan3", None, 256),  # record without the attribute: stylegan3's module default
        ("ada", None, None),  # stylegan2-ada-pytorch's module default
        ("ada", 256, 256),  # the layers' own value wins over the kwargs
        ("stylegan3", 64, 64),
        ("stylegan3", np.float64(32.0), 32.0),
    ],
)
def test_conv_clamp_from_records_and_module_defaults(
    tmp_path, nvidia_names, fixture_data, convention, layer_state, expected_clamp
):
    meta, sd, _ = fixture_data
    if convention == "ada":
        kw = json.loads(json.dumps(meta["init_kwargs"]))
        del kw["synthesis_kwargs"]["conv_clamp"]
    else:
        kw = stylegan3_kwargs(meta)
    tree = module_tree(sd, nvidia_names, kw)
    if layer_state is not None:
        set_layer_state(tree, "conv_clamp", layer_state)
    gen = load_stylegan2(str(write_pickle(tmp_path, {"G_ema": tree})))
    assert clamps(gen.net) == {expected_clamp}
    # the resnet skip and every other module keep what the kwargs gave them
    assert gen.net.init_kwargs["synthesis_kwargs"].get("conv_clamp") == (
        256 if convention == "stylegan3" else None
    )


def test_bad_conv_clamp_in_a_record_is_refused(tmp_path, nvidia_names, fixture_data):
    meta, sd, _ = fixture_data
    tree = module_tree(sd, nvidia_names, meta["init_kwargs"])
    set_layer_state(tree, "conv_clamp", "256")
    with pytest.raises(
        InvalidWeightsError,
        match=r"net.pkl \[G_ema\]: synthesis.b.*conv_clamp "
        "must be a number",
    ):
        load_stylegan2(str(write_pickle(tmp_path, {"G_ema": tree})))
