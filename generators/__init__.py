"""Face generators behind one interface (see `generators.base.Generator`).

Specs understood by `load_generator`:
    "dcgan-digiface"              the embedded default (real weights, 64x64)
    "stylegan2:/path/network.pkl" NVIDIA StyleGAN2-ADA pickle, loaded safely by our own code
    "folder:/path/or/file.zip"    images sampled from any other model
    "folder:celeba-999"           a built-in reference set (generators.builtin_sets)

`align="celeba"` / `"ffhq"` frames every face (extractors.face.framing): a folder aligns
each decoded file itself; any other generator is wrapped in `generators.aligned`.
"""
from __future__ import annotations

from typing import Any

from counterfactual.foundation.registry import Registry
from generators.base import Generator, latents_from_seeds, to_uint8

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


def load_generator(spec: str = DEFAULT_GENERATOR, device: str = "cpu", *,
                   align: str | None = None, **kwargs: Any) -> Generator:
    """Build a generator from a spec such as "dcgan-digiface" or "stylegan2:/path/net.pkl";
    `align` frames its faces ("celeba", "ffhq"; default None: as generated or stored)."""
    entry, argument = GENERATORS.lookup(spec)
    if align is not None and spec.partition(":")[0] == "folder":
        kwargs["align"] = align
    generator = entry.resolve()(argument or None, device=device, **kwargs)
    generator.spec = spec
    if align is not None and spec.partition(":")[0] != "folder":
        from generators.aligned import AlignedGenerator
        generator = AlignedGenerator(generator, align, device)
    return generator


__all__ = ["Generator", "load_generator", "register_generator", "available",
           "latents_from_seeds", "to_uint8", "DEFAULT_GENERATOR", "GENERATORS"]
