"""Face generators behind one interface (see `generators.base.Generator`).

Specs understood by `load_generator`:
    "dcgan-digiface"              the embedded default (real weights, 64x64)
    "stylegan2:/path/network.pkl" NVIDIA StyleGAN2-ADA pickle, loaded safely by our own code
    "folder:/path/or/file.zip"    images sampled from any other model
"""
from __future__ import annotations

import importlib
from typing import Any

from generators.base import Generator, latents_from_seeds, to_uint8

DEFAULT_GENERATOR = "dcgan-digiface"

# scheme -> "module:function"; the function takes (argument, device=..., **kwargs).
_REGISTRY: dict[str, str] = {}


def register_generator(scheme: str, loader: str) -> None:
    """Register a loader ("module:function") for specs "scheme" or "scheme:argument"."""
    if not scheme or ":" in scheme:
        raise ValueError(f"invalid generator scheme {scheme!r}")
    if ":" not in loader:
        raise ValueError(f"loader must be 'module:function', got {loader!r}")
    _REGISTRY[scheme] = loader


register_generator("dcgan-digiface", "generators.dcgan:load_dcgan_digiface")
register_generator("stylegan2", "generators.stylegan2_pickle:load_stylegan2")
register_generator("folder", "generators.folder:load_folder")


def available() -> list[str]:
    """Registered generator schemes."""
    return sorted(_REGISTRY)


def load_generator(spec: str = DEFAULT_GENERATOR, device: str = "cpu", **kwargs: Any) -> Generator:
    """Build a generator from a spec such as "dcgan-digiface" or "stylegan2:/path/net.pkl"."""
    scheme, _, argument = spec.partition(":")
    if scheme not in _REGISTRY:
        raise ValueError(f"unknown generator {spec!r}; known schemes: {', '.join(available())}")
    module_name, func_name = _REGISTRY[scheme].split(":")
    loader = getattr(importlib.import_module(module_name), func_name)
    generator = loader(argument or None, device=device, **kwargs)
    generator.spec = spec
    return generator


__all__ = ["Generator", "load_generator", "register_generator", "available",
           "latents_from_seeds", "to_uint8", "DEFAULT_GENERATOR"]
