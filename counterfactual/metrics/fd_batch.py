"""Fréchet distances of many (A, B) row selections of one feature pool, at once, exactly.

`frechet_distance_batch(pool, rows_a, rows_b)` gives FD(pool[rows_a[k]], pool[rows_b[k]]) for
every k (each selection holds N rows), by the route that is cheaper for N and the dimension d:
- "gram" (N <= d): with centred sets Xa, Xb (N x d), tr sqrt(Sa Sb) is the nuclear norm of
  C = Xa Xb^T / (N - 1), the sum of its singular values (an N x N problem, not d x d).
  C is gathered from one Gram matrix of the pool, computed once per call when it fits.
- "cov" (d < N): the d x d covariances, tr sqrt(Sa Sb) = nuclear norm of Sa^1/2 Sb^1/2.
Both agree with `counterfactual.metrics.frechet_distance` (the tests compare them). The sweep's
dose-response draws and the region table's full-set FDs use this entry point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

# Largest float64 working set (bytes) of one batch of selections.
_CHUNK_BYTES = 256 * 2**20
# Largest pool Gram matrix (bytes) kept in memory; beyond it cross products are per selection.
_GRAM_BYTES = 1 << 30
ROUTES = ("gram", "cov")


@dataclass(frozen=True)
class BatchFD:
    """FD and its terms for each selection (arrays aligned with the rows of rows_a/rows_b)."""

    fd: np.ndarray
    mean_term: np.ndarray
    trace_term: np.ndarray
    route: str


def paired_pool(base: np.ndarray, twin: np.ndarray) -> np.ndarray:
    """The pool [base_0..base_{M-1}, twin_0..twin_{M-1}] (float64) of matched feature sets,
    filled chunk by chunk: one float64 copy in all, whatever the inputs' dtype (memory-mapped
    float32 features of 50k faces need no more)."""
    base, twin = np.asarray(base), np.asarray(twin)
    if base.ndim != 2 or base.shape != twin.shape:
        raise ValueError(
            f"base and twin features must be [M, dim] of equal shape, got "
            f"{base.shape} and {twin.shape}"
        )
    m = base.shape[0]
    pool = np.empty((2 * m, base.shape[1]), dtype=np.float64)
    step = max(1, _CHUNK_BYTES // (8 * max(base.shape[1], 1)) // 4)
    for offset, part in ((0, base), (m, twin)):
        for start in range(0, m, step):
            pool[offset + start : offset + min(start + step, m)] = part[start : start + step]
    return pool


def _means_and_traces(
    pool: torch.Tensor, sq_norms: torch.Tensor, rows: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per set: mean [B, d] and tr(S) [B] from pool rows [B, N] (indicator matmul, no gather)."""
    n = rows.shape[1]
    weights = torch.zeros(rows.shape[0], pool.shape[0], dtype=torch.float64)
    weights.scatter_(1, rows, 1.0 / n)
    mu = weights @ pool
    trace = (sq_norms[rows].sum(dim=1) - n * (mu * mu).sum(dim=1)) / (n - 1)
    return mu, trace


def _cross_trace_gram(
    pool: torch.Tensor, gram: torch.Tensor | None, ra: torch.Tensor, rb: torch.Tensor
) -> torch.Tensor:
    """tr sqrt(Sa Sb) = nuclear norm of the centred cross-Gram / (N - 1), per selection.

    The cross-Gram blocks come from the pool's Gram matrix when it fits in memory, else from
    the gathered features of each selection."""
    n = ra.shape[1]
    if gram is not None:
        g = gram[ra[:, :, None], rb[:, None, :]]  # [B, N, N]
    else:
        g = pool[ra] @ pool[rb].mT
    g = (
        g
        - g.mean(dim=2, keepdim=True)
        - g.mean(dim=1, keepdim=True)
        + g.mean(dim=(1, 2), keepdim=True)
    )
    c = (g / (n - 1)).numpy()
    # Singular values directly (not eig(C C^T)): no squaring of the condition number.
    return torch.from_numpy(np.linalg.svd(c, compute_uv=False).sum(axis=1))


