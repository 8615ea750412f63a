"""Load NVIDIA StyleGAN2(-ADA) weights safely, without NVIDIA's code: the "stylegan2" generator.

NVIDIA's snapshot pickles (`network-snapshot-*.pkl`, the published `ffhq.pkl` ...) are a plain
`pickle.dump` of a dict {"G", "D", "G_ema", "augment_pipe", "training_set_kwargs"} in which every
network module is pickled as a call `torch_utils.persistence._reconstruct_persistent_obj(meta)`,
meta = {type: "class", version, module_src: the module's source code, class_name, state: the
module's __dict__ (`_parameters`, `_buffers`, `_modules`, `_init_kwargs`, ...)}. Unpickling them
the normal way executes `module_src`, and any pickle can run arbitrary code. Here:

- `SafeUnpickler.find_class` resolves only an allow-list: the persistence hook (mapped to a
  function that returns an inert `PersistentRecord` and never looks at `module_src`), dnnlib's
  `EasyDict` (mapped to a dict), `collections.OrderedDict`, `set`/`frozenset`, torch's tensor
  and parameter rebuilders (wrapped to accept only tensors and storages, no hooks), numpy
  scalars/dtypes/arrays (under both the numpy 1 `numpy.core` and the numpy 2 `numpy._core`
  names) and latin-1 byte decoding of protocol-2 pickles. Every other global is refused with
  `UnsafePickleError` naming it, before anything is called. Tensor storages inside these pickles
  are nested `torch.save` blobs (`torch.storage._load_from_bytes`); they are read with
  `torch.load(weights_only=True)`, torch's own restricted unpickler.
- The G_ema record tree is walked to collect parameters and persistent buffers under NVIDIA's
  dotted names, our `StyleGAN2Generator` is built from the record's `_init_kwargs`, and the
  tensors are loaded strictly (missing, unexpected and mis-shaped keys are named).

Also accepted: a `torch.save` state dict (read with `weights_only=True`) plus a JSON file of the
init kwargs (the kwargs themselves, or an object with an "init_kwargs" entry), given as
`init_kwargs_json=` or found next to the weights as `<same stem>.json`. This route is taken for
a zip archive (what `torch.save` writes) or when `init_kwargs_json` is given; anything else is
read as an NVIDIA pickle.

Specs: `load_generator("stylegan2:/path/network.pkl")`, `load_generator("stylegan2:/path/sd.pt")`.
"""
from __future__ import annotations

import _compat_pickle
import collections
import hashlib
import io
import json
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from numpy._core.multiarray import _reconstruct as _numpy_reconstruct
from numpy._core.multiarray import scalar as _numpy_scalar

from generators.stylegan2 import StyleGAN2Faces, StyleGAN2Generator
from counterfactual.foundation.hashing import sha256_file


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle references a global outside the allow-list (refused before being called)."""


class InvalidWeightsError(ValueError):
    """The file is not a readable StyleGAN2 pickle / state dict, or does not fit the network."""


@dataclass
class PersistentRecord:
    """What `torch_utils.persistence._reconstruct_persistent_obj(meta)` would have rebuilt."""

    class_name: str
    version: Any
    module_src_sha256: str | None
    state: dict[str, Any] = field(repr=False)


class EasyDict(dict):
    """Stand-in for dnnlib's EasyDict: a dict whose keys also read as attributes."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):        # never let pickled keys pose as __setstate__ etc.
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _reconstruct_persistent_obj(meta: Any) -> PersistentRecord:
    if not isinstance(meta, dict) or not isinstance(meta.get("state"), dict):
        raise InvalidWeightsError("persistent object without a state dict")
    src = meta.get("module_src")
    digest = hashlib.sha256(src.encode()).hexdigest() if isinstance(src, str) else None
    return PersistentRecord(class_name=str(meta.get("class_name")), version=meta.get("version"),
                            module_src_sha256=digest, state=dict(meta["state"]))


def _no_hooks(hooks: Any) -> None:
    if hooks:
        raise UnsafePickleError("tensor with backward hooks refused")


def _rebuild_tensor(storage: Any, offset: int, size: tuple, stride: tuple,
                    requires_grad: bool, hooks: Any, metadata: Any = None) -> torch.Tensor:
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise UnsafePickleError(f"tensor rebuilt from a {type(storage).__name__}, not a storage")
    _no_hooks(hooks)
    return torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False,
                                           collections.OrderedDict())


def _rebuild_parameter(data: Any, requires_grad: bool, hooks: Any) -> torch.Tensor:
    if not isinstance(data, torch.Tensor):
        raise UnsafePickleError(f"parameter rebuilt from a {type(data).__name__}")
    _no_hooks(hooks)
    return data


