"""Feature extraction shared by the sweep and rank engines (and their shard workers).

Each image set is extracted once into every feature space, in the extractor's own batch size
(`default_batch_size`), so features do not depend on the generation batch size; the engines
(`counterfactual.engine.features.FeatureEngine`) cache the result per (set, space).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def extract_features(
    extractor: Any,
    images: torch.Tensor,
    *,
    progress: bool = False,
    desc: str = "",
    name: str | None = None,
    check_finite: bool = True,
) -> np.ndarray:
    """Features [N, dim] float32 of uint8 NCHW `images`; RuntimeError naming the extractor
    (`name`, default its own) on a wrong shape, or on NaN/inf when `check_finite`."""
    from tqdm.auto import tqdm

    name = extractor.name if name is None else name
    bs = int(getattr(extractor, "default_batch_size", 32) or 32)
    chunks = []
    with tqdm(
        total=len(images),
        desc=desc or extractor.label,
        unit="img",
        disable=not progress,
        leave=False,
    ) as bar:
        for i in range(0, len(images), bs):
            out = extractor(images[i : i + bs], batch_size=bs)
            chunks.append(torch.as_tensor(out).detach().cpu().float().numpy())
            bar.update(min(bs, len(images) - i))
    feats = np.concatenate(chunks) if chunks else np.zeros((0, extractor.dim), np.float32)
    if feats.shape != (len(images), extractor.dim):
        raise RuntimeError(
            f"extractor {name!r} returned features of shape {feats.shape}; "
            f"expected {(len(images), extractor.dim)}"
        )
    if check_finite and not np.isfinite(feats).all():
        raise RuntimeError(f"extractor {name!r} returned NaN or inf features")
    return feats
