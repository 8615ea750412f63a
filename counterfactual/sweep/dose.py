"""Dose-response from cached features: FD(A, B) as the counterfactual prevalence gap grows.

For each delta on the grid and each draw d, N pairs are sampled (without replacement) from
the M matched pairs with an rng seeded by (seed, delta index, draw); the first
n_swap = floor(N (1 - delta) / 2 + 1/2) sampled pairs send their twin to A and their base to
B, the others their base to A and their twin to B. Every pair so contributes one member to
each set, A holds n_swap counterfactual members (fraction (1 - delta)/2) and B N - n_swap
(fraction (1 + delta)/2); with N even, delta = 0 gives A and B the same composition. The
draws depend only on (seed, delta index, draw, M, N): every intervention and every feature
space sees the same pairs (common random numbers).

FD is computed for all draws at once from the pooled features, exactly, by the route that is
cheaper for the set size N and the feature dimension d:
- "gram" (N <= d): with centred sets Xa, Xb (N x d), tr sqrt(Sa Sb) is the nuclear norm of
  C = Xa Xb^T / (N - 1), the sum of its singular values (an N x N problem, not d x d).
  C is gathered from one Gram matrix of the pool, computed once per (intervention, space).
- "cov" (d < N): the d x d covariances, tr sqrt(Sa Sb) = nuclear norm of Sa^1/2 Sb^1/2.
Both agree with `counterfactual.metrics.frechet_distance` (method="metrics" runs that
reference one draw at a time; the tests compare them).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import torch

from counterfactual.prevalence import n_swapped

# Largest float64 working set (bytes) of one batch of draws.
_CHUNK_BYTES = 256 * 2**20
# Largest pool Gram matrix (bytes) kept in memory; beyond it cross products are per draw.
_GRAM_BYTES = 1 << 30


@dataclass(frozen=True)
class Draw:
    """One (delta, draw) point: which pairs, and how many of them send their twin to A."""
    delta_index: int
    delta: float
    draw: int
    pairs: np.ndarray      # [N] indices into the M matched pairs, in sampled order
    n_swap: int            # the first n_swap pairs send their twin to A

    @property
    def n_pairs(self) -> int:
        return int(len(self.pairs))

    def rows(self, n_total: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows of A and B in the pool [base_0..base_{M-1}, twin_0..twin_{M-1}]."""
        swap = np.zeros(self.n_pairs, dtype=bool)
        swap[:self.n_swap] = True
        a = np.where(swap, self.pairs + n_total, self.pairs)
        b = np.where(swap, self.pairs, self.pairs + n_total)
        return a, b


def plan_draws(n_total: int, n_pairs: int, deltas: Sequence[float], draws: int,
               seed: int) -> list[Draw]:
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
        return [{"delta": d.delta, "draw": d.draw, "n_pairs": d.n_pairs,
                 "n_counterfactual_a": d.n_swap, "n_counterfactual_b": d.n_pairs - d.n_swap,
                 "fd": float(f), "mean_term": float(m), "trace_term": float(t)}
                for d, f, m, t in zip(self.draws, self.fd, self.mean_term, self.trace_term)]


