"""Walk the record tree of an unpickled NVIDIA network: module records, tensors, layer state.

`read_nvidia_pickle` turns each network module into a `PersistentRecord` whose state holds
`_modules` (child records), `_parameters`, `_buffers` and attributes such as `conv_clamp`.
The tree is walked iteratively: a record reached twice (shared or cyclic) is refused, and the
module count, depth and entries per module are bounded. `record_state_dict` collects the
parameters and persistent buffers under NVIDIA's dotted names (what `state_dict` would give);
`layer_attributes` the per-layer `conv_clamp` that NVIDIA's own unpickling restores.
"""

from __future__ import annotations

from typing import Any

import torch

from generators.stylegan2.kwargs import short_repr
from generators.stylegan2.unpickler import InvalidWeightsError, PersistentRecord

MAX_MODULES = 10_000  # module records in one network (NVIDIA's 1024px G: ~120)
MAX_MODULE_DEPTH = 16  # nesting of module records (NVIDIA's: 4)
MAX_ENTRIES = 10_000  # parameters / buffers / children of one module


def _entries(state: dict, key: str, where: str) -> dict[str, Any]:
    value = state.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_ENTRIES:
        raise InvalidWeightsError(
            f"{where or 'network'}.{key} is not a dict of at most {MAX_ENTRIES} entries"
        )
    bad = [k for k in value if not isinstance(k, str) or not k.isidentifier()]
    if bad:
        raise InvalidWeightsError(
            f"{where or 'network'}.{key} has names that are not identifiers: {short_repr(bad[:5])}"
        )
    return value


def module_records(record: PersistentRecord) -> dict[str, PersistentRecord]:
    """Every module record of a tree by dotted path ("" = the root), walked iteratively; a
    record reached twice (shared or cyclic) is refused, as are too many or too deep ones."""
    out: dict[str, PersistentRecord] = {}
    seen: set[int] = set()
    todo = [("", record, 0)]
    while todo:
        path, rec, depth = todo.pop()
        if id(rec) in seen:
            raise InvalidWeightsError(
                f"module {path} is a record already reached by another "
                "path (shared or cyclic module tree)"
            )
        if depth > MAX_MODULE_DEPTH or len(out) >= MAX_MODULES:
            raise InvalidWeightsError(
                f"module tree deeper than {MAX_MODULE_DEPTH} or larger "
                f"than {MAX_MODULES} modules (at {path})"
            )
        seen.add(id(rec))
        out[path] = rec
        for name, child in _entries(rec.state, "_modules", path).items():
            if child is None:
                continue
            child_path = f"{path}.{name}" if path else name
            if not isinstance(child, PersistentRecord):
                raise InvalidWeightsError(
                    f"module {child_path} is a {type(child).__name__}, "
                    "not a persistent NVIDIA module"
                )
            todo.append((child_path, child, depth + 1))
    return out


def record_state_dict(record: PersistentRecord, prefix: str = "") -> dict[str, torch.Tensor]:
    """Parameters and persistent buffers of a record tree under dotted names (as state_dict)."""
    out: dict[str, torch.Tensor] = {}
    for path, rec in module_records(record).items():
        state = rec.state
        non_persistent = state.get("_non_persistent_buffers_set") or set()
        if not isinstance(non_persistent, (set, frozenset)):
            raise InvalidWeightsError(
                f"{path or 'network'}._non_persistent_buffers_set is a "
                f"{type(non_persistent).__name__}"
            )
        items = [
            *_entries(state, "_parameters", path).items(),
            *(
                (k, v)
                for k, v in _entries(state, "_buffers", path).items()
                if k not in non_persistent
            ),
        ]
        base = f"{prefix}{path}." if path else prefix
        for name, tensor in items:
            if tensor is None:
                continue
            if not isinstance(tensor, torch.Tensor):
                raise InvalidWeightsError(
                    f"{base}{name} is a {type(tensor).__name__}, not a tensor"
                )
            out[base + name] = tensor.detach()
    return out


def layer_attributes(record: PersistentRecord) -> dict[str, dict[str, Any]]:
    """Per-module attributes NVIDIA's unpickling restores from the state and the init kwargs
    do not always determine: {dotted path: {"conv_clamp": value}}."""
    return {
        path: {"conv_clamp": rec.state["conv_clamp"]}
        for path, rec in module_records(record).items()
        if "conv_clamp" in rec.state
    }


__all__ = ["module_records", "record_state_dict", "layer_attributes"]