def _load_storage(blob: bytes) -> Any:
    """A storage pickled by torch as a nested legacy torch.save blob, read with weights_only."""
    if not isinstance(blob, (bytes, bytearray)):
        raise UnsafePickleError("storage blob is not bytes")
    try:
        storage = torch.load(io.BytesIO(blob), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        raise UnsafePickleError(f"tensor storage refused by torch.load(weights_only=True): "
                                f"{str(exc).splitlines()[0]}") from None
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise UnsafePickleError(f"storage blob holds a {type(storage).__name__}")
    return storage


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """How protocol-2 pickles spell bytes: _codecs.encode(str, 'latin1')."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError(f"_codecs.encode with encoding {encoding!r} refused")
    return text.encode("latin1")


def _np_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not np.ndarray:
        raise UnsafePickleError(f"numpy array of subtype {subtype!r} refused")
    return _numpy_reconstruct(subtype, shape, dtype)


# numpy 1 pickles name these numpy.core.multiarray.*, numpy 2 pickles numpy._core.multiarray.*.
_NUMPY_GLOBALS: dict[str, Any] = {"scalar": _numpy_scalar, "_reconstruct": _np_reconstruct}

# (module, name) -> the object the pickle gets instead.
SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("_codecs", "encode"): _latin1_encode,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("numpy", "dtype"): np.dtype,
    ("numpy", "ndarray"): np.ndarray,
    **{(mod, name): obj for mod in ("numpy.core.multiarray", "numpy._core.multiarray")
       for name, obj in _NUMPY_GLOBALS.items()},
}


class SafeUnpickler(pickle.Unpickler):
    """Unpickler that resolves only `SAFE_GLOBALS` and has no persistent ids."""

    def find_class(self, module: str, name: str) -> Any:
        # Protocol 0-2 pickles spell Python 3 names the Python 2 way (__builtin__.set); map
        # them as pickle itself does (only ever onto the same Python 3 object).
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        try:
            return SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refused global {module}.{name}: not allowed in a StyleGAN2 pickle "
                "(it was not called)") from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("refused persistent id: not used by NVIDIA pickles")


def read_nvidia_pickle(path: str | Path) -> Any:
    """Unpickle an NVIDIA network pickle safely; network modules become `PersistentRecord`s."""
    path = _existing(path)
    try:
        with open(path, "rb") as f:
            return SafeUnpickler(f).load()
    except UnsafePickleError as exc:
        raise UnsafePickleError(f"{path}: {exc}") from None
    except InvalidWeightsError as exc:
        raise InvalidWeightsError(f"{path}: {exc}") from None
    except Exception as exc:   # truncated, not a pickle, malformed opcodes or arguments
        raise InvalidWeightsError(
            f"{path} is not a readable NVIDIA StyleGAN2 pickle (truncated or not a pickle?): "
            f"{type(exc).__name__}: {exc}") from None


def record_state_dict(record: PersistentRecord, prefix: str = "") -> dict[str, torch.Tensor]:
    """Parameters and persistent buffers of a record tree under dotted names (as state_dict)."""
    state = record.state
    out: dict[str, torch.Tensor] = {}
    non_persistent = state.get("_non_persistent_buffers_set") or set()
    items = [*state.get("_parameters", {}).items(),
             *((k, v) for k, v in state.get("_buffers", {}).items() if k not in non_persistent)]
    for name, tensor in items:
        if tensor is None:
            continue
        if not isinstance(tensor, torch.Tensor):
            raise InvalidWeightsError(f"{prefix}{name} is a {type(tensor).__name__}, not a tensor")
        out[prefix + name] = tensor.detach()
    for name, child in state.get("_modules", {}).items():
        if child is None:
            continue
        if not isinstance(child, PersistentRecord):
            raise InvalidWeightsError(f"module {prefix}{name} is a {type(child).__name__}, "
                                      "not a persistent NVIDIA module")
        out.update(record_state_dict(child, f"{prefix}{name}."))
    return out


def _plain(obj: Any) -> Any:
    """EasyDicts and tuples in init kwargs -> plain dicts and lists (JSON-able)."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def build_generator(init_kwargs: Mapping[str, Any], state_dict: Mapping[str, torch.Tensor],
                    source: str) -> StyleGAN2Generator:
    """Our network from NVIDIA init kwargs, with the tensors loaded strictly."""
    try:
        net = StyleGAN2Generator(**init_kwargs)
    except (TypeError, ValueError) as exc:
        raise InvalidWeightsError(f"{source}: init kwargs {dict(init_kwargs)} not understood: "
                                  f"{exc}") from None
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    shapes = sorted(f"{k}: {tuple(state_dict[k].shape)} vs {tuple(expected[k].shape)}"
                    for k in set(expected) & set(state_dict)
                    if tuple(state_dict[k].shape) != tuple(expected[k].shape))
    if missing or unexpected or shapes:
        raise InvalidWeightsError(
            f"{source}: weights do not fit StyleGAN2Generator({dict(init_kwargs)}): "
            f"missing keys {missing}; unexpected keys {unexpected}; shape mismatches {shapes}")
    net.load_state_dict({k: v.to(torch.float32) for k, v in state_dict.items()}, strict=True)
    return net.eval().requires_grad_(False)


