"""Face generators behind one interface (see `generators.base.Generator`).

Specs understood by `load_generator`:
    "mobilestylegan-ffhq[:R]"     realistic FFHQ faces (MobileStyleGAN, 1024 px, kept at R px)
    "dcgan-digiface"              the embedded default (real weights, 64x64)
    "stylegan2:/path/network.pkl" NVIDIA StyleGAN2-ADA pickle, loaded safely by our own code
    "folder:/path/or/file.zip"    images sampled from any other model
    "folder:celeba-999"           a built-in reference set (generators.builtin_sets)

`align="celeba"` / `"ffhq"` frames every face (extractors.face.framing): a folder aligns
each decoded file itself; any other generator is wrapped in `generators.aligned`.
"""

from __future__ import annotations

import os
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from counterfactual.foundation.registry import Entry, Registry

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
register_generator("mobilestylegan-ffhq", "generators.mobilestylegan:load_mobilestylegan_ffhq")
register_generator("stylegan2", "generators.stylegan2:load_stylegan2")
register_generator("folder", "generators.folder:load_folder")


def available() -> list[str]:
    """Registered generator schemes."""
    return GENERATORS.names()


def as_spec(value: str | os.PathLike[str]) -> str:
    """The generator spec of a command-line source: a path to an existing directory or .zip
    file means "folder:PATH"; anything else is taken as a spec."""
    text = os.fspath(value)
    path = Path(text).expanduser()
    if text.partition(":")[0] not in GENERATORS and (
        path.is_dir() or (path.is_file() and path.suffix.lower() == ".zip")
    ):
        return f"folder:{path}"
    return text


def folder_hint(spec: str) -> str:
    """For a spec that is no registered scheme but looks like a path, how to name a folder of
    images ("; ... 'folder:PATH'"), else ""."""
    head = spec.partition(":")[0]
    if head in GENERATORS or not (
        head.startswith(("/", ".", "~")) or "/" in head or os.sep in head
    ):
        return ""
    exists = Path(spec).expanduser().exists()
    return (
        f"; {'' if exists else 'no such file or directory, and '}a folder or .zip of images "
        f"is written 'folder:{spec}'"
    )


def lookup(spec: str) -> tuple[Entry, str | None]:
    """The registry entry and argument of `spec`; ValueError naming the allowed schemes (and,
    for a bare path, the 'folder:' form) when it is unknown."""
    try:
        return GENERATORS.lookup(spec)
    except ValueError as exc:
        raise ValueError(f"{exc}{folder_hint(spec) if isinstance(spec, str) else ''}") from None


def load_generator(
    spec: str = DEFAULT_GENERATOR, device: str = "cpu", *, align: str | None = None, **kwargs: Any
) -> Generator:
    """Build a generator from a spec such as "dcgan-digiface" or "stylegan2:/path/net.pkl";
    `align` frames its faces ("celeba", "ffhq"; default None: as generated or stored)."""
    entry, argument = lookup(spec)
    if align is not None and spec.partition(":")[0] == "folder":
        kwargs["align"] = align
    generator = entry.resolve()(argument or None, device=device, **kwargs)
    generator.spec = spec
    if align is not None and spec.partition(":")[0] != "folder":
        from generators.aligned import AlignedGenerator

        generator = AlignedGenerator(generator, align, device)
    return generator


__all__ = [
    "Generator",
    "load_generator",
    "register_generator",
    "available",
    "as_spec",
    "folder_hint",
    "lookup",
    "latents_from_seeds",
    "to_uint8",
    "DEFAULT_GENERATOR",
    "GENERATORS",
]


def __getattr__(name: str) -> Any:
    if name not in _BASE_EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module("generators.base"), name)
