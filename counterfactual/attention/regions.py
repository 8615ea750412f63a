"""Region shares of a heat map: the fraction of an image's heat inside each face region.

Regions: the face-parsing regions of `counterfactual.interventions.regions.PARSING_REGIONS`
(eyes, brows, nose, mouth, hair, hat, skin, ears, neck, background; binary masks from each
image's own BiSeNet class map, resized to the image by nearest neighbour), "other" (the
parsing classes in none of them: cloth, necklace), and "changed": the pixels where the twin
differs from its base face by more than `CHANGE_LEVEL` grey levels in some channel (a
control image gets the mask of its own face's twin). The parsing regions and "other"
partition the image, so their shares sum to 1 for every image with heat. Per region the
table gives the mean share over images with heat and the mean area (fraction of pixels):
a share above the area means the map concentrates there.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from counterfactual.interventions.regions import PARSING_REGIONS

OTHER = "other"
CHANGED = "changed"
#: A pixel is "changed" when some channel moves by more than this many grey levels (0..255).
CHANGE_LEVEL = 8
SHARE_REGIONS: tuple[str, ...] = (*PARSING_REGIONS, OTHER)


def changed_mask(base: Any, twin: Any, level: int = CHANGE_LEVEL) -> np.ndarray:
    """bool [N, H, W]: pixels where a uint8 NCHW twin differs from its base by > `level`."""
    b = np.asarray(base).astype(np.int16)
    t = np.asarray(twin).astype(np.int16)
    if b.shape != t.shape or b.ndim != 4:
        raise ValueError(
            f"base and twin must be NCHW images of one shape, got {b.shape} and {t.shape}"
        )
    return (np.abs(t - b) > level).any(axis=1)


def parsing_region_masks(labels: np.ndarray, size: tuple[int, int]) -> dict[str, np.ndarray]:
    """bool [N, H, W] masks of every region of `SHARE_REGIONS` from class maps [N, S, S]."""
    from counterfactual.interventions.regions import parsing_masks

    masks = {
        r: parsing_masks(labels, r, size, soft=False).numpy()[:, 0] > 0.5 for r in PARSING_REGIONS
    }
    covered = np.zeros_like(next(iter(masks.values())))
    for m in masks.values():
        covered |= m
    masks[OTHER] = ~covered
    return masks


def region_shares(heat: np.ndarray, masks: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    """Per region: {"share": mean over images with heat of sum(heat * mask), "area": mean
    fraction of pixels in the mask (same images), "n": images with heat}. `heat` [N, H, W]
    sums to 1 per image (0: no heat, left out)."""
    heat = np.asarray(heat, np.float64)
    if heat.ndim != 3:
        raise ValueError(f"heat must be [N, H, W], got shape {heat.shape}")
    totals = heat.sum(axis=(1, 2))
    live = totals > 0
    if live.any() and not np.allclose(totals[live], 1.0, atol=1e-6):
        raise ValueError("heat maps must be normalised to sum 1 per image")
    out: dict[str, dict[str, Any]] = {}
    for region, mask in masks.items():
        mask = np.asarray(mask, bool)
        if mask.shape != heat.shape:
            raise ValueError(f"mask {region!r} has shape {mask.shape}, heat {heat.shape}")
        shares = (heat * mask).sum(axis=(1, 2))[live]
        areas = mask.mean(axis=(1, 2))[live]
        n = int(live.sum())
        out[region] = {
            "share": float(shares.mean()) if n else float("nan"),
            "area": float(areas.mean()) if n else float("nan"),
            "n": n,
        }
    return out


__all__ = [
    "SHARE_REGIONS",
    "OTHER",
    "CHANGED",
    "CHANGE_LEVEL",
    "changed_mask",
    "parsing_region_masks",
    "region_shares",
]
