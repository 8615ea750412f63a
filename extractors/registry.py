"""The registries of feature spaces and their variants, and how to register one (the built-in
ones are registered in `extractors.spaces`; `extractors` resolves and builds them)."""

from __future__ import annotations

from counterfactual.foundation.registry import Registry

# name -> loader(device=..., weights=None, allow_untrained=False, **kw); prefix entries
# ("timm:<model>") get the part after ":" as their first argument. Each entry's info holds
# weights_probe_target ("module:attr"() -> path or None; None: needs no weights), description
# and random_weights (untrained by design).
EXTRACTORS = Registry("feature space")


def register_extractor(
    name: str,
    loader: str,
    weights_probe: str | None = None,
    description: str = "",
    prefix: bool = False,
    random_weights: bool = False,
) -> None:
    """Register a feature space. With prefix=True, "name:<arg>" specs reach this loader;
    random_weights=True marks a space that is untrained by design."""
    EXTRACTORS.register(
        name,
        loader,
        argument="required" if prefix else "none",
        arg_help="model",
        weights_probe_target=weights_probe,
        description=description,
        random_weights=random_weights,
    )


# suffix -> wrapper class (a `extractors.variants.VariantExtractor`) taking the base extractor;
# info holds the description. "<space>+<suffix>" names the variant of any space.
VARIANTS = Registry("feature-space variant")
VARIANT_SEPARATOR = "+"


def register_variant(suffix: str, wrapper: str, description: str) -> None:
    """Register a variant once for every space: "<space>+<suffix>" wraps the base extractor."""
    VARIANTS.register(suffix, wrapper, description=description)
