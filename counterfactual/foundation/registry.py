"""The registry helper every plug-in point uses (generators, feature spaces, interventions,
scorers): named entries whose target is an object or a lazy ``"module:attr"`` string
(``attr`` may be dotted, e.g. ``"pkg.mod:SPEC.load"``), imported on first use.

A name is validated once, at registration. An entry either takes no argument (``"arcface"``),
requires one (``"timm:<model>"``, ``"blur:<region>"``) or accepts one optionally
(``"stylegan2"`` or ``"stylegan2:<path>"``); `Registry.lookup` splits a spec at the first
``":"`` and gives one clear `ValueError` naming what is allowed.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

ARGUMENT_MODES = ("none", "required", "optional")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_TARGET_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def resolve(target: str | Any) -> Any:
    """The object a ``"module:attr"`` string names (other targets are returned as they are)."""
    if not isinstance(target, str):
        return target
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def check_target(target: str | Any, what: str) -> None:
    """A target is a callable or a ``"module:attr"`` string."""
    if isinstance(target, str):
        if not _TARGET_RE.match(target):
            raise ValueError(f"{what}: expected 'module:attr', got {target!r}")
    elif not callable(target):
        raise TypeError(
            f"{what}: expected a callable or 'module:attr', got {type(target).__name__}"
        )


@dataclass(frozen=True)
class Entry:
    """One registered name: its target, whether it takes an argument, and free-form info."""

    name: str
    target: str | Callable[..., Any]
    argument: str = "none"
    arg_help: str = "arg"
    info: dict[str, Any] = field(default_factory=dict)

    def resolve(self) -> Any:
        return resolve(self.target)

    @property
    def display(self) -> str:
        """ "name", "name:<arg>" or "name[:<arg>]"."""
        return {
            "none": self.name,
            "required": f"{self.name}:<{self.arg_help}>",
            "optional": f"{self.name}[:<{self.arg_help}>]",
        }[self.argument]


class Registry:
    """Entries of one kind ("generator", "feature space", ...) by name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(
        self,
        name: str,
        target: str | Callable[..., Any],
        *,
        argument: str = "none",
        arg_help: str = "arg",
        **info: Any,
    ) -> Entry:
        """Add (or replace) `name`; info holds whatever the front-end needs (description ...)."""
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ValueError(
                f"invalid {self.kind} name {name!r}: letters, digits, '_', '.', '-' only, no ':'"
            )
        if argument not in ARGUMENT_MODES:
            raise ValueError(f"argument must be one of {ARGUMENT_MODES}, got {argument!r}")
        check_target(target, f"{self.kind} {name!r}")
        for key, value in info.items():
            if key.endswith("_target") and value is not None:
                check_target(value, f"{self.kind} {name!r} {key}")
        entry = Entry(name, target, argument, arg_help, dict(info))
        self._entries[name] = entry
        return entry

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def names(self) -> list[str]:
        return sorted(self._entries)

    def allowed(self) -> str:
        return ", ".join(e.display for e in self)

    def lookup(self, spec: str) -> tuple[Entry, str | None]:
        """(entry, argument or None) of a spec "name" or "name:argument"."""
        if not isinstance(spec, str) or not spec:
            raise ValueError(f"{self.kind} name must be a non-empty string, got {spec!r}")
        head, sep, arg = spec.partition(":")
        entry = self._entries.get(head)
        if entry is None:
            raise ValueError(f"unknown {self.kind} {spec!r}; allowed: {self.allowed()}")
        if sep and entry.argument == "none":
            raise ValueError(
                f"unknown {self.kind} {spec!r} ({head!r} takes no ':' argument); "
                f"allowed: {self.allowed()}"
            )
        if not arg and entry.argument == "required":
            raise ValueError(
                f"{self.kind} {spec!r} needs an argument: '{entry.display}'; "
                f"allowed: {self.allowed()}"
            )
        return entry, (arg if sep else None)


__all__ = ["ARGUMENT_MODES", "Entry", "Registry", "check_target", "resolve"]
