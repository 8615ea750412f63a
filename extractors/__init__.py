"""Feature spaces behind one interface (see `extractors.base.FeatureExtractor`).

`available()` lists every registered space and whether trained weights were found;
`load_extractor(name)` builds one. "timm:<model>" names any timm model.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from counterfactual.foundation.registry import Entry, Registry, resolve

if TYPE_CHECKING:
    from extractors.base import FeatureExtractor

# extractors.base imports torch (and installs the torchvision shim): its names load on first
# use (PEP 562), so that listing the registered spaces (config validation) stays light.
_BASE_EXPORTS = ("FeatureExtractor", "UNTRAINED_LABEL")

# name -> loader(device=..., weights=None, allow_untrained=False, **kw); prefix entries
# ("timm:<model>") get the part after ":" as their first argument. Each entry's info holds
# weights_probe_target ("module:attr"() -> path or None; None: needs no weights), description
# and random_weights (untrained by design).
EXTRACTORS = Registry("feature space")


def register_extractor(name: str, loader: str, weights_probe: str | None = None,
                       description: str = "", prefix: bool = False,
                       random_weights: bool = False) -> None:
    """Register a feature space. With prefix=True, "name:<arg>" specs reach this loader;
    random_weights=True marks a space that is untrained by design."""
    EXTRACTORS.register(name, loader, argument="required" if prefix else "none", arg_help="model",
                        weights_probe_target=weights_probe, description=description,
                        random_weights=random_weights)


def weights_found(entry: Entry) -> bool | None:
    """Whether a space's trained weights are on this machine (None: depends on the argument)."""
    if entry.argument != "none":
        return None
    probe = entry.info["weights_probe_target"]
    if probe is None:
        return True
    try:
        return resolve(probe)() is not None
    except ImportError:
        return False


def _listed() -> list[Entry]:
    """Registered spaces in listing order: plain names first, then "prefix:<model>" ones."""
    entries = list(EXTRACTORS)
    return [*(e for e in entries if e.argument == "none"),
            *(e for e in entries if e.argument != "none")]


def space_names() -> list[str]:
    """Every registered space's name ("timm:<model>" for prefixes), without probing weights
    or importing any network code."""
    return [e.display for e in _listed()]


def available() -> list[dict[str, Any]]:
    """Every registered space with whether trained weights were found locally."""
    return [{"name": e.display, "trained_weights_found": weights_found(e),
             "random_weights": e.info["random_weights"], "description": e.info["description"]}
            for e in _listed()]


def load_extractor(name: str, device: str = "cpu", **kwargs: Any) -> FeatureExtractor:
    """Build the feature space `name` (kwargs: weights=PATH, allow_untrained=bool, ...)."""
    entry, arg = EXTRACTORS.lookup(name)
    args = () if arg is None else (arg,)
    return entry.resolve()(*args, device=device, **kwargs)


from extractors import spaces as _spaces  # noqa: E402,F401  (registers the built-in spaces)

__all__ = ["EXTRACTORS", "FeatureExtractor", "UNTRAINED_LABEL", "available", "space_names",
           "load_extractor", "register_extractor"]


def __getattr__(name: str) -> Any:
    if name not in _BASE_EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module("extractors.base"), name)
