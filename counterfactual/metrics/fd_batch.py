"""The one batched Fréchet distance: many pairs of sets drawn from one pool of rows (float64).

A set is a selection of pool rows with weights (weight k: the row counted k times), so every
result equals `frechet_distance_features` on the explicitly listed rows (ddof = 1
covariances). Entry points, all returning `BatchFD`:

- `frechet_distance_batch(pool, rows_a, rows_b)`: row selections [K, N] (the sweep's dose draws);
- `frechet_distance_matched(x, y)`: two whole matched sets (the region table's full-set FDs);
- `PooledFD.many(wa, wb)`: row weights [K, R] (resampled or subset sets);
- `PairPool.evaluate(counts, twins_in_a)`: matched pairs described per pair (swap permutations,
  jackknife subsets of the sensitivity's inference).

Routes (one kernel, `PooledFD.select_weighted`; "auto" picks "gram" when the sets have no more
rows than dimensions):
- "gram": tr sqrt(S_A S_B) is the nuclear norm of the centred, weighted cross-Gram
  C = W_A^1/2 Xc_A Xc_B^T W_B^1/2 / sqrt((n_A - 1)(n_B - 1)) (|A| x |B|, not d x d), whose
  blocks come from the pool's Gram matrix (computed once when it fits in memory, else from the
  gathered rows of each pair).
- "cov": the d x d covariances (accumulated over chunks of rows), their square roots from
  symmetric eigendecompositions (rounding negatives clipped), and tr sqrt(S_A S_B) =
  ||S_A^1/2 S_B^1/2||_*.
Both are the metrics' nuclear-norm route on stacks (`trace_sqrt.nuclear_norms` of a product
of two factors, `trace_sqrt.psd_roots`): singular values, so no general matrix square root and
no squared condition number. The pool is centred first (FD is translation invariant; centring protects the Gram
entries from cancellation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import check_finite
from .trace_sqrt import nuclear_norms, psd_roots

# Largest float64 working set (bytes) of one batch of set pairs. Read at call time (tests
# shrink it).
_CHUNK_BYTES = 256 * 2**20
# Largest pool Gram matrix (bytes) kept in memory; beyond it cross products are per pair.
_GRAM_BYTES = 1 << 30
ROUTES = ("gram", "cov")


@dataclass(frozen=True)
class BatchFD:
    """FD and its terms for each evaluated pair of sets (arrays aligned with the pairs), and
    the route that computed them. fd = mean_term + trace_term."""

    fd: np.ndarray
    mean_term: np.ndarray
    trace_term: np.ndarray
    route: str


def choose_route(n_rows: int, dim: int) -> str:
    """ "gram" when the sets are no larger than the dimension, else "cov"."""
    return "gram" if n_rows <= dim else "cov"


def paired_pool(base: np.ndarray, twin: np.ndarray) -> np.ndarray:
    """The pool [base_0..base_{M-1}, twin_0..twin_{M-1}] (float64) of matched feature sets,
    filled chunk by chunk: one float64 copy in all, whatever the inputs' dtype (memory-mapped
    float32 features of 50k faces need no more)."""
    base, twin = np.asarray(base), np.asarray(twin)
    if base.ndim != 2 or base.shape != twin.shape:
        raise ValueError(
            f"base and twin features must be [M, dim] of equal shape "
            f"(row i of twin pairs with row i of base), got {base.shape} and {twin.shape}"
        )
    m = base.shape[0]
    pool = np.empty((2 * m, base.shape[1]), dtype=np.float64)
    step = max(1, _CHUNK_BYTES // (8 * max(base.shape[1], 1)) // 4)
    for offset, part in ((0, base), (m, twin)):
        for start in range(0, m, step):
            pool[offset + start : offset + min(start + step, m)] = part[start : start + step]
    return pool


class PooledFD:
    """FD between weighted sets of the rows of ``pool`` [R, d] (float64 throughout).

    ``route``: "auto" (`choose_route` with ``set_size``, the typical number of rows of a set;
    default R), "gram" or "cov". ``overwrite``: a float64 ``pool`` may be centred in place
    (saves a copy; `paired_pool` output, for instance).
    """

    def __init__(
        self,
        pool: np.ndarray,
        set_size: int | None = None,
        route: str = "auto",
        *,
        overwrite: bool = False,
    ) -> None:
        given = pool
        arr = np.asarray(pool, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
            raise ValueError(f"pool: expected features [rows, dim], got shape {arr.shape}")
        if route != "auto" and route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; allowed: auto, {', '.join(ROUTES)}")
        self.rows, self.dim = int(arr.shape[0]), int(arr.shape[1])
        size = self.rows if set_size is None else int(set_size)
        self.route = choose_route(size, self.dim) if route == "auto" else route
        if not overwrite and isinstance(given, np.ndarray) and np.may_share_memory(arr, given):
            arr = arr.copy()
        self.pool = arr
        # Centre and take squared norms in chunks: no [R, d] temporary.
        step = max(1, _CHUNK_BYTES // (32 * self.dim))
        parts = [self.pool[i : i + step] for i in range(0, self.rows, step)]
        for part in parts:
            check_finite(part, "pool")
        mean = sum(part.sum(axis=0) for part in parts) / self.rows
        for part in parts:
            part -= mean
        self._sq = np.concatenate([np.einsum("ij,ij->i", p, p) for p in parts])
        self.gram: np.ndarray | None = None
        if self.route == "gram" and 8 * self.rows**2 <= _GRAM_BYTES:
            self.gram = self.pool @ self.pool.T  # every pair product, once

    # ------------------------------------------------------------------ entry points
    def select(self, rows_a: np.ndarray, rows_b: np.ndarray) -> BatchFD:
        """FD(pool[rows_a[k]], pool[rows_b[k]]) for each k; rows_a [K, Na], rows_b [K, Nb]
        (a row listed twice counts twice)."""
        ia, ib = np.atleast_2d(np.asarray(rows_a)), np.atleast_2d(np.asarray(rows_b))
        if ia.ndim != 2 or ib.ndim != 2 or len(ia) != len(ib) or len(ia) == 0:
            raise ValueError(
                f"rows_a and rows_b must be [K, N] index arrays with the same K >= 1, got "
                f"{ia.shape} and {ib.shape}"
            )
        ia, ib = ia.astype(np.int64, copy=False), ib.astype(np.int64, copy=False)
        if min(ia.min(), ib.min()) < 0 or max(ia.max(), ib.max()) >= self.rows:
            raise ValueError(f"row indices must lie in [0, {self.rows})")
        out = self.select_weighted(ia, np.ones(ia.shape), ib, np.ones(ib.shape))
        return self._result(out)

    def many(self, wa: np.ndarray, wb: np.ndarray) -> BatchFD:
        """FD for each row of the weight matrices ``wa``, ``wb`` [K, R] (row weights >= 0).

        Pairs whose sets use the same numbers of pool rows are evaluated as one stack.
        """
        wa, wb = np.atleast_2d(wa), np.atleast_2d(wb)
        if wa.shape != wb.shape or wa.shape[1] != self.rows:
            raise ValueError(
                f"weights must both be [K, {self.rows}], got {wa.shape} and {wb.shape}"
            )
        if (wa < 0).any() or (wb < 0).any():
            raise ValueError("row weights must be non-negative")
        out = np.empty((wa.shape[0], 3))
        sizes = np.stack([np.count_nonzero(wa, axis=1), np.count_nonzero(wb, axis=1)], axis=1)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, key in enumerate(map(tuple, sizes)):
            groups.setdefault(key, []).append(i)
        for (sa, sb), members in groups.items():
            k = np.asarray(members)
            ia = np.sort(np.argsort(wa[k] == 0, axis=1, kind="stable")[:, :sa], axis=1)
            ib = np.sort(np.argsort(wb[k] == 0, axis=1, kind="stable")[:, :sb], axis=1)
            a = np.take_along_axis(wa[k], ia, axis=1).astype(np.float64)
            b = np.take_along_axis(wb[k], ib, axis=1).astype(np.float64)
            out[k] = self.select_weighted(ia, a, ib, b)
        return self._result(out)

    def _result(self, out: np.ndarray) -> BatchFD:
        return BatchFD(out[:, 0].copy(), out[:, 1].copy(), out[:, 2].copy(), self.route)

    # ------------------------------------------------------------------ the one kernel
    def select_weighted(
        self, ia: np.ndarray, a: np.ndarray, ib: np.ndarray, b: np.ndarray
    ) -> np.ndarray:
        """[K, 3] (fd, mean_term, trace_term) of K set pairs: set A of pair k holds pool rows
        ``ia[k]`` with weights ``a[k]`` ([K, sa]), set B rows ``ib[k]`` with weights ``b[k]``."""
        na, nb = a.sum(axis=1), b.sum(axis=1)
        if (na < 2).any() or (nb < 2).any():
            raise ValueError(
                f"each set needs at least 2 rows (weights sum to {na.min():g} and {nb.min():g})"
            )
        sa, sb = ia.shape[1], ib.shape[1]
        if self.route == "gram":
            per = 8 * 3 * sa * sb + (0 if self.gram is not None else 8 * (sa + sb) * self.dim)
        else:
            per = 8 * self.dim * self.dim * 4
        step = max(1, _CHUNK_BYTES // (per + 8 * 2 * self.dim))
        out = np.empty((len(ia), 3))
        for s in range(0, len(ia), step):
            part = slice(s, s + step)
            out[part] = self._terms(ia[part], a[part], na[part], ib[part], b[part], nb[part])
        return out

    def _terms(
        self,
        ia: np.ndarray,
        a: np.ndarray,
        na: np.ndarray,
        ib: np.ndarray,
        b: np.ndarray,
        nb: np.ndarray,
    ) -> np.ndarray:
        mu_a, mu_b = self._mean(ia, a / na[:, None]), self._mean(ib, b / nb[:, None])
        tr_a = (np.einsum("ks,ks->k", a, self._sq[ia]) - na * (mu_a * mu_a).sum(axis=1)) / (na - 1)
        tr_b = (np.einsum("ks,ks->k", b, self._sq[ib]) - nb * (mu_b * mu_b).sum(axis=1)) / (nb - 1)
        if self.route == "gram":
            cross = self._cross_gram(ia, a, na, ib, b, nb)
        else:
            root_a = psd_roots(self._cov(ia, a, na, mu_a))
            root_b = psd_roots(self._cov(ib, b, nb, mu_b))
            cross = nuclear_norms(root_a @ root_b)
        mean_term = ((mu_a - mu_b) ** 2).sum(axis=1)
        # The trace (Bures) term is >= 0; tiny negatives are rounding, as in `frechet_distance`.
        trace_term = np.maximum(tr_a + tr_b - 2.0 * cross, 0.0)
        return np.column_stack([mean_term + trace_term, mean_term, trace_term])

    def _row_step(self, k: int) -> int:
        """Rows per chunk when gathering [k, rows, d] blocks."""
        return max(1, _CHUNK_BYTES // (8 * self.dim * k) // 4)

    def _mean(self, idx: np.ndarray, p: np.ndarray) -> np.ndarray:
        """sum_s p[k, s] pool[idx[k, s]] per k, over chunks of rows (no [K, N, d] gather)."""
        out = np.zeros((len(idx), self.dim))
        step = self._row_step(len(idx))
        for s in range(0, idx.shape[1], step):
            out += (p[:, None, s : s + step] @ self.pool[idx[:, s : s + step]])[:, 0]
        return out

    def _cov(self, idx: np.ndarray, w: np.ndarray, n: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """Weighted covariances [K, d, d] (ddof 1), accumulated over chunks of rows."""
        acc = np.zeros((len(idx), self.dim, self.dim))
        step = self._row_step(len(idx))
        for s in range(0, idx.shape[1], step):
            x = (self.pool[idx[:, s : s + step]] - mu[:, None, :]) * np.sqrt(w[:, s : s + step])[
                :, :, None
            ]
            acc += x.mT @ x
        cov: np.ndarray = acc / (n - 1)[:, None, None]
        return cov

    def _cross_gram(
        self,
        ia: np.ndarray,
        a: np.ndarray,
        na: np.ndarray,
        ib: np.ndarray,
        b: np.ndarray,
        nb: np.ndarray,
    ) -> np.ndarray:
        """tr sqrt(S_A S_B) = nuclear norm of the centred, weighted cross-Gram, per pair."""
        if self.gram is not None:
            g = self.gram[ia[:, :, None], ib[:, None, :]]  # [K, sa, sb]
        else:
            g = self.pool[ia] @ self.pool[ib].mT
        pa, pb = a / na[:, None], b / nb[:, None]
        g_pb = (g @ pb[:, :, None])[:, :, 0]
        pa_g = (pa[:, None, :] @ g)[:, 0]
        pa_g_pb = (pa_g * pb).sum(axis=1)
        c = g - g_pb[:, :, None] - pa_g[:, None, :] + pa_g_pb[:, None, None]
        c *= np.sqrt(a / (na - 1)[:, None])[:, :, None] * np.sqrt(b / (nb - 1)[:, None])[:, None, :]
        return nuclear_norms(c)


class PairPool(PooledFD):
    """`PooledFD` over matched pairs: rows 0..N-1 are the base features, N..2N-1 their twins.

    Sets are described per pair: ``counts`` [K, N] (how often each pair is drawn; 1 = every
    pair once, 0 = left out) and ``twins_in_a`` [K, N] (how many of those copies send their
    twin to A and their base to B; the other copies send the base to A and the twin to B).
    """

    def __init__(self, base: np.ndarray, twin: np.ndarray, route: str = "auto") -> None:
        pool = paired_pool(base, twin)
        self.n_pairs = len(pool) // 2
        super().__init__(pool, set_size=self.n_pairs, route=route, overwrite=True)

    def weights(self, counts: np.ndarray, twins_in_a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pool-row weights [K, 2N] of sets A and B."""
        counts = np.atleast_2d(np.asarray(counts, dtype=np.int64))
        k = np.atleast_2d(np.asarray(twins_in_a, dtype=np.int64))
        if counts.shape != k.shape or counts.shape[1] != self.n_pairs:
            raise ValueError(
                f"counts and twins_in_a must both be [K, {self.n_pairs}], "
                f"got {counts.shape} and {k.shape}"
            )
        if (k < 0).any() or (k > counts).any():
            raise ValueError("twins_in_a must lie between 0 and counts")
        return np.concatenate([counts - k, k], axis=1), np.concatenate([k, counts - k], axis=1)

    def evaluate(self, counts: np.ndarray, twins_in_a: np.ndarray) -> BatchFD:
        """FD(A, B) for each of the K described pairs of sets."""
        return self.many(*self.weights(counts, twins_in_a))

    def separated(self, counts: np.ndarray | None = None) -> BatchFD:
        """FD(base set, twin set) (prevalence gap 1) with pair ``counts`` (default all once)."""
        counts = np.ones((1, self.n_pairs), np.int64) if counts is None else np.atleast_2d(counts)
        return self.evaluate(counts, np.zeros_like(counts))


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
    n = np.atleast_2d(np.asarray(rows_a)).shape[1]
    return PooledFD(pool, set_size=n, route=method, overwrite=overwrite_pool).select(rows_a, rows_b)


def frechet_distance_matched(x: np.ndarray, y: np.ndarray) -> BatchFD:
    """FD between two whole matched sets (row i of y is the twin of row i of x) by the batched
    route: one pair of sets, A = every row of x, B = every row of y."""
    return PairPool(x, y).separated()


__all__ = [
    "BatchFD",
    "PairPool",
    "PooledFD",
    "ROUTES",
    "choose_route",
    "frechet_distance_batch",
    "frechet_distance_matched",
    "paired_pool",
]
