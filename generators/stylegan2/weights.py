"""NVIDIA weights onto our `StyleGAN2Generator`: from a pickle's records or a state dict.

`build_generator` checks the init kwargs (`kwargs.validate_init_kwargs`: known keys, types,
ranges, budgets; the defaults of stylegan2-ada-pytorch or of stylegan3, whichever convention
they follow), builds the network first on torch's meta device (no memory), requires the file's
tensors to match its names and shapes, and refuses a network that needs more than twice the
tensor bytes the file holds; only then is it built and loaded. Each layer's `conv_clamp` is
then taken from its record's state when the record has one (what NVIDIA's own unpickling does).

Two sources:
- `generator_from_pickle`: the `G_ema` (or another key's) record tree of an NVIDIA pickle, read
  by `unpickler.read_nvidia_pickle` and walked by `records.py`.
- `generator_from_state_dict`: a `torch.save` state dict (zip format, stored entries only, read
  with `weights_only=True`) plus a JSON file of the init kwargs (the kwargs themselves, or an
  object with an "init_kwargs" entry), given as `init_kwargs_json=` or found next to the
  weights as `<same stem>.json`.

Every refusal is an `InvalidWeightsError` naming the file and the reason.
"""

from __future__ import annotations

import json
import math
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from generators.stylegan2.kwargs import CONV_CLAMP, short_repr, validate_init_kwargs
from generators.stylegan2.network import StyleGAN2Generator
from generators.stylegan2.records import layer_attributes, record_state_dict
from generators.stylegan2.unpickler import (
    InvalidWeightsError,
    PersistentRecord,
    UnsafePickleError,
    check_dense_view,
    existing_file,
    quote_error,
    read_nvidia_pickle,
)

ZIP_MAGIC = b"PK\x03\x04"  # torch.save's zip archive


def _storage_bytes(tensors: Mapping[str, torch.Tensor]) -> int:
    storages = {}
    for t in tensors.values():
        s = t.untyped_storage()
        storages[s.data_ptr()] = s.nbytes()
    return sum(storages.values())


def _listing(keys: list[str], limit: int = 8) -> str:
    more = f" ... ({len(keys)} in all)" if len(keys) > limit else ""
    return f"{keys[:limit]}{more}"


def build_generator(
    init_kwargs: Mapping[str, Any],
    state_dict: Mapping[str, torch.Tensor],
    source: str,
    layer_attrs: Mapping[str, Mapping[str, Any]] | None = None,
) -> StyleGAN2Generator:
    """Our network from NVIDIA init kwargs (validated), with the tensors loaded strictly.

    The network is first built on the meta device: names and shapes must match, and it may
    not need more than twice the bytes of the given tensors, before anything is allocated.
    `layer_attrs` ({module path: {"conv_clamp": v}}, from the pickle's records) override the
    per-layer clamp the kwargs imply.
    """
    try:
        kwargs = validate_init_kwargs(init_kwargs)
    except ValueError as exc:
        raise InvalidWeightsError(f"{source}: {exc}") from None
    try:
        with torch.device("meta"):
            meta_net = StyleGAN2Generator(**kwargs)
        shapes = {k: tuple(v.shape) for k, v in meta_net.state_dict().items()}
    except (TypeError, ValueError) as exc:
        raise InvalidWeightsError(
            f"{source}: init kwargs not understood: {quote_error(exc)}"
        ) from None
    missing = sorted(set(shapes) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(shapes))
    mismatched = sorted(
        f"{k}: {tuple(state_dict[k].shape)} vs {shapes[k]}"
        for k in set(shapes) & set(state_dict)
        if tuple(state_dict[k].shape) != shapes[k]
    )
    if missing or unexpected or mismatched:
        raise InvalidWeightsError(
            f"{source}: weights do not fit StyleGAN2Generator({short_repr(kwargs)}): "
            f"missing keys {_listing(missing)}; unexpected keys {_listing(unexpected)}; "
            f"shape mismatches {_listing(mismatched)}"
        )
    not_float = sorted(k for k, v in state_dict.items() if not v.is_floating_point())
    if not_float:
        raise InvalidWeightsError(
            f"{source}: tensors that are not floating point: {_listing(not_float)}"
        )
    need, have = 4 * sum(math.prod(s) for s in shapes.values()), _storage_bytes(state_dict)
    if need > 2 * have + (1 << 20):
        raise InvalidWeightsError(
            f"{source}: the network needs {need} bytes but the file holds "
            f"only {have} bytes of tensors (shared or repeated storages)"
        )
    net = StyleGAN2Generator(**kwargs)
    net.load_state_dict({k: v.to(torch.float32) for k, v in state_dict.items()}, strict=True)
    modules = dict(net.named_modules())
    for path, attrs in (layer_attrs or {}).items():
        module = modules.get(path)
        if module is not None and hasattr(module, "conv_clamp") and "conv_clamp" in attrs:
            value = attrs["conv_clamp"]
            value = value.item() if isinstance(value, np.generic) else value
            try:
                module.conv_clamp = CONV_CLAMP(value, f"{path}.conv_clamp")
            except ValueError as exc:
                raise InvalidWeightsError(f"{source}: {exc}") from None
    return net.eval().requires_grad_(False)


