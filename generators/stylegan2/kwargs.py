"""Validate the init kwargs of an NVIDIA StyleGAN2 generator before anything is built from them.

Init kwargs come from untrusted files (a pickle's `_init_kwargs`, or a JSON beside a state
dict), so they are checked first: `plain_kwargs` turns them into plain JSON-like values under a
node, depth and string budget (shared references, cycles and deep nesting are refused, never
expanded), and `validate_init_kwargs` accepts only the keys NVIDIA's `Generator` takes, with
types and ranges (dimensions, powers of two, at least one channel per block), and returns them
in one nested form with the defaults of the repository they follow:

- stylegan2-ada-pytorch (`training.networks.Generator`): synthesis kwargs nested under
  `synthesis_kwargs`; its SynthesisBlock default is `conv_clamp=None`, `num_fp16_res=0`.
- stylegan3 (`training.networks_stylegan2.Generator`): synthesis kwargs flat; its defaults are
  `conv_clamp=256`, `num_fp16_res=4` and mapping `w_avg_beta=0.998`. Its `train.py
  --cfg=stylegan2` writes `conv_clamp` only under `--fp32` (as None), so a missing key means
  256, the clamp NVIDIA's layers then apply.

Errors are `ValueError`s naming the key and the reason; the loader adds the file name.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from generators.stylegan2.network import ARCHITECTURES, STYLEGAN3_KWARGS
from generators.stylegan2.ops import ACTIVATIONS

MAX_DIM = 16384  # z_dim, w_dim, c_dim, feature counts (NVIDIA's largest: 1024)
MAX_RESOLUTION = 8192  # img_resolution (NVIDIA's largest: 1024)
MAX_NODES = 2000  # values in a kwargs tree
MAX_DEPTH = 8  # nesting of a kwargs tree
MAX_STR = 1000  # characters of one string value

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 60
_short.maxlevel = 2


def short_repr(obj: Any) -> str:
    """A bounded repr (never expands shared or deep structures)."""
    try:
        return _short.repr(obj)
    except Exception:  # a hostile object whose repr fails
        return f"<{type(obj).__name__}>"


def plain_kwargs(obj: Any, what: str = "init kwargs") -> Any:
    """EasyDicts/tuples/numpy scalars -> plain dicts/lists/Python scalars, within budgets."""
    count = [0]

    def walk(x: Any, depth: int, path: str, ancestors: frozenset[int]) -> Any:
        count[0] += 1
        if count[0] > MAX_NODES:
            raise ValueError(
                f"{what} have more than {MAX_NODES} values (shared references are not expanded)"
            )
        if depth > MAX_DEPTH:
            raise ValueError(f"{what} are nested deeper than {MAX_DEPTH} levels at {path}")
        if x is None or isinstance(x, (bool, int, float)):
            return x
        if isinstance(x, str):
            if len(x) > MAX_STR:
                raise ValueError(f"{what}: {path} is a string of {len(x)} characters")
            return x
        if isinstance(x, np.generic) and x.dtype.kind in "biuf":
            return x.item()
        if isinstance(x, (Mapping, list, tuple)):
            if id(x) in ancestors:
                raise ValueError(f"{what} contain a cycle at {path}")
            inner = ancestors | {id(x)}
            if isinstance(x, Mapping):
                out = {}
                for k, v in x.items():
                    if not isinstance(k, str):
                        raise ValueError(f"{what}: key {short_repr(k)} at {path} is not a string")
                    out[k] = walk(v, depth + 1, f"{path}.{k}", inner)
                return out
            return [walk(v, depth + 1, f"{path}[{i}]", inner) for i, v in enumerate(x)]
        raise ValueError(f"{what}: {path} is a {type(x).__name__}, not a plain value")

    return walk(obj, 0, "kwargs", frozenset())


# ----- value checks: (value, name) -> value, or ValueError -------------------------------
Check = Callable[[Any, str], Any]


def _int(lo: int, hi: int, power_of_two: bool = False, odd: bool = False) -> Check:
    def check(v: Any, name: str) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"{name} must be an integer, got {short_repr(v)}")
        if not lo <= v <= hi:
            raise ValueError(f"{name} = {short_repr(v)} is outside [{lo}, {hi}]")
        if power_of_two and v & (v - 1):
            raise ValueError(f"{name} = {v} is not a power of two")
        if odd and v % 2 == 0:
            raise ValueError(f"{name} = {v} is not odd")
        return v

    return check


def _real(lo: float, hi: float, lo_open: bool = False) -> Check:
    def check(v: Any, name: str) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"{name} must be a number, got {short_repr(v)}")
        if not math.isfinite(v) or v > hi or v < lo or (lo_open and v == lo):
            raise ValueError(
                f"{name} = {short_repr(v)} is outside {'(' if lo_open else '['}{lo}, {hi}]"
            )
        return v

    return check


def _optional(check: Check) -> Check:
    return lambda v, name: None if v is None else check(v, name)


def _choice(*values: Any) -> Check:
    def check(v: Any, name: str) -> Any:
        if isinstance(v, bool) or not any(v == c and type(v) is type(c) for c in values):
            raise ValueError(f"{name} must be one of {list(values)}, got {short_repr(v)}")
        return v

    return check


def _filter(v: Any, name: str) -> list:
    try:
        taps = np.asarray(v, dtype=object)
    except ValueError:
        raise ValueError(f"{name} is a ragged list: {short_repr(v)}") from None
    if (
        not isinstance(v, list)
        or taps.ndim not in (1, 2)
        or not 1 <= taps.shape[0] <= 16
        or taps.size > 256
    ):
        raise ValueError(
            f"{name} must be a 1-D or 2-D list of at most 16 taps, got {short_repr(v)}"
        )
    vals = [_real(-1e6, 1e6)(t, name) for t in taps.ravel()]
    if abs(sum(vals)) < 1e-12:
        raise ValueError(f"{name} taps sum to zero")
    return v


CONV_CLAMP: Check = _optional(_real(0, 1e30, lo_open=True))
_BOOL = _choice(True, False)

GENERATOR_KEYS: dict[str, Check] = {
    "z_dim": _int(0, MAX_DIM),
    "c_dim": _int(0, MAX_DIM),
    "w_dim": _int(1, MAX_DIM),
    "img_resolution": _int(4, MAX_RESOLUTION, power_of_two=True),
    "img_channels": _int(1, 16),
}
MAPPING_KEYS: dict[str, Check] = {
    "num_layers": _int(1, 64),
    "embed_features": _optional(_int(1, MAX_DIM)),
    "layer_features": _optional(_int(1, MAX_DIM)),
    "activation": _choice(*ACTIVATIONS),
    "lr_multiplier": _real(0, 1e6, lo_open=True),
    "w_avg_beta": _optional(_real(0, 1)),
}
SYNTHESIS_KEYS: dict[str, Check] = {
    "channel_base": _int(1, 1 << 24),
    "channel_max": _int(1, MAX_DIM),
    "num_fp16_res": _int(0, 64),
    "architecture": _choice(*ARCHITECTURES),
    "resample_filter": _filter,
    "conv_clamp": CONV_CLAMP,
    "fp16_channels_last": _BOOL,
    "fused_modconv_default": _choice(True, False, "inference_only"),
    "kernel_size": _int(1, 15, odd=True),
    "use_noise": _BOOL,
    "activation": _choice(*ACTIVATIONS),
}
#: Defaults of stylegan3's training/networks_stylegan2.py where they differ from ours.
STYLEGAN3_DEFAULTS = {
    "synthesis": {"conv_clamp": 256, "num_fp16_res": 4},
    "mapping": {"w_avg_beta": 0.998},
}


def _checked(values: Any, schema: Mapping[str, Check], where: str) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise ValueError(f"{where} must be a dict, got {short_repr(values)}")
    unknown = sorted(set(values) - set(schema))
    if unknown:
        raise ValueError(
            f"unknown {where} {[k[:60] for k in unknown[:10]]}; known: {sorted(schema)}"
        )
    return {
        k: schema[k](v, f"{where}.{k}" if where != "init kwargs" else k) for k, v in values.items()
    }


def validate_init_kwargs(raw: Any) -> dict[str, Any]:
    """Checked init kwargs in nested form, with the defaults of the repository they follow."""
    kwargs = plain_kwargs(raw)
    if not isinstance(kwargs, dict):
        raise ValueError(f"init kwargs must be a dict, got {short_repr(kwargs)}")
    sg3 = sorted(STYLEGAN3_KWARGS & set(kwargs))
    if sg3:
        raise ValueError(
            f"init kwargs {sg3} belong to a StyleGAN3 generator, which is not "
            "supported (only StyleGAN2 / StyleGAN2-ADA)"
        )
    missing = sorted(set(GENERATOR_KEYS) - set(kwargs))
    if missing:
        raise ValueError(f"init kwargs lack {missing}")
    top = {k: v for k, v in kwargs.items() if k in GENERATOR_KEYS}
    rest = {
        k: v
        for k, v in kwargs.items()
        if k not in GENERATOR_KEYS and k not in ("mapping_kwargs", "synthesis_kwargs")
    }
    nested = "synthesis_kwargs" in kwargs  # stylegan2-ada-pytorch's convention
    out = _checked(top, GENERATOR_KEYS, "init kwargs")
    mapping = _checked(kwargs.get("mapping_kwargs") or {}, MAPPING_KEYS, "mapping_kwargs")
    if nested and rest:
        raise ValueError(f"unknown init kwargs {sorted(rest)[:10]} beside synthesis_kwargs")
    synthesis = _checked(
        kwargs["synthesis_kwargs"] if nested else rest,
        SYNTHESIS_KEYS,
        "synthesis_kwargs" if nested else "init kwargs",
    )
    if not nested:  # stylegan3's networks_stylegan2 defaults
        synthesis = {**STYLEGAN3_DEFAULTS["synthesis"], **synthesis}
        mapping = {**STYLEGAN3_DEFAULTS["mapping"], **mapping}
    if out["z_dim"] + out["c_dim"] == 0:
        raise ValueError("z_dim and c_dim are both 0: the mapping has no input")
    base = synthesis.get("channel_base", 32768)
    if base // out["img_resolution"] < 1:
        raise ValueError(
            f"channel_base={base} gives 0 channels at img_resolution="
            f"{out['img_resolution']} (channel_base // resolution)"
        )
    return {**out, "mapping_kwargs": mapping, "synthesis_kwargs": synthesis}


__all__ = [
    "validate_init_kwargs",
    "plain_kwargs",
    "short_repr",
    "CONV_CLAMP",
    "STYLEGAN3_DEFAULTS",
    "MAX_DIM",
    "MAX_RESOLUTION",
]
