"""Feature spaces behind one interface (see `extractors.base.FeatureExtractor`).

`available()` lists every registered space and whether trained weights were found;
`load_extractor(name)` builds one. "timm:<model>" names any timm model. A variant suffix
applies to every space: "<space>+l2" is the space's features L2-normalised
(`extractors.variants`; variants are registered once, in `VARIANTS`).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from counterfactual.foundation.registry import Entry, resolve
from extractors.registry import (
    EXTRACTORS,
    VARIANT_SEPARATOR,
    VARIANTS,
    register_extractor,
    register_variant,
)

if TYPE_CHECKING:
    from extractors.base import FeatureExtractor

# extractors.base imports torch (and installs the torchvision shim): its names load on first
# use (PEP 562), so that listing the registered spaces (config validation) stays light.
_BASE_EXPORTS = ("FeatureExtractor", "UNTRAINED_LABEL")


def split_variant(name: str) -> tuple[str, Entry | None]:
    """(base space name, variant entry or None) of a space name; ValueError on an unknown
    suffix ("arcface+l2" -> ("arcface", the l2 entry))."""
    base, sep, suffix = name.rpartition(VARIANT_SEPARATOR)
    if not sep:
        return name, None
    if suffix not in VARIANTS or not base:
        raise ValueError(
            f"unknown feature-space variant {name!r}: '<space>+<variant>' with variant "
            f"one of {', '.join(VARIANTS.names())}"
        )
    return base, VARIANTS.lookup(suffix)[0]


def space_known(name: str) -> bool:
    """Whether `name` names a registered space ("timm:<model>", "<space>+l2" included)."""
    try:
        EXTRACTORS.lookup(split_variant(name)[0])
    except ValueError:
        return False
    return True


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
    return [
        *(e for e in entries if e.argument == "none"),
        *(e for e in entries if e.argument != "none"),
    ]


def space_names() -> list[str]:
    """Every registered space's name ("timm:<model>" for prefixes), without probing weights
    or importing any network code."""
    return [e.display for e in _listed()]


def available() -> list[dict[str, Any]]:
    """Every registered space with whether trained weights were found locally."""
    rows = [
        {
            "name": e.display,
            "trained_weights_found": weights_found(e),
            "random_weights": e.info["random_weights"],
            "description": e.info["description"],
        }
        for e in _listed()
    ]
    rows += [
        {
            "name": f"<space>{VARIANT_SEPARATOR}{v.name}",
            "trained_weights_found": None,
            "random_weights": False,
            "variant": True,
            "description": v.info["description"],
        }
        for v in VARIANTS
    ]
    return rows


def load_extractor(name: str, device: str = "cpu", **kwargs: Any) -> FeatureExtractor:
    """Build the feature space `name` (kwargs: weights=PATH, allow_untrained=bool, ...);
    "<space>+<variant>" builds the base space with the kwargs and wraps it."""
    base, variant = split_variant(name)
    if variant is not None:
        return variant.resolve()(load_extractor(base, device=device, **kwargs))
    entry, arg = EXTRACTORS.lookup(name)
    args = () if arg is None else (arg,)
    return entry.resolve()(*args, device=device, **kwargs)


from extractors import spaces as _spaces  # noqa: E402,F401  (registers the built-in spaces)

__all__ = [
    "EXTRACTORS",
    "FeatureExtractor",
    "UNTRAINED_LABEL",
    "VARIANTS",
    "available",
    "space_names",
    "load_extractor",
    "register_extractor",
    "register_variant",
    "space_known",
    "split_variant",
]


def __getattr__(name: str) -> Any:
    if name not in _BASE_EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module("extractors.base"), name)
