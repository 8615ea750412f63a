"""Hostile and malformed StyleGAN2 pickles cost nothing: one clear refusal, fast, small, inert.

Every file is crafted here with our own code (NVIDIA's record structure, see
`helpers.stylegan2_records`). All files are then loaded in one subprocess
(`helpers/stylegan2_hostile_probe.py`) whose address space is capped at +1 GiB after a reference load of a valid file: a refusal
must be an `InvalidWeightsError` (or its `UnsafePickleError`) naming the file and the expected
reason, take at most 20x the reference load's time, and never run or write anything.
"""

from __future__ import annotations

import collections
import io
import json
import math
import os
import pickle
import re
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from generators.stylegan2 import InvalidWeightsError, StyleGAN2Generator, load_stylegan2
from generators.stylegan2.unpickler import _load_storage, read_nvidia_pickle
from helpers.paths import TESTS, fixture_dir, subprocess_pythonpath
from helpers.stylegan2_records import NvModule, module_tree, nvidia_names, write_pickle  # noqa: F401

FIXTURE = fixture_dir("stylegan2-ada-tiny")
TIME_RATIO = 20  # a refusal may take this many times the valid reference load
PLACEHOLDER = "@@SPLICE@@"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ----- raw pickle building blocks ---------------------------------------------------------


class Call:
    """Pickles as a call func(*args) (with `state`: then a BUILD with it)."""

    def __init__(self, func, *args, state=None):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


def _put(i: int) -> bytes:
    return b"r" + struct.pack("<I", i)  # LONG_BINPUT (indices far above the pickler's)


def _get(i: int) -> bytes:
    return b"j" + struct.pack("<I", i)  # LONG_BINGET


def splice(obj, ops: bytes, protocol: int = 2) -> bytes:
    """Pickle `obj`, replacing the string PLACEHOLDER by raw opcodes that push one object."""
    blob = pickle.dumps(obj, protocol=protocol)
    enc = PLACEHOLDER.encode()
    needle = b"X" + struct.pack("<I", len(enc)) + enc
    assert blob.count(needle) == 1
    return blob.replace(needle, ops)


def deep_list_ops(depth: int) -> bytes:
    return b"]" * depth + b"a" * (depth - 1)  # [[[...]]] without recursion


def self_list_ops() -> bytes:
    return b"]" + _put(900_000) + _get(900_000) + b"a"  # l = []; l.append(l)


def dag_ops(levels: int, width: int = 2) -> bytes:
    """l0 = [0]; l_i = [l_{i-1}] * width: width**levels paths in a few bytes per level."""
    base = 800_000
    ops = b"]K\x00a" + _put(base) + b"0"
    for i in range(1, levels + 1):
        ops += b"](" + _get(base + i - 1) * width + b"e" + _put(base + i) + b"0"
    return ops + _get(base + levels)


