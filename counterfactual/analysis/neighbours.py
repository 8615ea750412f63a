"""Twin neighbours: how often a base face's nearest neighbour among the twins is its own twin.

For one intervention in one space, with N matched pairs (base i, twin i): each base face's
Euclidean distances to all N twins, the rank of its own twin among them (1 = nearest; ties
share the mid-rank) and whether it is the nearest (a tie for nearest with k other twins counts
1/(k+1), the chance that random tie-breaking picks the own twin). `own_twin_top1` is the mean
of that indicator over faces, with a Wilson score interval over faces (faces treated as
independent Bernoulli trials; the candidate set is shared, so the interval is approximate);
chance is 1/N (top-1) and (N+1)/2 (mean rank).

`nearest_faces` / `face_neighbours`: the k nearest faces of a few query faces among several
sets' faces (base and every edit's twins), for the report's image grids.

High top-1: the edit moves each face less than the faces differ from one another (the space
keeps faces apart through the edit: a small edit, or a space blind to it). Near chance: the
edit moves a face further than the distance to other faces' twins. It reads cached features
only and is a description of this sample (not a test).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist
from statsmodels.stats.proportion import proportion_confint

from counterfactual.metrics import as_features

from ._common import check_count, check_level, frame
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


FACE_NEIGHBOUR_COLUMNS: tuple[str, ...] = (
    "space",
    "space_label",
    "trained",
    "query",
    "rank",
    "set",
    "face",
    "distance",
    "own_twin",
    "pool_sets",
    "pool_faces",
)


def nearest_faces(
    sets: Mapping[str, np.ndarray], query_set: str, queries: Sequence[int], k: int
) -> list[dict[str, object]]:
    """For each query face (row `q` of `query_set`), its `k` nearest faces by Euclidean distance
    among every row of every set (the query itself left out; ties broken by set order, then
    row): rows ``query, rank (1 = nearest), set, face, distance, own_twin`` (own twin: the same
    row of another set, i.e. the query's own edited face)."""
    check_count(k, "k")
    names = list(sets)
    if query_set not in sets:
        raise ValueError(f"query set {query_set!r} is not among the sets {names}")
    parts = [as_features(sets[n], f"features of {n!r}", min_rows=2) for n in names]
    if len({p.shape[1] for p in parts}) > 1:
        raise ValueError(f"sets {names} have different feature dimensions")
    pool = np.vstack(parts)
    owner = np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)])
    row = np.concatenate([np.arange(len(p)) for p in parts])
    qi = names.index(query_set)
    out: list[dict[str, object]] = []
    for q in queries:
        if not 0 <= q < len(parts[qi]):
            raise ValueError(
                f"query face {q} is not a row of {query_set!r} ({len(parts[qi])} rows)"
            )
        d = np.sqrt(((pool - parts[qi][q]) ** 2).sum(axis=1))
        keep = ~((owner == qi) & (row == q))
        idx = np.flatnonzero(keep)
        order = idx[np.lexsort((row[idx], owner[idx], d[idx]))][:k]
        for r, j in enumerate(order, start=1):
            out.append(
                {
                    "query": int(q),
                    "rank": r,
                    "set": names[owner[j]],
                    "face": int(row[j]),
                    "distance": float(d[j]),
                    "own_twin": bool(row[j] == q and owner[j] != qi),
                }
            )
    return out


def face_neighbours(
    spaces: Sequence[tuple[str, str, bool, Mapping[str, np.ndarray]]],
    query_set: str,
    n_queries: int,
    k: int,
) -> pd.DataFrame:
    """`nearest_faces` of the first `n_queries` faces of `query_set` in every space
    (columns `FACE_NEIGHBOUR_COLUMNS`; ``pool_sets``/``pool_faces``: the candidate sets and
    their total rows, the query included); `spaces`: (space, label, trained, {set: features})."""
    check_count(n_queries, "n_queries")
    rows: list[dict[str, object]] = []
    for space, label, trained, sets in spaces:
        n = min(n_queries, len(sets[query_set]))
        pool = {"pool_sets": ", ".join(sets), "pool_faces": sum(len(v) for v in sets.values())}
        for r in nearest_faces(sets, query_set, range(n), k):
            rows.append(
                {"space": space, "space_label": label, "trained": bool(trained), **r, **pool}
            )
    return frame(rows, FACE_NEIGHBOUR_COLUMNS)


__all__ = [
    "FACE_NEIGHBOUR_COLUMNS",
    "INTERVAL",
    "NEIGHBOUR_COLUMNS",
    "face_neighbours",
    "nearest_faces",
    "own_twin_ranks",
    "twin_neighbours",
]
