"""Twin neighbours: how often a base face's nearest neighbour among the twins is its own twin.

For one intervention in one space, with N matched pairs (base i, twin i): each base face's
Euclidean distances to all N twins, the rank of its own twin among them (1 = nearest; ties
share the mid-rank) and whether it is the nearest (a tie for nearest with k other twins counts
1/(k+1), the chance that random tie-breaking picks the own twin). `own_twin_top1` is the mean
of that indicator over faces, with a Wilson score interval over faces (faces treated as
independent Bernoulli trials; the candidate set is shared, so the interval is approximate);
chance is 1/N (top-1) and (N+1)/2 (mean rank).

High top-1: the edit moves each face less than the faces differ from one another (the space
keeps faces apart through the edit: a small edit, or a space blind to it). Near chance: the
edit moves a face further than the distance to other faces' twins. It reads cached features
only and is a description of this sample (not a test).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist
from statsmodels.stats.proportion import proportion_confint

from ._common import check_level, frame
from .pairs import PairFeatures

NEIGHBOUR_COLUMNS: tuple[str, ...] = (
    "intervention",
    "space",
    "space_label",
    "trained",
    "n",
    "own_twin_top1",
    "lo",
    "hi",
    "ci_level",
    "chance",
    "mean_rank",
    "chance_mean_rank",
    "median_rank",
    "interval",
)
INTERVAL = "Wilson score interval over faces"


def own_twin_ranks(base: np.ndarray, twin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per base face: (rank of its own twin among all twins by Euclidean distance, 1 = nearest,
    ties at mid-rank; top-1 indicator, 1/(k+1) when tied for nearest with k other twins)."""
    d = cdist(np.asarray(base, np.float64), np.asarray(twin, np.float64), "sqeuclidean")
    own = np.diag(d)[:, None]
    closer = (d < own).sum(axis=1)
    ties = (d == own).sum(axis=1) - 1  # other twins exactly as far as the own twin
    rank = 1.0 + closer + ties / 2.0
    top1 = np.where(closer == 0, 1.0 / (1.0 + ties), 0.0)
    return rank.astype(np.float64), top1.astype(np.float64)


def twin_neighbours(pairs: Sequence[PairFeatures], ci: float = 0.95) -> pd.DataFrame:
    """One row per intervention x space (columns `NEIGHBOUR_COLUMNS`)."""
    level = check_level(ci)
    rows = []
    for pf in pairs:
        rank, top1 = own_twin_ranks(pf.base, pf.twin)
        n = pf.n_pairs
        lo, hi = proportion_confint(float(top1.sum()), n, alpha=1.0 - level, method="wilson")
        rows.append(
            {
                **pf.labels(),
                "n": n,
                "own_twin_top1": float(top1.mean()),
                "lo": float(lo),
                "hi": float(hi),
                "ci_level": level,
                "chance": 1.0 / n,
                "mean_rank": float(rank.mean()),
                "chance_mean_rank": (n + 1) / 2.0,
                "median_rank": float(np.median(rank)),
                "interval": INTERVAL,
            }
        )
    return frame(rows, NEIGHBOUR_COLUMNS)


__all__ = ["INTERVAL", "NEIGHBOUR_COLUMNS", "own_twin_ranks", "twin_neighbours"]