def storage_blob(
    numel: int, data: bytes, count: int | None = None, storage_type=torch.FloatStorage
) -> bytes:
    """A legacy torch.save blob of one storage, as torch pickles storages inside tensors."""
    buf = io.BytesIO()
    for obj in (
        torch.serialization.MAGIC_NUMBER,
        1001,
        {
            "protocol_version": 1001,
            "little_endian": True,
            "type_sizes": {"short": 2, "int": 4, "long": 4},
        },
    ):
        pickle.dump(obj, buf, protocol=2)

    class P(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", storage_type, "k0", "cpu", numel, None) if obj == "S" else None

    P(buf, protocol=2).dump("S")
    pickle.dump(["k0"], buf, protocol=2)
    buf.write(struct.pack("<q", numel if count is None else count))
    buf.write(data)
    return buf.getvalue()


def tensor_call(storage, size, stride=None, offset: int = 0, state=None) -> Call:
    if stride is None:
        stride = tuple(math.prod(size[i + 1 :]) for i in range(len(size)))
    return Call(
        torch._utils._rebuild_tensor_v2,
        storage,
        offset,
        tuple(size),
        tuple(stride),
        False,
        collections.OrderedDict(),
        state=state,
    )


def zip_with_data_pkl(saved: bytes, edit) -> bytes:
    """A torch.save zip whose data.pkl is replaced by edit(data.pkl)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(saved)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, edit(data) if name.endswith("data.pkl") else data)
    return out.getvalue()


def float_storage(values: torch.Tensor) -> Call:
    data = values.to(torch.float32).contiguous().numpy().tobytes()
    return Call(torch.storage._load_from_bytes, storage_blob(values.numel(), data))


# ----- the cases --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fixture_data():
    meta = json.loads((FIXTURE / "meta.json").read_text())
    sd = torch.load(FIXTURE / "generator_state_dict.pt", weights_only=True)
    return meta, sd


def generator(names, init_kwargs, modules=None, **state) -> NvModule:
    st = {
        "_parameters": {},
        "_buffers": {},
        "_modules": {} if modules is None else modules,
        "_init_args": (),
        "_init_kwargs": init_kwargs,
        **state,
    }
    return NvModule(names.hook, "Generator", st)


def kwargs_with(meta, **synthesis) -> dict:
    kw = json.loads(json.dumps(meta["init_kwargs"]))
    for k, v in synthesis.items():
        (
            kw
            if k in ("z_dim", "w_dim", "c_dim", "img_resolution", "img_channels")
            else kw["synthesis_kwargs"]
        )[k] = v
    return kw


def build_cases(tmp: Path, names, fixture_data) -> dict[str, tuple]:
    """name -> (file bytes, regex the refusal must match[, text of the sibling JSON])."""
    meta, sd = fixture_data
    marker = tmp / "pwned"
    g = lambda kw, **st: {"G_ema": generator(names, kw, **st)}  # noqa: E731
    dump = lambda obj: pickle.dumps(obj, protocol=4)  # noqa: E731
    cases: dict[str, tuple[bytes, str]] = {}

    # -- init kwargs that would build something huge or break the constructor
    cases["kwargs_img_resolution_32768"] = (
        dump(g(kwargs_with(meta, img_resolution=32768))),
        r"img_resolution = 32768 is outside",
    )
    cases["kwargs_zero_channels"] = (
        dump(g(kwargs_with(meta, img_resolution=8192, channel_base=1024))),
        r"channel_base=1024 gives 0 channels",
    )
    cases["kwargs_dims_131072"] = (
        dump(g(kwargs_with(meta, z_dim=131072, w_dim=131072))),
        r"z_dim = 131072 is outside",
    )
    cases["kwargs_not_power_of_two"] = (
        dump(g(kwargs_with(meta, img_resolution=1000))),
        r"img_resolution = 1000 is not a power of two",
    )
    cases["kwargs_string_resolution"] = (
        dump(g(kwargs_with(meta, img_resolution="1024"))),
        r"img_resolution must be an integer",
    )
    cases["kwargs_bool_dim"] = (dump(g(kwargs_with(meta, z_dim=True))), r"z_dim must be an integer")
    cases["kwargs_unknown_key"] = (
        dump(g(kwargs_with(meta, evil_key=1))),
        r"unknown synthesis_kwargs \['evil_key'\]",
    )
    cases["kwargs_nan_clamp"] = (
        dump(g(kwargs_with(meta, conv_clamp=float("nan")))),
        r"conv_clamp = nan is outside",
    )
    cases["kwargs_mapping_layers_1e9"] = (
        dump(g({**meta["init_kwargs"], "mapping_kwargs": {"num_layers": 10**9}})),
        r"mapping_kwargs.num_layers = 1000000000 is outside",
    )
    cases["kwargs_stylegan3"] = (
        dump(g({**meta["init_kwargs"], "magnitude_ema_beta": 0.5})),
        r"belong to a StyleGAN3 generator",
    )
    cases["kwargs_tensor_value"] = (
        dump(g(kwargs_with(meta, conv_clamp=torch.zeros(3)))),
        r"is a Tensor, not a plain value",
    )
    # a real 1024x1024 config (30M parameters) declared by a file without its tensors
    big = dict(
        z_dim=512,
        c_dim=0,
        w_dim=512,
        img_resolution=1024,
        img_channels=3,
        mapping_kwargs={"num_layers": 8},
        synthesis_kwargs={"conv_clamp": 256},
    )
    cases["kwargs_big_network_without_tensors"] = (dump(g(big)), r"missing keys \[.*in all\)")

    # -- shared references: exponential expansion, cycles, deep nesting (in kwargs)
    holder = kwargs_with(meta, architecture=PLACEHOLDER)
    cases["kwargs_dag_2pow40"] = (splice(g(holder), dag_ops(40)), r"nested deeper than 8")
    cases["kwargs_dag_wide_300pow5"] = (
        splice(g(holder), dag_ops(5, width=300)),
        r"more than 2000 values",
    )
    cases["kwargs_cycle"] = (splice(g(holder), self_list_ops()), r"contain a cycle")
    cases["kwargs_deep_100000"] = (
        splice(g(holder), deep_list_ops(100_000)),
        r"nested deeper than 8",
    )
    cases["class_name_deep_100000"] = (
        splice(
            {"G_ema": Call(names.hook, {"class_name": PLACEHOLDER, "state": {}})},
            deep_list_ops(100_000),
        ),
        r"class name \[\[",
    )

    # -- module trees: a DAG with 2^30 paths, a cycle, depth, aliasing names
    leaf = NvModule(names.hook, "SynthesisLayer", {"_modules": {}})
    node = leaf
    for _ in range(10):  # 8 ** 10 = 2 ** 30 paths
        node = NvModule(names.hook, "SynthesisBlock", {"_modules": dict.fromkeys("abcdefgh", node)})
    cases["module_dag_2pow30"] = (
        dump(g(meta["init_kwargs"], _modules={"synthesis": node})),
        r"already reached by another path",
    )
    chain = NvModule(names.hook, "SynthesisLayer", {"_modules": {}})
    for _ in range(40):
        chain = NvModule(names.hook, "SynthesisBlock", {"_modules": {"c": chain}})
    cases["module_depth_40"] = (
        dump(g(meta["init_kwargs"], _modules={"synthesis": chain})),
        r"module tree deeper than 16",
    )
    cases["module_dotted_names"] = (
        dump(g(meta["init_kwargs"], _modules={"synthesis.b4": leaf})),
        r"not identifiers",
    )
    mods: dict = {}
    root = generator(names, meta["init_kwargs"], modules=mods)
    # the cycle: after the root exists, its _modules dict gets the root itself
    p = pickle.Pickler(io.BytesIO(), protocol=2)
    p.dump({"G_ema": root, "z": PLACEHOLDER})
    memo = p.memo.copy()
    idx_mods, idx_root = memo[id(mods)][0], memo[id(root)][0]
    cases["module_cycle"] = (
        splice(
            {"G_ema": root, "z": PLACEHOLDER},
            _get(idx_mods) + b"X\x04\x00\x00\x00self" + _get(idx_root) + b"s",
        ),
        r"already reached by another path",
    )

    # -- storages and tensor views that claim more than the file holds
    cases["storage_declares_1GiB"] = (
        dump(
            {
                "G_ema": tensor_call(
                    Call(torch.storage._load_from_bytes, storage_blob(1 << 28, b"\0" * 16)), (4,)
                )
            }
        ),
        r"storage declares 268435456 elements \(1073741824 bytes\) but its blob holds 16 bytes",
    )
    cases["storage_count_field_lies"] = (
        dump(
            {
                "G_ema": tensor_call(
                    Call(
                        torch.storage._load_from_bytes, storage_blob(4, b"\0" * 16, count=1 << 40)
                    ),
                    (4,),
                )
            }
        ),
        r"count field 1099511627776",
    )
    cases["storage_quantized_type"] = (
        dump(
            {
                "G_ema": Call(
                    torch.storage._load_from_bytes,
                    storage_blob(4, b"\0" * 4, storage_type=torch.QInt8Storage),
                )
            }
        ),
        r"refused global torch.QInt8Storage",
    )
    small = float_storage(torch.zeros(4))
    cases["tensor_stride0_2pow40"] = (
        dump({"G_ema": tensor_call(small, (1 << 40,), (0,))}),
        r"overlaps or has gaps",
    )
    cases["tensor_offset_outside"] = (
        dump({"G_ema": tensor_call(small, (4,), offset=10)}),
        r"exceeds its storage of 4 elements",
    )
    # every tensor of a real config as a view of one shared 1 MiB storage
    kw_mid = dict(
        z_dim=256,
        c_dim=0,
        w_dim=256,
        img_resolution=256,
        img_channels=3,
        mapping_kwargs={"num_layers": 2},
        synthesis_kwargs={"channel_base": 16384, "channel_max": 256},
    )
    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in StyleGAN2Generator(**kw_mid).state_dict().items()}
    shared = float_storage(torch.zeros(max(math.prod(s) for s in shapes.values())))
    views = {k: tensor_call(shared, s) for k, s in shapes.items()}
    cases["shared_storage_for_every_tensor"] = (
        dump({"G_ema": module_tree(views, names, kw_mid, raw=True)}),
        r"needs \d+ bytes but the file holds only \d+ bytes",
    )

    # -- length fields that promise more than the file holds, and opcode floods
    cases["binbytes8_16GiB"] = (
        b"\x80\x04\x8e" + struct.pack("<Q", 1 << 34) + b"xx.",
        r"not a readable NVIDIA StyleGAN2 pickle",
    )
    cases["bytearray8_16GiB"] = (
        b"\x80\x05\x96" + struct.pack("<Q", 1 << 34) + b"xx.",
        r"pickle data was truncated",
    )
    cases["frame_16GiB"] = (
        b"\x80\x04\x95" + struct.pack("<Q", 1 << 34) + b"N.",
        r"pickle holds a NoneType",
    )
    cases["opcode_flood"] = (
        b"\x80\x04" + b"N0" * 250_001 + b"N.",
        r"more than 500000 pickle opcodes",
    )

    # -- numpy constructors that allocate
    cases["numpy_newobj_ndarray"] = (
        b"\x80\x02cnumpy\nndarray\nJ" + struct.pack("<i", 10**9) + b"\x85\x85\x81.",
        r"instantiating numpy.ndarray \(NEWOBJ\) refused",
    )
    cases["numpy_call_ndarray"] = (
        b"\x80\x02cnumpy\nndarray\nJ" + struct.pack("<i", 10**9) + b"\x85\x85R.",
        r"calling numpy.ndarray refused",
    )
    cases["numpy_reconstruct_huge"] = (
        b"\x80\x02cnumpy._core.multiarray\n_reconstruct\ncnumpy\nndarray\nJ"
        + struct.pack("<i", 10**9)
        + b"\x85C\x01b\x87R.",
        r"numpy array construction",
    )
    cases["numpy_object_dtype"] = (
        b"\x80\x02cnumpy\ndtype\nX\x01\x00\x00\x00O\x85R.",
        r"numpy dtype 'O' refused",
    )

    # -- code execution attempts (the marker file must never appear)
    cases["os_system"] = (
        dump(g(meta["init_kwargs"], evil=Call(os.system, f"touch {marker}"))),
        r"refused global posix.system",
    )
    cases["builtins_eval"] = (
        dump(g(kwargs_with(meta, architecture=Call(eval, f"open({str(marker)!r}, 'w')")))),
        r"refused global builtins.eval",
    )
    cases["build_payload_on_a_record"] = (
        dump(
            {
                "G_ema": Call(
                    names.hook,
                    {"class_name": "Generator", "state": {}},
                    state={"state": Call(os.system, f"touch {marker}")},
                )
            }
        ),
        r"refused global posix.system",
    )
    cases["build_on_a_record"] = (
        dump(
            {
                "G_ema": Call(
                    names.hook, {"class_name": "Generator", "state": {}}, state={"state": 5}
                )
            }
        ),
        r"setting the state of a PersistentRecord \(BUILD\) refused",
    )
    # -- the state-dict route (a zip by its leading bytes) and its JSON of init kwargs
    buf = io.BytesIO()
    torch.save({"a": torch.arange(4.0)}, buf)
    cases["zip_storage_declares_1GiB"] = (
        zip_with_data_pkl(
            buf.getvalue(), lambda d: d.replace(b"K\x04t", b"J" + struct.pack("<i", 1 << 28) + b"t")
        ),
        r"is not a readable torch state dict: RuntimeError: record size \(16 bytes\)",
        json.dumps(meta["init_kwargs"]),
    )
    cases["zip_payload"] = (
        zip_with_data_pkl(
            buf.getvalue(), lambda d: pickle.dumps(Call(os.system, f"touch {marker}"), protocol=2)
        ),
        r"refused by torch.load\(weights_only=True\)",
        json.dumps(meta["init_kwargs"]),
    )
    zbomb = io.BytesIO()  # 256 MiB of zeros in ~250 KiB, deflated
    with (
        zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src,
        zipfile.ZipFile(zbomb, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for name in src.namelist():
            data = src.read(name)
            if name.endswith("data/0"):
                with dst.open(name, "w") as f:
                    for _ in range(256):
                        f.write(bytes(1 << 20))
                continue
            if name.endswith("data.pkl"):
                data = data.replace(b"K\x04t", b"J" + struct.pack("<i", 1 << 28) + b"t")
            dst.writestr(name, data)
    cases["zip_bomb_deflated"] = (
        zbomb.getvalue(),
        r"compressed zip entries",
        json.dumps(meta["init_kwargs"]),
    )
    legacy = io.BytesIO()
    torch.save(sd, legacy, _use_new_zipfile_serialization=False)
    cases["legacy_torch_save"] = (
        legacy.getvalue(),
        r"is a legacy torch.save file",
        json.dumps(meta["init_kwargs"]),
    )
    torch.save(sd, buf := io.BytesIO())
    cases["zip_json_deep_100000"] = (
        buf.getvalue(),
        r"json: not a JSON object of init kwargs: "
        r"nested too deeply",
        "[" * 100_000 + "]" * 100_000,
    )
    cases["zip_json_img_resolution_32768"] = (
        buf.getvalue(),
        r"img_resolution = 32768 is outside",
        json.dumps(kwargs_with(meta, img_resolution=32768)),
    )
    cases["build_on_an_easydict"] = (
        dump({"G_ema": Call(names.EasyDict, state={"__class__": 1})}),
        r"setting the state of a EasyDict \(BUILD\) refused",
    )
    return cases


def test_hostile_files_are_refused_cheaply_and_inertly(tmp_path, nvidia_names, fixture_data):
    meta, sd = fixture_data
    ref = write_pickle(
        tmp_path,
        {"G_ema": module_tree(sd, nvidia_names, meta["init_kwargs"])},
        name="reference.pkl",
    )
    cases = build_cases(tmp_path, nvidia_names, fixture_data)
    paths = [["reference", str(ref)]]
    for name, (data, _, *sidecar) in cases.items():
        path = tmp_path / f"{name}.pkl"
        path.write_bytes(data)
        if sidecar:
            path.with_suffix(".json").write_text(sidecar[0])
        paths.append([name, str(path)])
    (tmp_path / "cases.json").write_text(json.dumps(paths))
    env = {
        **os.environ,
        "PYTHONPATH": subprocess_pythonpath(),
    }
    proc = subprocess.run(
        [
            sys.executable,
            str(TESTS / "helpers" / "stylegan2_hostile_probe.py"),
            str(tmp_path / "cases.json"),
            str(tmp_path / "out.json"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = {r["name"]: r for r in json.loads((tmp_path / "out.json").read_text())}
    if os.environ.get("STYLEGAN2_HOSTILE_REPORT"):  # the table in the closing note
        Path(os.environ["STYLEGAN2_HOSTILE_REPORT"]).write_text(json.dumps(results, indent=1))
    t_ref = results["reference"]["seconds"]
    assert results["reference"]["error"] is None
    for name, (_, reason, *_) in cases.items():
        r = results[name]
        assert r["error"] in ("InvalidWeightsError", "UnsafePickleError"), (name, r)
        named = str(tmp_path / f"{name}.json" if "json" in name else tmp_path / f"{name}.pkl")
        assert named in r["message"], (name, r["message"])
        assert len(r["message"]) < 2000, name
        assert re.search(reason, r["message"]), (name, r["message"])
        assert r["seconds"] <= TIME_RATIO * t_ref + 0.05, (name, r["seconds"], t_ref)
        assert r["python_peak_mb"] < 100, (name, r)
    assert max(r["rss_growth_mb"] for r in results.values()) < 512
    assert not (tmp_path / "pwned").exists()
    assert nvidia_names.calls == []
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix not in (".pkl", ".json")) == []


# ----- cases that load, with the hostile part dropped -------------------------------------


def test_build_on_a_tensor_cannot_attach_hooks(tmp_path, nvidia_names, fixture_data):
    """Tensor.__setstate__ would set _backward_hooks (3-tuple) or call set_ (4-tuple)."""
    meta, sd = fixture_data
    hooked = dict(sd)
    key = "synthesis.b4.conv1.weight"
    t = sd[key]
    hooks = collections.OrderedDict([(0, Call(collections.OrderedDict))])
    hooked[key] = tensor_call(float_storage(t), tuple(t.shape), state=(True, None, hooks))
    key2 = "synthesis.b8.conv0.weight"
    t2 = sd[key2]
    hooked[key2] = tensor_call(
        float_storage(t2),
        tuple(t2.shape),
        state=(float_storage(torch.zeros(1)), 0, (1 << 30,), (0,)),
    )
    path = write_pickle(
        tmp_path, {"G_ema": module_tree(hooked, nvidia_names, meta["init_kwargs"], raw=True)}
    )
    data = read_nvidia_pickle(path)
    rec = data["G_ema"]
    for name in ("conv1",):
        w = (
            rec.state["_modules"]["synthesis"]
            .state["_modules"]["b4"]
            .state["_modules"][name]
            .state["_parameters"]["weight"]
        )
        assert not w._backward_hooks and not w.requires_grad
        assert torch.equal(w, t)
    gen = load_stylegan2(str(path))
    loaded = gen.net.state_dict()
    assert torch.equal(loaded[key], t) and torch.equal(loaded[key2], t2)


def test_format_is_decided_by_leading_bytes(tmp_path, nvidia_names, fixture_data):
    """A pickle whose tail holds a zip (zipfile.is_zipfile says yes) is still a pickle."""
    meta, sd = fixture_data
    blob = pickle.dumps({"G_ema": module_tree(sd, nvidia_names, meta["init_kwargs"])}, protocol=4)
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("data.pkl", b"not used")
    path = tmp_path / "tail.pkl"
    path.write_bytes(blob + zbuf.getvalue())
    assert zipfile.is_zipfile(path)
    gen = load_stylegan2(str(path))
    assert all(torch.equal(gen.net.state_dict()[k], v) for k, v in sd.items())
    # and a zip that is not a state dict is refused as such, not as a pickle
    zpath = tmp_path / "other.zip"
    zpath.write_bytes(zbuf.getvalue())
    (tmp_path / "other.json").write_text(json.dumps(meta["init_kwargs"]))
    with pytest.raises(InvalidWeightsError, match="other.zip is not a readable torch state dict"):
        load_stylegan2(str(zpath))


def test_state_dict_route_takes_only_stored_zips(tmp_path, fixture_data):
    meta, sd = fixture_data
    path = tmp_path / "legacy.pt"
    torch.save(sd, path, _use_new_zipfile_serialization=False)
    (tmp_path / "kw.json").write_text(json.dumps(meta["init_kwargs"]))
    with pytest.raises(InvalidWeightsError, match="legacy.pt is not a torch.save zip archive"):
        load_stylegan2(str(path), init_kwargs_json=str(tmp_path / "kw.json"))
    torch.save(sd, tmp_path / "ok.pt")  # the normal format loads
    gen = load_stylegan2(str(tmp_path / "ok.pt"), init_kwargs_json=str(tmp_path / "kw.json"))
    assert all(torch.equal(gen.net.state_dict()[k], v) for k, v in sd.items())


def test_storage_blob_builder_is_torch_compatible():
    """The crafted blobs are what torch writes: torch.load reads them, and so do we."""
    values = torch.arange(6, dtype=torch.float32)
    blob = storage_blob(6, values.numpy().tobytes())
    theirs = torch.load(io.BytesIO(blob), weights_only=True)
    assert torch.equal(torch.tensor(theirs.tolist()), values)
    ours = _load_storage(blob)
    assert ours.dtype == torch.float32 and torch.equal(torch.tensor(ours.tolist()), values)