def generator_from_pickle(path: str | Path, key: str = "G_ema") -> StyleGAN2Generator:
    """Our StyleGAN2Generator from an NVIDIA pickle's `key` network (default G_ema)."""
    data = read_nvidia_pickle(path)
    if isinstance(data, PersistentRecord):  # a pickled generator on its own
        record = data
    elif isinstance(data, dict):
        if key not in data:
            keys = sorted(short_repr(k) for k in list(data)[:20])
            raise InvalidWeightsError(f"{path}: no {key!r} in the pickle; keys: {keys}")
        record = data[key]
    elif isinstance(data, int) and data == torch.serialization.MAGIC_NUMBER:
        raise InvalidWeightsError(
            f"{path} is a legacy torch.save file, not an NVIDIA pickle "
            "(a state dict needs torch.save's zip format and init kwargs)"
        )
    else:
        raise InvalidWeightsError(
            f"{path}: pickle holds a {type(data).__name__}, not an NVIDIA snapshot dict"
        )
    if not isinstance(record, PersistentRecord) or record.class_name != "Generator":
        what = record.class_name if isinstance(record, PersistentRecord) else type(record).__name__
        raise InvalidWeightsError(f"{path}: {key} is a {what}, not an NVIDIA Generator")
    init_args = record.state.get("_init_args")
    if init_args is not None and (not isinstance(init_args, (tuple, list)) or len(init_args)):
        raise InvalidWeightsError(f"{path}: {key} has positional init args; expected kwargs only")
    init_kwargs = record.state.get("_init_kwargs")
    source = f"{path} [{key}]"
    try:
        sd, attrs = record_state_dict(record), layer_attributes(record)
    except InvalidWeightsError as exc:
        raise InvalidWeightsError(f"{source}: {exc}") from None
    return build_generator({} if init_kwargs is None else init_kwargs, sd, source, attrs)


def generator_from_state_dict(
    path: str | Path, init_kwargs_json: str | Path | None = None
) -> StyleGAN2Generator:
    """Our StyleGAN2Generator from a torch.save state dict and a JSON of init kwargs."""
    path = existing_file(path)
    json_path = Path(init_kwargs_json) if init_kwargs_json else path.with_suffix(".json")
    if not json_path.is_file():
        raise FileNotFoundError(
            f"init kwargs JSON for {path} not found: {json_path} (pass init_kwargs_json=...)"
        )
    try:
        spec = json.loads(json_path.read_text())
    except RecursionError:
        raise InvalidWeightsError(
            f"{json_path}: not a JSON object of init kwargs: nested too deeply"
        ) from None
    except (OSError, ValueError) as exc:
        raise InvalidWeightsError(
            f"{json_path}: not a JSON object of init kwargs: {quote_error(exc)}"
        ) from None
    init_kwargs = spec.get("init_kwargs", spec) if isinstance(spec, dict) else None
    if not isinstance(init_kwargs, dict):
        raise InvalidWeightsError(f"{json_path}: expected a JSON object of init kwargs")
    _check_stored_zip(path)
    try:
        sd = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        raise UnsafePickleError(
            f"{path}: refused by torch.load(weights_only=True): {quote_error(exc)}"
        ) from None
    except Exception as exc:
        raise InvalidWeightsError(
            f"{path} is not a readable torch state dict: {quote_error(exc)}"
        ) from None
    if not isinstance(sd, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in sd.items()
    ):
        raise InvalidWeightsError(f"{path}: expected a dict of tensors (a state dict)")
    for name, t in sd.items():
        try:
            check_dense_view(
                t.untyped_storage().nbytes() // max(t.element_size(), 1),
                t.storage_offset(),
                tuple(t.shape),
                t.stride(),
            )
        except InvalidWeightsError as exc:
            raise InvalidWeightsError(f"{path}: {name}: {exc}") from None
    return build_generator(init_kwargs, sd, f"{path} [init kwargs {json_path}]")


def _check_stored_zip(path: Path) -> None:
    """torch.save's zip archive: stored (uncompressed) entries whose sizes fit in the file, so
    that torch.load cannot be made to inflate a small file (a zip bomb). The legacy
    (pre-zip) torch.save format is refused: its loader allocates declared sizes first."""
    if not is_zip_archive(path):
        raise InvalidWeightsError(
            f"{path} is not a torch.save zip archive (the legacy torch.save "
            "format is not accepted; re-save it with torch.save)"
        )
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InvalidWeightsError(
            f"{path} is not a readable zip archive: {quote_error(exc)}"
        ) from None
    compressed = [i.filename for i in infos if i.compress_type != zipfile.ZIP_STORED]
    if compressed:
        raise InvalidWeightsError(
            f"{path}: compressed zip entries {_listing(compressed)} "
            "(torch.save stores its entries uncompressed)"
        )
    total = sum(i.file_size for i in infos)
    if total > path.stat().st_size:
        raise InvalidWeightsError(
            f"{path}: zip entries declare {total} bytes, more than the file's {path.stat().st_size}"
        )


def is_zip_archive(path: str | Path) -> bool:
    """Whether the file starts with a zip header (torch.save), judged by its leading bytes."""
    with open(path, "rb") as f:
        return f.read(4) == ZIP_MAGIC


__all__ = [
    "build_generator",
    "generator_from_pickle",
    "generator_from_state_dict",
    "is_zip_archive",
    "ZIP_MAGIC",
]