def _pool(base: np.ndarray, twin: np.ndarray) -> torch.Tensor:
    """[base; twin] in float64, centred, filled chunk by chunk (one float64 copy in all, so
    memory-mapped float32 features of 50k faces need no more)."""
    base, twin = np.asarray(base), np.asarray(twin)
    if base.ndim != 2 or base.shape != twin.shape:
        raise ValueError(f"base and twin features must be [M, dim] of equal shape, got "
                         f"{base.shape} and {twin.shape}")
    m = base.shape[0]
    pool = torch.empty((2 * m, base.shape[1]), dtype=torch.float64)
    step = max(1, _CHUNK_BYTES // (8 * max(base.shape[1], 1)) // 4)
    for offset, part in ((0, base), (m, twin)):
        for start in range(0, m, step):
            stop = min(start + step, m)
            pool[offset + start:offset + stop] = torch.from_numpy(
                np.asarray(part[start:stop], dtype=np.float64))
    pool -= pool.mean(dim=0)                # FD is translation invariant; centring helps round-off
    return pool


def _means_and_traces(pool: torch.Tensor, sq_norms: torch.Tensor, rows: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per set: mean [B, d] and tr(S) [B] from pool rows [B, N] (indicator matmul, no gather)."""
    n = rows.shape[1]
    weights = torch.zeros(rows.shape[0], pool.shape[0], dtype=torch.float64)
    weights.scatter_(1, rows, 1.0 / n)
    mu = weights @ pool
    trace = (sq_norms[rows].sum(dim=1) - n * (mu * mu).sum(dim=1)) / (n - 1)
    return mu, trace


def _cross_trace_gram(pool: torch.Tensor, gram: torch.Tensor | None, ra: torch.Tensor,
                      rb: torch.Tensor) -> torch.Tensor:
    """tr sqrt(Sa Sb) = nuclear norm of the centred cross-Gram / (N - 1), per draw.

    The cross-Gram blocks come from the pool's Gram matrix when it fits in memory, else from
    the gathered features of each draw."""
    n = ra.shape[1]
    if gram is not None:
        g = gram[ra[:, :, None], rb[:, None, :]]                  # [B, N, N]
    else:
        g = pool[ra] @ pool[rb].mT
    g = g - g.mean(dim=2, keepdim=True) - g.mean(dim=1, keepdim=True) + g.mean(dim=(1, 2), keepdim=True)
    c = (g / (n - 1)).numpy()
    # Singular values directly (not eig(C C^T)): no squaring of the condition number.
    return torch.from_numpy(np.linalg.svd(c, compute_uv=False).sum(axis=1))


def _cov(pool: torch.Tensor, rows: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """Covariances [B, d, d] of the sets pool[rows[b]], accumulated over chunks of rows."""
    n, dim = rows.shape[1], pool.shape[1]
    step = max(1, _CHUNK_BYTES // (8 * dim * rows.shape[0]) // 4)
    acc = torch.zeros((rows.shape[0], dim, dim), dtype=torch.float64)
    for start in range(0, n, step):
        x = pool[rows[:, start:start + step]] - mu[:, None, :]    # [B, chunk, d]
        acc += x.mT @ x
    return acc / (n - 1)


def _sqrt_psd(s: torch.Tensor) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(s)
    return (vecs * vals.clamp_min(0).sqrt()[:, None, :]) @ vecs.mT


def _cross_trace_cov(pool: torch.Tensor, ra: torch.Tensor, rb: torch.Tensor,
                     mu_a: torch.Tensor, mu_b: torch.Tensor) -> torch.Tensor:
    """tr sqrt(Sa Sb) = nuclear norm of Sa^1/2 Sb^1/2 (d x d covariances), per draw."""
    root_a = _sqrt_psd(_cov(pool, ra, mu_a))
    root_b = _sqrt_psd(_cov(pool, rb, mu_b))
    return torch.from_numpy(np.linalg.svd((root_a @ root_b).numpy(), compute_uv=False).sum(axis=1))


def choose_route(n_pairs: int, dim: int) -> str:
    """"gram" when the sets are smaller than the dimension, else "cov"."""
    return "gram" if n_pairs <= dim else "cov"


def dose_response(base: np.ndarray, twin: np.ndarray, draws: list[Draw],
                  method: str = "auto") -> DoseResult:
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
    pool = _pool(base, twin)
    n, dim = draws[0].n_pairs, pool.shape[1]
    if any(d.n_pairs != n for d in draws):
        raise ValueError("every draw must have the same number of pairs")
    route = choose_route(n, dim) if method == "auto" else method
    if route not in ("gram", "cov"):
        raise ValueError(f"unknown method {method!r}; allowed: auto, gram, cov, metrics")
    sq_norms = (pool * pool).sum(dim=1)
    gram = None
    if route == "gram" and 8 * (2 * n_total) ** 2 <= _GRAM_BYTES:
        gram = pool @ pool.mT                                     # every pair product, once
    per_draw = (8 * n * n * 3 if gram is not None else 8 * dim * dim * 4) + 8 * (2 * n_total) * 2
    chunk = max(1, _CHUNK_BYTES // per_draw)
    fd, mean_term, trace_term = [], [], []
    for start in range(0, len(draws), chunk):
        part = draws[start:start + chunk]
        rows = [d.rows(n_total) for d in part]
        ra = torch.from_numpy(np.stack([r[0] for r in rows]))
        rb = torch.from_numpy(np.stack([r[1] for r in rows]))
        mu_a, tr_a = _means_and_traces(pool, sq_norms, ra)
        mu_b, tr_b = _means_and_traces(pool, sq_norms, rb)
        cross = (_cross_trace_gram(pool, gram, ra, rb) if route == "gram"
                 else _cross_trace_cov(pool, ra, rb, mu_a, mu_b))
        m = ((mu_a - mu_b) ** 2).sum(dim=1)
        t = tr_a + tr_b - 2 * cross
        # The trace (Bures) term is >= 0; tiny negatives are rounding, as in metrics.
        t = torch.where(t < 0, torch.zeros_like(t), t)
        mean_term.append(m)
        trace_term.append(t)
        fd.append(m + t)
    return DoseResult(draws, torch.cat(fd).numpy(), torch.cat(mean_term).numpy(),
                      torch.cat(trace_term).numpy(), route)


def _dose_with_metrics(base: np.ndarray, twin: np.ndarray, draws: Iterable[Draw]) -> DoseResult:
    import warnings

    from counterfactual.metrics import FeatureStats, RankDeficientCovarianceWarning, frechet_distance
    base = np.asarray(base, dtype=np.float64)
    twin = np.asarray(twin, dtype=np.float64)
    pool = np.concatenate([base, twin])
    draws = list(draws)
    out = np.zeros((3, len(draws)))
    for i, d in enumerate(draws):
        a, b = d.rows(len(base))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
            r = frechet_distance(FeatureStats.from_features(pool[a], keep_features=True),
                                 FeatureStats.from_features(pool[b], keep_features=True))
        out[:, i] = float(r.value), float(r.mean_term), float(r.trace_term)
    return DoseResult(draws, out[0], out[1], out[2], "metrics")
