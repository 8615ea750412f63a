"""The executor choice: which class runs a run (local or Ray), and the command line's execution
options applied to a config. Each run kind (sweep, rank) declares its own table of executors,
`{"local": "module:Class", "ray": "module:Class"}`, so this module names none of them."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any


def executor_class(executors: Mapping[str, str], kind: str) -> type:
    """The executor class of `kind` ("local", "ray") in a run kind's table of executors."""
    module_name, _, name = executors[kind].partition(":")
    return getattr(importlib.import_module(module_name), name)


def execution_overrides(
    config: Any, device: str | None, batch_size: int | None, executor: str | None
) -> Any:
    """The config with the command line's execution options (which never change results)."""
    table = config.executor.model_copy(update={"kind": executor}) if executor else None
    return config.with_overrides(device=device, batch_size=batch_size, executor=table)
