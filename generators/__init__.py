"""Face generators behind one interface (see `generators.base.Generator`).

Specs understood by `load_generator`:
    "dcgan-digiface"              the embedded default (real weights, 64x64)
    "stylegan2:/path/network.pkl" NVIDIA StyleGAN2-ADA pickle, loaded safely by our own code
    "folder:/path/or/file.zip"    images sampled from any other model
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from counterfactual.foundation.registry import Registry

if TYPE_CHECKING:
    from generators.base import Generator

# generators.base imports torch: its names load on first use (PEP 562), so that listing the
# schemes (config validation) stays light.
_BASE_EXPORTS = ("Generator", "latents_from_seeds", "to_uint8")

DEFAULT_GENERATOR = "dcgan-digiface"

# scheme -> loader(argument or None, device=..., **kwargs), imported on first use.
GENERATORS = Registry("generator")


def register_generator(scheme: str, loader: str) -> None:
    """Register a loader ("module:function") for specs "scheme" or "scheme:argument"."""
    GENERATORS.register(scheme, loader, argument="optional", arg_help="argument")


register_generator("dcgan-digiface", "generators.dcgan:load_dcgan_digiface")
register_generator("stylegan2", "generators.stylegan2_pickle:load_stylegan2")
register_generator("folder", "generators.folder:load_folder")


def available() -> list[str]:
    """Registered generator schemes."""
    return GENERATORS.names()


def load_generator(spec: str = DEFAULT_GENERATOR, device: str = "cpu", **kwargs: Any) -> Generator:
    """Build a generator from a spec such as "dcgan-digiface" or "stylegan2:/path/net.pkl"."""
    entry, argument = GENERATORS.lookup(spec)
    generator = entry.resolve()(argument or None, device=device, **kwargs)
    generator.spec = spec
    return generator


__all__ = ["Generator", "load_generator", "register_generator", "available",
           "latents_from_seeds", "to_uint8", "DEFAULT_GENERATOR", "GENERATORS"]


def __getattr__(name: str) -> Any:
    if name not in _BASE_EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module("generators.base"), name)
