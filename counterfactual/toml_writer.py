"""Write a config (nested dicts, lists and scalars) as TOML that `tomllib` reads back equal.

    to_toml({"name": "demo", "seeds": {"start": 0, "count": 240}})
    # name = "demo"\n\n[seeds]\nstart = 0\ncount = 240\n

Tables become [sections], lists of tables [[arrays]] (their sub-tables inline); None values are left out (TOML has no
null, and the config's defaults fill them back in).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k: str) -> str:
    return k if _BARE_KEY.match(k) else json.dumps(k)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v if x is not None) + "]"
    if isinstance(v, Mapping):
        items = [f"{_key(str(k))} = {_value(x)}" for k, x in v.items() if x is not None]
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _is_table_list(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and bool(v) and all(isinstance(x, Mapping) for x in v)


def _section(
    data: Mapping[str, Any], path: list[str], out: list[str], inline: bool = False
) -> None:
    """Write `data` under `path`; with `inline` (inside an array of tables) nested mappings are
    written as inline tables, which keeps each [[item]] in one block."""
    scalars = [
        (k, v)
        for k, v in data.items()
        if v is not None and not _is_table_list(v) and (inline or not isinstance(v, Mapping))
    ]
    for k, v in scalars:
        out.append(f"{_key(str(k))} = {_value(v)}")
    for k, v in data.items():
        name = [*path, _key(str(k))]
        if isinstance(v, Mapping) and not inline:
            out.append("")
            out.append(f"[{'.'.join(name)}]")
            _section(v, name, out)
        elif _is_table_list(v):
            for item in v:
                out.append("")
                out.append(f"[[{'.'.join(name)}]]")
                _section(item, name, out, inline=True)


def to_toml(data: Mapping[str, Any]) -> str:
    """`data` as a TOML document."""
    out: list[str] = []
    _section(data, [], out)
    return "\n".join(out).lstrip("\n") + "\n"