def generator_from_pickle(path: str | Path, key: str = "G_ema") -> StyleGAN2Generator:
    """Our StyleGAN2Generator from an NVIDIA pickle's `key` network (default G_ema)."""
    data = read_nvidia_pickle(path)
    if isinstance(data, PersistentRecord):            # a pickled generator on its own
        record = data
    elif isinstance(data, Mapping):
        if key not in data:
            raise InvalidWeightsError(f"{path}: no {key!r} in the pickle; keys: {sorted(data)}")
        record = data[key]
    else:
        raise InvalidWeightsError(f"{path}: pickle holds a {type(data).__name__}, "
                                  f"not an NVIDIA snapshot dict")
    if not isinstance(record, PersistentRecord) or record.class_name != "Generator":
        what = record.class_name if isinstance(record, PersistentRecord) else type(record).__name__
        raise InvalidWeightsError(f"{path}: {key} is a {what}, not an NVIDIA Generator")
    if record.state.get("_init_args"):
        raise InvalidWeightsError(f"{path}: {key} has positional init args; expected kwargs only")
    init_kwargs = _plain(record.state.get("_init_kwargs") or {})
    return build_generator(init_kwargs, record_state_dict(record), f"{path} [{key}]")


def generator_from_state_dict(path: str | Path,
                              init_kwargs_json: str | Path | None = None) -> StyleGAN2Generator:
    """Our StyleGAN2Generator from a torch.save state dict and a JSON of init kwargs."""
    path = _existing(path)
    json_path = Path(init_kwargs_json) if init_kwargs_json else path.with_suffix(".json")
    if not json_path.is_file():
        raise FileNotFoundError(f"init kwargs JSON for {path} not found: {json_path} "
                                "(pass init_kwargs_json=...)")
    try:
        spec = json.loads(json_path.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidWeightsError(f"{json_path}: not a JSON object of init kwargs: {exc}") from None
    init_kwargs = spec.get("init_kwargs", spec) if isinstance(spec, dict) else None
    if not isinstance(init_kwargs, dict):
        raise InvalidWeightsError(f"{json_path}: expected a JSON object of init kwargs")
    try:
        sd = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        raise UnsafePickleError(f"{path}: refused by torch.load(weights_only=True): "
                                f"{str(exc).splitlines()[0]}") from None
    except Exception as exc:
        raise InvalidWeightsError(f"{path} is not a readable torch state dict: "
                                  f"{type(exc).__name__}: {exc}") from None
    if not isinstance(sd, Mapping) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise InvalidWeightsError(f"{path}: expected a dict of tensors (a state dict)")
    return build_generator(init_kwargs, sd, str(path))


def _existing(path: str | Path) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"StyleGAN2 weights file not found: {path}")
    return path


def load_stylegan2(path: str | None, device: str = "cpu", *,
                   init_kwargs_json: str | None = None, key: str = "G_ema",
                   class_index: int | None = None, noise_mode: str = "const") -> StyleGAN2Faces:
    """The "stylegan2" generator: an NVIDIA pickle, or a state dict (zip) + init kwargs JSON.

    A zip archive (torch.save) or an explicit `init_kwargs_json` selects the state-dict route;
    anything else is read as an NVIDIA pickle (network `key`, default "G_ema").
    """
    if not path:
        raise ValueError("the stylegan2 generator needs a file: 'stylegan2:/path/network.pkl'")
    path_ = _existing(path)
    if init_kwargs_json is not None or zipfile.is_zipfile(path_):
        net = generator_from_state_dict(path_, init_kwargs_json)
    else:
        net = generator_from_pickle(path_, key=key)
    return StyleGAN2Faces(net, device=device, weights_sha256=sha256_file(path_),
                          class_index=class_index, noise_mode=noise_mode,
                          spec=f"stylegan2:{path}")


__all__ = ["load_stylegan2", "read_nvidia_pickle", "generator_from_pickle",
           "generator_from_state_dict", "record_state_dict", "build_generator",
           "SafeUnpickler", "SAFE_GLOBALS", "UnsafePickleError", "InvalidWeightsError",
           "PersistentRecord"]
