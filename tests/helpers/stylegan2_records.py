"""NVIDIA's StyleGAN2 pickle structure, built without NVIDIA's code (shared by the loader tests).

Modules are pickled the way `torch_utils.persistence.persistent_class` pickles them: a call
`torch_utils.persistence._reconstruct_persistent_obj(meta)` with meta = {type, version,
module_src, class_name, state}; `nvidia_names` fakes the two NVIDIA modules so that the pickles
carry NVIDIA's global names (the fake hook fails loudly if anything ever calls it).
"""

from __future__ import annotations

import collections
import math
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

BUFFERS = {"w_avg", "resample_filter", "noise_const"}  # the rest are parameters
NVIDIA_SRC = "# training/networks.py source would be here; it must never be executed\n"


@pytest.fixture
def nvidia_names(monkeypatch):
    """Fake `torch_utils.persistence` and `dnnlib.util` so pickles carry NVIDIA's global names."""
    calls = []

    def _reconstruct_persistent_obj(meta):  # NVIDIA's hook would exec meta["module_src"]
        calls.append(meta)
        raise AssertionError("the persistence hook must never be called")

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"

    class EasyDict(dict):
        pass

    EasyDict.__module__, EasyDict.__qualname__ = "dnnlib.util", "EasyDict"
    persistence = types.ModuleType("torch_utils.persistence")
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    util = types.ModuleType("dnnlib.util")
    util.EasyDict = EasyDict
    for name, mod in {
        "torch_utils": types.ModuleType("torch_utils"),
        "torch_utils.persistence": persistence,
        "dnnlib": types.ModuleType("dnnlib"),
        "dnnlib.util": util,
    }.items():
        monkeypatch.setitem(sys.modules, name, mod)
    return types.SimpleNamespace(hook=_reconstruct_persistent_obj, EasyDict=EasyDict, calls=calls)


class NvModule:
    """Pickles exactly like a module decorated with NVIDIA's @persistence.persistent_class."""

    def __init__(self, hook, class_name: str, state: dict):
        self.hook, self.class_name, self.state = hook, class_name, state

    def __reduce__(self):
        meta = dict(
            type="class",
            version=6,
            module_src=NVIDIA_SRC,
            class_name=self.class_name,
            state=self.state,
        )
        return (self.hook, (meta,), None)


def _class_name(path: str) -> str:
    last = path.rsplit(".", 1)[-1]
    if path in ("", "mapping", "synthesis"):
        return {"": "Generator", "mapping": "MappingNetwork", "synthesis": "SynthesisNetwork"}[path]
    if path.startswith("mapping."):
        return "FullyConnectedLayer"
    if last.startswith("b") and last[1:].isdigit():
        return "SynthesisBlock"
    return {
        "conv0": "SynthesisLayer",
        "conv1": "SynthesisLayer",
        "torgb": "ToRGBLayer",
        "affine": "FullyConnectedLayer",
        "skip": "Conv2dLayer",
    }[last]


def module_tree(sd: dict, names, init_kwargs: dict, raw: bool = False) -> NvModule:
    """Split a flat NVIDIA state dict into the per-module `_parameters`/`_buffers` tree
    (`raw`: the values are pickled as given, e.g. crafted tensor calls)."""
    paths = {""} | {k.rsplit(".", 1)[0] if "." in k else "" for k in sd}
    for p in list(paths):  # every ancestor is a module too
        while "." in p:
            p = p.rsplit(".", 1)[0]
            paths.add(p)
        paths.add(p)
    states = {}
    for path in paths:
        states[path] = {
            "training": False,
            "_parameters": collections.OrderedDict(),
            "_buffers": collections.OrderedDict(),
            "_non_persistent_buffers_set": set(),
            "_backward_hooks": collections.OrderedDict(),
            "_forward_hooks": collections.OrderedDict(),
            "_forward_pre_hooks": collections.OrderedDict(),
            "_state_dict_hooks": collections.OrderedDict(),
            "_load_state_dict_pre_hooks": collections.OrderedDict(),
            "_modules": collections.OrderedDict(),
            "_init_args": (),
            "_init_kwargs": {},
            "weight_gain": np.float64(1 / math.sqrt(64)),  # numpy scalars, as NVIDIA's
            "activation": "lrelu",
        }
    for key, t in sd.items():
        path, _, leaf = key.rpartition(".")
        if leaf in BUFFERS:
            states[path]["_buffers"][leaf] = t if raw else t.clone()
        else:
            states[path]["_parameters"][leaf] = t if raw else torch.nn.Parameter(t.clone())
    states[""]["_init_kwargs"] = {
        k: names.EasyDict(v) if k.endswith("_kwargs") else v for k, v in init_kwargs.items()
    }
    modules = {p: NvModule(names.hook, _class_name(p), states[p]) for p in paths}
    for path in sorted(paths, key=lambda p: (p.count("."), p)):
        if path:
            parent, _, leaf = path.rpartition(".") if "." in path else ("", "", path)
            states[parent]["_modules"][leaf] = modules[path]
    return modules[""]


def snapshot(names, fixture_data, with_g: bool = True) -> dict:
    """A training snapshot: G (different weights), D, G_ema and training_set_kwargs."""
    meta, sd, _ = fixture_data
    g = (
        module_tree({k: torch.zeros_like(v) for k, v in sd.items()}, names, meta["init_kwargs"])
        if with_g
        else None
    )
    d = NvModule(
        names.hook,
        "Discriminator",
        {"_parameters": {}, "_buffers": {}, "_modules": {}, "_init_kwargs": {}},
    )
    return {
        "training_set_kwargs": names.EasyDict(path="ffhq.zip", resolution=32),
        "G": g,
        "D": d,
        "G_ema": module_tree(sd, names, meta["init_kwargs"]),
        "augment_pipe": None,
    }


def write_pickle(tmp_path: Path, obj, protocol: int = 4, name: str = "net.pkl") -> Path:
    path = tmp_path / name
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


def walk_records(root: NvModule):
    """Every NvModule of a tree (depth first)."""
    todo = [root]
    while todo:
        mod = todo.pop()
        yield mod
        todo.extend(m for m in mod.state.get("_modules", {}).values() if isinstance(m, NvModule))


def set_layer_state(root: NvModule, key: str, value, classes=("SynthesisLayer", "ToRGBLayer")):
    """Set `state[key] = value` on every record of the given classes (e.g. conv_clamp)."""
    for mod in walk_records(root):
        if mod.class_name in classes:
            mod.state[key] = value
