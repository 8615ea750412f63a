"""Dose-response from cached features: FD(A, B) as the counterfactual prevalence gap grows.

For each delta on the grid and each draw d, N pairs are sampled (without replacement) from
the M matched pairs with an rng seeded by (seed, delta index, draw); the mixing rule
(`counterfactual.mixing`) sends the twins of the first n_swap = n_swapped(N, delta) sampled
pairs to A and their bases to B, the other pairs' bases to A and twins to B. The draws depend
only on (seed, delta index, draw, M, N): every intervention and every feature space sees the
same pairs (common random numbers).

FD is computed for all draws at once from the pooled features, exactly, by
`counterfactual.metrics.fd_batch` (method="metrics" runs the single-pair
`counterfactual.metrics.frechet_distance` one draw at a time: the slow reference the tests
compare against).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from counterfactual.metrics.fd_batch import frechet_distance_batch, paired_pool
from counterfactual.mixing import n_swapped, pool_rows


@dataclass(frozen=True)
class Draw:
    """One (delta, draw) point: which pairs, and how many of them send their twin to A."""

    delta_index: int
    delta: float
    draw: int
    pairs: np.ndarray  # [N] indices into the M matched pairs, in sampled order
    n_swap: int  # the first n_swap pairs send their twin to A

    @property
    def n_pairs(self) -> int:
        return int(len(self.pairs))

    def rows(self, n_total: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows of A and B in the pool [base_0..base_{M-1}, twin_0..twin_{M-1}]."""
        return pool_rows(self.pairs, self.n_swap, n_total)


def plan_draws(
    n_total: int, n_pairs: int, deltas: Sequence[float], draws: int, seed: int
) -> list[Draw]:
    """All (delta, draw) points, each with its own rng seeded by (seed, delta index, draw)."""
    if not 2 <= n_pairs <= n_total:
        raise ValueError(f"need 2 <= pairs per draw <= available pairs, got {n_pairs} of {n_total}")
    out = []
    for k, delta in enumerate(deltas):
        n_swap = n_swapped(n_pairs, delta)
        for j in range(draws):
            rng = np.random.default_rng(np.random.SeedSequence([int(seed), k, j]))
            pairs = rng.choice(n_total, size=n_pairs, replace=False)
            out.append(Draw(k, float(delta), j, pairs, n_swap))
    return out


@dataclass(frozen=True)
class DoseResult:
    """FD and its terms for each draw (arrays aligned with the draws)."""

    draws: list[Draw]
    fd: np.ndarray
    mean_term: np.ndarray
    trace_term: np.ndarray
    route: str

    def rows(self) -> list[dict]:
        return [
            {
                "delta": d.delta,
                "draw": d.draw,
                "n_pairs": d.n_pairs,
                "n_counterfactual_a": d.n_swap,
                "n_counterfactual_b": d.n_pairs - d.n_swap,
                "fd": float(f),
                "mean_term": float(m),
                "trace_term": float(t),
            }
            for d, f, m, t in zip(self.draws, self.fd, self.mean_term, self.trace_term)
        ]


def dose_response(
    base: np.ndarray, twin: np.ndarray, draws: list[Draw], method: str = "auto"
) -> DoseResult:
    """FD(A, B) with its mean and trace terms for every draw.

    base, twin: [M, d] features, row i of twin pairs with row i of base.
    method: "auto" (batched exact route), "gram", "cov", or "metrics" (one
    `counterfactual.metrics.frechet_distance` per draw; the slow reference).
    """
    if not draws:
        raise ValueError("no draws to evaluate")
    n_total = int(np.asarray(base).shape[0])
    if method == "metrics":
        return _dose_with_metrics(base, twin, draws)
    pool = paired_pool(base, twin)
    n = draws[0].n_pairs
    if any(d.n_pairs != n for d in draws):
        raise ValueError("every draw must have the same number of pairs")
    if method not in ("auto", "gram", "cov"):
        raise ValueError(f"unknown method {method!r}; allowed: auto, gram, cov, metrics")
    rows = [d.rows(n_total) for d in draws]
    res = frechet_distance_batch(
        pool,
        np.stack([r[0] for r in rows]),
        np.stack([r[1] for r in rows]),
        method,
        overwrite_pool=True,
    )
    return DoseResult(draws, res.fd, res.mean_term, res.trace_term, res.route)


def _dose_with_metrics(base: np.ndarray, twin: np.ndarray, draws: Iterable[Draw]) -> DoseResult:
    import warnings

    from counterfactual.metrics import (
        FeatureStats,
        RankDeficientCovarianceWarning,
        frechet_distance,
    )

    base = np.asarray(base, dtype=np.float64)
    twin = np.asarray(twin, dtype=np.float64)
    pool = np.concatenate([base, twin])
    draws = list(draws)
    out = np.zeros((3, len(draws)))
    for i, d in enumerate(draws):
        a, b = d.rows(len(base))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
            r = frechet_distance(
                FeatureStats.from_features(pool[a], keep_features=True),
                FeatureStats.from_features(pool[b], keep_features=True),
            )
        out[:, i] = float(r.value), float(r.mean_term), float(r.trace_term)
    return DoseResult(draws, out[0], out[1], out[2], "metrics")
