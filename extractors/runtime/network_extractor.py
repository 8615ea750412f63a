"""A feature space made of a preprocessing function and a network runner (shared by spaces).

`NetworkExtractor` turns uint8 NCHW batches into features with
``runner(preprocess(images))``; the backend and every preprocessing choice are recorded in
`preprocessing`. `state_dict_sha256` gives random-weight networks a content hash, so cache
keys follow the actual weights even if a library changes its initialisation.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import torch

from extractors.base import FeatureExtractor
from extractors.runtime.backends import Runner

Preprocess = Callable[[torch.Tensor], torch.Tensor]


class NetworkExtractor(FeatureExtractor):
    """uint8 NCHW -> preprocess -> runner -> float32 [N, dim]."""

    def __init__(
        self,
        name: str,
        dim: int,
        trained: bool,
        weights_sha256: str | None,
        preprocess: Preprocess,
        runner: Runner,
        preprocessing: dict[str, Any],
        default_batch_size: int = 16,
        source: str | None = None,
    ) -> None:
        self.name = name
        self.dim = dim
        self.trained = trained
        self.weights_sha256 = weights_sha256
        self.preprocess = preprocess
        self.runner = runner
        self.preprocessing = dict(preprocessing)
        self.default_batch_size = default_batch_size
        self.source = source  # where the weights came from (not part of cache keys)

    def _extract(self, images: torch.Tensor) -> torch.Tensor:
        feats = self.runner(self.preprocess(images))
        if feats.ndim != 2 or feats.shape[1] != self.dim:
            raise RuntimeError(
                f"{self.name}: network returned shape {list(feats.shape)}, expected [N, {self.dim}]"
            )
        return feats.float()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label} dim={self.dim} backend={self.preprocessing.get('backend')}>"


def state_dict_sha256(module: torch.nn.Module) -> str:
    """sha256 over (name, dtype, shape, bytes) of every parameter and buffer, in name order."""
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with torch's global RNG seeded, leaving the caller's RNG state untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


BN_CALIBRATION_IMAGES = 8


@torch.no_grad()
def calibrate_batchnorm(
    module: torch.nn.Module, preprocess: Preprocess, size: int, seed: int = 0
) -> bool:
    """Give a random-init network data-free batch-norm statistics; True if it has any BN.

    Freshly initialised BN layers (running mean 0, var 1) are identities in eval mode, so a
    random deep net's activations grow layer by layer (random Inception-v3 reaches ~1e11).
    We reset the running statistics and run one forward with only the BN layers in train
    mode (cumulative average; dropout stays off) on
    `BN_CALIBRATION_IMAGES` seeded uniform-noise uint8 images through `preprocess`, then go
    back to eval mode: deterministic, well-scaled, and independent of the data later fed in.
    """
    bns = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return False
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randint(
        0, 256, (BN_CALIBRATION_IMAGES, 3, size, size), dtype=torch.uint8, generator=gen
    )
    module.eval()  # dropout and friends stay off
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
        bn.train()
    module(preprocess(noise))
    module.eval()
    return True
