"""Toy rank stand-ins: sample folders with a known order and two one-channel feature spaces.

A reference folder of noise images and four generator folders whose red channel is brightened
by 0, 30, 60, 90 and whose blue channel by 90, 60, 30, 0; "toy-red" sees only red, "toy-blue"
only blue (and has no trained weights).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from extractors.base import FeatureExtractor

RES, N_REF, N_GEN = 12, 40, 30
SHIFTS = {"g0": (0, 90), "g30": (30, 60), "g60": (60, 30), "g90": (90, 0)}  # (red, blue)


# ---- stand-in feature spaces: a fixed random projection of one colour channel ----------
class ChannelExtractor(FeatureExtractor):
    default_batch_size = 7

    def __init__(self, name: str, channel: int, dim: int, trained: bool) -> None:
        self.name, self.dim, self.trained, self.channel = name, dim, trained, channel
        self.weights_sha256 = f"sha-{name}" if trained else None
        self.preprocessing = {"channel": channel, "scale": 1 / 255}
        rng = np.random.default_rng(100 + channel)
        # positive-mean weights: a channel's brightness shift moves every feature
        self._w = torch.from_numpy(rng.normal(1.0, 0.5, size=(RES * RES, dim)) / (RES * RES))

    def _extract(self, images: torch.Tensor) -> torch.Tensor:
        x = images[:, self.channel].reshape(len(images), -1).double() / 255
        return (x @ self._w).float()


def load_red(device: str = "cpu", allow_untrained: bool = False, **kw: Any) -> ChannelExtractor:
    return ChannelExtractor("toy-red", 0, 6, True)


def load_blue(device: str = "cpu", allow_untrained: bool = False, **kw: Any) -> ChannelExtractor:
    if not allow_untrained:
        raise RuntimeError("toy-blue has no trained weights; pass allow_untrained=True")
    return ChannelExtractor("toy-blue", 2, 5, False)


def register() -> None:
    """The two toy spaces in the extractor registry (through `helpers.registries.registered`)."""
    import extractors

    extractors.register_extractor("toy-red", f"{__name__}:load_red", description="test space")
    extractors.register_extractor("toy-blue", f"{__name__}:load_blue", description="test space")


def write_folder(folder: Path, n: int, seed: int, red: int, blue: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        img = rng.integers(30, 150, size=(RES, RES, 3)).astype(np.int64)
        img[..., 0] += red
        img[..., 2] += blue
        Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(folder / f"{i:03d}.png")


def make_folders(root: Path) -> dict[str, Path]:
    """The reference folder and the four shifted generator folders under `root`."""
    out = {"ref": root / "ref"}
    write_folder(out["ref"], N_REF, 0, 0, 0)
    for k, (name, (red, blue)) in enumerate(SHIFTS.items()):
        out[name] = root / name
        write_folder(out[name], N_GEN, k + 1, red, blue)
    return out


def config_text(folders: dict[str, Path], n_boot: int = 40) -> str:
    gens = "\n".join(f'[[generators]]\nspec = "folder:{folders[g]}"\nid = "{g}"\n' for g in SHIFTS)
    return f"""
name = "toy ranking"
seeds = {{start = 0, count = {N_GEN}}}
spaces = ["toy-red", {{name = "toy-blue", allow_untrained = true}}]
sample_images = 4
seed = 3
{gens}
[reference]
spec = "folder:{folders["ref"]}"
seeds = {{start = 0, count = {N_REF}}}
[metrics]
n_boot = {n_boot}
pr_k = 3
dc_k = 3
kid_subsets = 10
[explained]
enabled = false
"""
