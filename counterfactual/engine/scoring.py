"""How a set's attribute scores are taken: for the sweep's verification (NaN where a face could
not be scored) and for the rank run's explained FD (finite, checked), by the local executors and
the shard workers alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

SCORE_BATCH = 64


def verify_scores(scorer: Callable, images: torch.Tensor, name: str, set_name: str) -> np.ndarray:
    """Scores [N] float64 for verification and the linear probes (NaN where unscored)."""
    from counterfactual.interventions.directions import score_images

    return score_images(scorer, images)


def explained_scores(
    scorer: Callable[[torch.Tensor], Any],
    images: torch.Tensor,
    name: str,
    set_id: str,
    batch: int = SCORE_BATCH,
) -> np.ndarray:
    """Scores [N] (float64, finite) of uint8 NCHW images, scored in chunks of `batch` (so they
    do not depend on the generation batch size); RuntimeError naming the scorer and the set."""
    parts = []
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        out = np.asarray(scorer(chunk), dtype=np.float64).reshape(-1)
        if out.shape != (len(chunk),):
            raise RuntimeError(
                f"scorer {name!r} returned {out.size} scores for {len(chunk)} "
                f"images of set {set_id!r}"
            )
        parts.append(out)
    scores = np.concatenate(parts) if parts else np.zeros(0)
    if not np.isfinite(scores).all():
        raise RuntimeError(f"scorer {name!r} returned non-finite scores for set {set_id!r}")
    return scores


# a shard job's `scoring` -> how a scorer's scores of a set are taken (the sweep's verification,
# the rank run's explained FD), exactly as the local executors take them.
SCORING: dict[str, Callable[[Callable, torch.Tensor, str, str], np.ndarray]] = {
    "verify": verify_scores,
    "explained": explained_scores,
}