def _cov(pool: torch.Tensor, rows: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """Covariances [B, d, d] of the sets pool[rows[b]], accumulated over chunks of rows (no
    [B, N, d] gather of whole sets)."""
    n, dim = rows.shape[1], pool.shape[1]
    step = max(1, _CHUNK_BYTES // (8 * dim * rows.shape[0]) // 4)
    acc = torch.zeros((rows.shape[0], dim, dim), dtype=torch.float64)
    for start in range(0, n, step):
        x = pool[rows[:, start : start + step]] - mu[:, None, :]  # [B, chunk, d]
        acc += x.mT @ x
    return acc / (n - 1)


def _sqrt_psd(s: torch.Tensor) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(s)
    root: torch.Tensor = (vecs * vals.clamp_min(0).sqrt()[:, None, :]) @ vecs.mT
    return root


def _cross_trace_cov(
    pool: torch.Tensor, ra: torch.Tensor, rb: torch.Tensor, mu_a: torch.Tensor, mu_b: torch.Tensor
) -> torch.Tensor:
    """tr sqrt(Sa Sb) = nuclear norm of Sa^1/2 Sb^1/2 (d x d covariances), per selection."""
    root_a = _sqrt_psd(_cov(pool, ra, mu_a))
    root_b = _sqrt_psd(_cov(pool, rb, mu_b))
    return torch.from_numpy(np.linalg.svd((root_a @ root_b).numpy(), compute_uv=False).sum(axis=1))


def choose_route(n_rows: int, dim: int) -> str:
    """ "gram" when the sets are smaller than the dimension, else "cov"."""
    return "gram" if n_rows <= dim else "cov"


def frechet_distance_batch(
    pool: np.ndarray,
    rows_a: np.ndarray,
    rows_b: np.ndarray,
    method: str = "auto",
    *,
    overwrite_pool: bool = False,
) -> BatchFD:
    """FD(pool[rows_a[k]], pool[rows_b[k]]) with its mean and trace terms for every k.

    pool: [P, d] features; rows_a, rows_b: [B, N] row indices into the pool (N >= 2).
    method: "auto" (`choose_route`), "gram" or "cov". overwrite_pool: a float64 pool may be
    centred in place (saves a copy of it; `paired_pool` output, for instance).
    """
    rows_a, rows_b = np.atleast_2d(np.asarray(rows_a)), np.atleast_2d(np.asarray(rows_b))
    if rows_a.shape != rows_b.shape or rows_a.shape[0] == 0:
        raise ValueError(
            f"rows_a and rows_b must be [B, N] of equal shape with B >= 1, got "
            f"{rows_a.shape} and {rows_b.shape}"
        )
    arr = np.asarray(pool, dtype=np.float64)
    pool_t = torch.from_numpy(arr if overwrite_pool or arr is not pool else arr.copy())
    # FD is translation invariant; centring helps round-off. In chunks: no [P, d] temporary.
    parts = torch.split(pool_t, max(1, _CHUNK_BYTES // (32 * max(pool_t.shape[1], 1))))
    mean = sum(part.sum(dim=0) for part in parts) / pool_t.shape[0]
    for part in parts:
        part -= mean
    n, dim, n_pool = rows_a.shape[1], pool_t.shape[1], pool_t.shape[0]
    route = choose_route(n, dim) if method == "auto" else method
    if route not in ROUTES:
        raise ValueError(f"unknown method {method!r}; allowed: auto, {', '.join(ROUTES)}")
    sq_norms = torch.cat([(part * part).sum(dim=1) for part in parts])
    gram = None
    if route == "gram" and 8 * n_pool**2 <= _GRAM_BYTES:
        gram = pool_t @ pool_t.mT  # every pair product, once
    per_draw = (8 * n * n * 3 if gram is not None else 8 * dim * dim * 4) + 8 * n_pool * 2
    chunk = max(1, _CHUNK_BYTES // per_draw)
    fd, mean_term, trace_term = [], [], []
    for start in range(0, len(rows_a), chunk):
        ra = torch.from_numpy(np.ascontiguousarray(rows_a[start : start + chunk], dtype=np.int64))
        rb = torch.from_numpy(np.ascontiguousarray(rows_b[start : start + chunk], dtype=np.int64))
        mu_a, tr_a = _means_and_traces(pool_t, sq_norms, ra)
        mu_b, tr_b = _means_and_traces(pool_t, sq_norms, rb)
        cross = (
            _cross_trace_gram(pool_t, gram, ra, rb)
            if route == "gram"
            else _cross_trace_cov(pool_t, ra, rb, mu_a, mu_b)
        )
        m = ((mu_a - mu_b) ** 2).sum(dim=1)
        t = tr_a + tr_b - 2 * cross
        # The trace (Bures) term is >= 0; tiny negatives are rounding, as in `frechet_distance`.
        t = torch.where(t < 0, torch.zeros_like(t), t)
        mean_term.append(m)
        trace_term.append(t)
        fd.append(m + t)
    return BatchFD(
        torch.cat(fd).numpy(), torch.cat(mean_term).numpy(), torch.cat(trace_term).numpy(), route
    )


def frechet_distance_matched(x: np.ndarray, y: np.ndarray) -> BatchFD:
    """FD between two whole matched sets (row i of y is the twin of row i of x) by the batched
    route: one selection, A = every row of x, B = every row of y."""
    pool = paired_pool(x, y)
    m = len(pool) // 2
    return frechet_distance_batch(
        pool, np.arange(m)[None], np.arange(m, 2 * m)[None], overwrite_pool=True
    )


__all__ = [
    "BatchFD",
    "ROUTES",
    "choose_route",
    "frechet_distance_batch",
    "frechet_distance_matched",
    "paired_pool",
]
