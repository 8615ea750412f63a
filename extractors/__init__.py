"""Feature spaces behind one interface (see `extractors.base.FeatureExtractor`).

`available()` lists every registered space and whether trained weights were found;
`load_extractor(name)` builds one. "timm:<model>" names any timm model.
"""
from __future__ import annotations  # noqa: I001 (torchvision shim must come first)

from typing import Any

from extractors.runtime import torchvision_compat as _torchvision_compat

_torchvision_compat.install()

from extractors.base import UNTRAINED_LABEL, FeatureExtractor
from counterfactual.foundation.registry import Entry, Registry, resolve

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


def available() -> list[dict[str, Any]]:
    """Every registered space with whether trained weights were found locally."""
    entries = list(EXTRACTORS)
    return [{"name": e.display, "trained_weights_found": weights_found(e),
             "random_weights": e.info["random_weights"], "description": e.info["description"]}
            for e in [*(e for e in entries if e.argument == "none"),
                      *(e for e in entries if e.argument != "none")]]


def load_extractor(name: str, device: str = "cpu", **kwargs: Any) -> FeatureExtractor:
    """Build the feature space `name` (kwargs: weights=PATH, allow_untrained=bool, ...)."""
    entry, arg = EXTRACTORS.lookup(name)
    args = () if arg is None else (arg,)
    return entry.resolve()(*args, device=device, **kwargs)


from extractors import spaces as _spaces  # noqa: E402,F401  (registers the built-in spaces)

__all__ = ["EXTRACTORS", "FeatureExtractor", "UNTRAINED_LABEL", "available", "load_extractor",
           "register_extractor"]
