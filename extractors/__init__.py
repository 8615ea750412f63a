"""Feature spaces behind one interface (see `extractors.base.FeatureExtractor`).

`available()` lists every registered space and whether trained weights were found;
`load_extractor(name)` builds one. "timm:<model>" names any timm model.
"""
from __future__ import annotations  # noqa: I001 (torchvision shim must come first)

import importlib
from dataclasses import dataclass
from typing import Any

from extractors.runtime import torchvision_compat as _torchvision_compat

_torchvision_compat.install()

from extractors.base import UNTRAINED_LABEL, FeatureExtractor


@dataclass(frozen=True)
class SpaceEntry:
    """A registered feature space: its loader and how to tell whether its weights exist."""
    name: str
    loader: str                     # "module:function"(device=..., weights=None, allow_untrained=False, **kw)
    weights_probe: str | None = None  # "module:function"() -> path or None; None = needs no weights
    description: str = ""
    random_weights: bool = False      # random by design (rFID-style): never has trained weights

    def _resolve(self, target: str) -> Any:
        module_name, func_name = target.split(":")
        return getattr(importlib.import_module(module_name), func_name)

    def weights_found(self) -> bool:
        if self.weights_probe is None:
            return True
        try:
            return self._resolve(self.weights_probe)() is not None
        except ImportError:
            return False


_REGISTRY: dict[str, SpaceEntry] = {}
_PREFIXES: dict[str, SpaceEntry] = {}   # "timm" -> entry taking the part after "timm:"


def register_extractor(name: str, loader: str, weights_probe: str | None = None,
                       description: str = "", prefix: bool = False,
                       random_weights: bool = False) -> None:
    """Register a feature space. With prefix=True, "name:<arg>" specs reach this loader;
    random_weights=True marks a space that is untrained by design."""
    if not name or ":" in name:
        raise ValueError(f"invalid feature space name {name!r}")
    for target in (loader, weights_probe):
        if target is not None and target.count(":") != 1:
            raise ValueError(f"expected 'module:function', got {target!r}")
    entry = SpaceEntry(name, loader, weights_probe, description, random_weights)
    (_PREFIXES if prefix else _REGISTRY)[name] = entry


def available() -> list[dict[str, Any]]:
    """Every registered space with whether trained weights were found locally."""
    rows = []
    for entry in sorted(_REGISTRY.values(), key=lambda e: e.name):
        rows.append({"name": entry.name, "trained_weights_found": entry.weights_found(),
                     "random_weights": entry.random_weights, "description": entry.description})
    for entry in _PREFIXES.values():
        rows.append({"name": f"{entry.name}:<model>", "trained_weights_found": None,
                     "random_weights": False, "description": entry.description})
    return rows


def load_extractor(name: str, device: str = "cpu", **kwargs: Any) -> FeatureExtractor:
    """Build the feature space `name` (kwargs: weights=PATH, allow_untrained=bool, ...)."""
    if name in _REGISTRY:
        entry, args = _REGISTRY[name], ()
    else:
        prefix, sep, arg = name.partition(":")
        if not sep or prefix not in _PREFIXES:
            known = ", ".join(sorted(_REGISTRY) + [f"{p}:<model>" for p in _PREFIXES])
            raise ValueError(f"unknown feature space {name!r}; known: {known}")
        entry, args = _PREFIXES[prefix], (arg,)
    return entry._resolve(entry.loader)(*args, device=device, **kwargs)


from extractors import spaces as _spaces  # noqa: E402,F401  (registers the built-in spaces)

__all__ = ["FeatureExtractor", "UNTRAINED_LABEL", "available", "load_extractor",
           "register_extractor", "SpaceEntry"]
