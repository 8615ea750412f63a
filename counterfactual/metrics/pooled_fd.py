"""Exact Fréchet distances between many re-weighted subsets of one pool of feature rows.

Resampling methods (pair bootstrap, within-pair swap permutations, subset-size series for
FD-infinity) evaluate FD thousands of times on sets drawn from the same rows. A set is given
as integer weights over the pool's rows (weight k = the row appears k times), so a bootstrap
replicate or a swap pattern is a weight vector and the result equals
`frechet_distance_features` on the explicitly duplicated rows (ddof = 1 covariances).

Routes (chosen per pool, like the sweep's dose routes):
- "gram" (rows per set <= dim): from the pool's Gram matrix G = P P^T (computed once), the
  centred, weighted cross-Gram C (|A| x |B| over the rows a set uses) gives
  tr sqrt(S_A S_B) = sum of sqrt of the eigenvalues of C C^T; only the top
  min(|A|, |B|, dim + 1) - 1 (the rank bound of two centred sets) enter the sum, so the
  structural zeros never contribute rounding noise.
- "cov" (dim < rows per set): d x d weighted covariances; one set pair at a time by the
  metrics' pivoted-Cholesky route (`trace_sqrt.trace_sqrt_cholesky`), stacks of set pairs by
  the eigen route (eigenvalues of S_A^1/2 S_B S_A^1/2, as `trace_sqrt.trace_sqrt_eigh`).
The pool is centred first (FD is translation invariant; centring protects the Gram entries
from cancellation).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.linalg

from ._checks import as_features
from .trace_sqrt import trace_sqrt_cholesky

ROUTES = ("auto", "gram", "cov")
# Largest working set (bytes) of one batch of set pairs.
_CHUNK_BYTES = 64 * 2**20


class FDArrays(NamedTuple):
    """FD values and their mean and trace terms, one entry per evaluated pair of sets."""

    value: np.ndarray
    mean_term: np.ndarray
    trace_term: np.ndarray


class PooledFD:
    """FD between weighted subsets of the rows of ``pool`` [R, d] (float64 throughout).

    ``route``: "auto" ("gram" when ``set_size`` <= d, else "cov"), "gram" or "cov".
    ``set_size`` is the typical number of rows in a set (it only picks the route).
    """

    def __init__(self, pool: np.ndarray, set_size: int | None = None, route: str = "auto") -> None:
        p = as_features(pool, "pool", 2)
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; choose one of {ROUTES}")
        self.rows, self.dim = p.shape
        size = self.rows if set_size is None else int(set_size)
        self.route = ("gram" if size <= self.dim else "cov") if route == "auto" else route
        self.pool = p - p.mean(axis=0)
        self._sq = np.einsum("ij,ij->i", self.pool, self.pool)
        self.gram: np.ndarray | None = self.pool @ self.pool.T if self.route == "gram" else None

    def fd(self, wa: np.ndarray, wb: np.ndarray) -> tuple[float, float, float]:
        """(value, mean_term, trace_term) of FD(set A, set B) with row weights ``wa``, ``wb`` [R]."""
        ia, ib = np.flatnonzero(wa), np.flatnonzero(wb)
        a, b = np.asarray(wa, np.float64)[ia], np.asarray(wb, np.float64)[ib]
        na, nb = a.sum(), b.sum()
        if na < 2 or nb < 2:
            raise ValueError(f"each set needs at least 2 rows (weights sum to {na:g} and {nb:g})")
        pa, pb = a / na, b / nb
        if self.route == "gram":
            return self._fd_gram(ia, ib, a, b, pa, pb, na, nb)
        return self._fd_cov(ia, ib, a, b, pa, pb, na, nb)

    def _gram_matrix(self) -> np.ndarray:
        """The pool's Gram matrix (built on the "gram" route only)."""
        if self.gram is None:
            raise RuntimeError("the Gram matrix exists only on the 'gram' route")
        return self.gram

    def _fd_gram(
        self,
        ia: np.ndarray,
        ib: np.ndarray,
        a: np.ndarray,
        b: np.ndarray,
        pa: np.ndarray,
        pb: np.ndarray,
        na: float,
        nb: float,
    ) -> tuple[float, float, float]:
        g = self._gram_matrix()
        gab = g[np.ix_(ia, ib)]
        gab_pb, pa_gab = gab @ pb, pa @ gab
        mu_ab = float(pa_gab @ pb)
        mu_aa = float(pa @ g[np.ix_(ia, ia)] @ pa)
        mu_bb = float(pb @ g[np.ix_(ib, ib)] @ pb)
        mean_term = max(mu_aa + mu_bb - 2.0 * mu_ab, 0.0)
        tr_a = (float(a @ self._sq[ia]) - na * mu_aa) / (na - 1.0)
        tr_b = (float(b @ self._sq[ib]) - nb * mu_bb) / (nb - 1.0)
        c = gab - gab_pb[:, None] - pa_gab[None, :] + mu_ab
        c *= np.sqrt(a / (na - 1.0))[:, None] * np.sqrt(b / (nb - 1.0))[None, :]
        m = c @ c.T if c.shape[0] <= c.shape[1] else c.T @ c
        w = scipy.linalg.eigvalsh(m, overwrite_a=True, check_finite=False)
        keep = min(len(ia), len(ib), self.dim + 1) - 1
        cross = float(np.sqrt(np.clip(w[::-1][:keep], 0.0, None)).sum())
        trace_term = max(tr_a + tr_b - 2.0 * cross, 0.0)
        return mean_term + trace_term, mean_term, trace_term

    def _moments(
        self, idx: np.ndarray, w: np.ndarray, p: np.ndarray, n: float
    ) -> tuple[np.ndarray, np.ndarray]:
        x = self.pool[idx]
        mu = p @ x
        xc = (x - mu) * np.sqrt(w / (n - 1.0))[:, None]
        return mu, xc.T @ xc

    def _fd_cov(
        self,
        ia: np.ndarray,
        ib: np.ndarray,
        a: np.ndarray,
        b: np.ndarray,
        pa: np.ndarray,
        pb: np.ndarray,
        na: float,
        nb: float,
    ) -> tuple[float, float, float]:
        mu_a, s_a = self._moments(ia, a, pa, na)
        mu_b, s_b = self._moments(ib, b, pb, nb)
        diff = mu_a - mu_b
        mean_term = float(diff @ diff)
        cross = trace_sqrt_cholesky(s_a, s_b).value
        trace_term = max(float(np.trace(s_a) + np.trace(s_b)) - 2.0 * cross, 0.0)
        return mean_term + trace_term, mean_term, trace_term

    def many(self, wa: np.ndarray, wb: np.ndarray) -> FDArrays:
        """FD for each row of the weight matrices ``wa``, ``wb`` [K, R].

        Rows whose sets use the same number of pool rows are evaluated as stacked (batched)
        linear algebra, in chunks of about ``_CHUNK_BYTES``; the rest one at a time.
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
            rows = np.asarray(members)
            if len(rows) == 1 or min(sa, sb) < 2:
                for i in rows:
                    out[i] = self.fd(wa[i], wb[i])
                continue
            per = 8 * (3 * max(sa, sb) ** 2 + (sa + sb) * (self.dim if self.route == "cov" else 0))
            step = max(1, _CHUNK_BYTES // per)
            for start in range(0, len(rows), step):
                part = rows[start : start + step]
                out[part] = self._batch(wa[part], wb[part], sa, sb)
        return FDArrays(out[:, 0], out[:, 1], out[:, 2])

    def _batch(self, wa: np.ndarray, wb: np.ndarray, sa: int, sb: int) -> np.ndarray:
        """[K, 3] FD terms of K set pairs whose supports have sizes ``sa`` and ``sb``."""
        ia = np.sort(np.argsort(wa == 0, axis=1, kind="stable")[:, :sa], axis=1)
        ib = np.sort(np.argsort(wb == 0, axis=1, kind="stable")[:, :sb], axis=1)
        a = np.take_along_axis(wa, ia, axis=1).astype(np.float64)
        b = np.take_along_axis(wb, ib, axis=1).astype(np.float64)
        na, nb = a.sum(axis=1), b.sum(axis=1)
        if (na < 2).any() or (nb < 2).any():
            raise ValueError("each set needs at least 2 rows")
        pa, pb = a / na[:, None], b / nb[:, None]
        if self.route == "cov":
            xa, xb = self.pool[ia], self.pool[ib]  # [K, s, d]
            mu_a, mu_b = np.einsum("ks,ksd->kd", pa, xa), np.einsum("ks,ksd->kd", pb, xb)
            ca = (xa - mu_a[:, None]) * np.sqrt(a / (na[:, None] - 1.0))[:, :, None]
            cb = (xb - mu_b[:, None]) * np.sqrt(b / (nb[:, None] - 1.0))[:, :, None]
            s_a, s_b = ca.mT @ ca, cb.mT @ cb
            mean_term = ((mu_a - mu_b) ** 2).sum(axis=1)
            # tr sqrt(S_A S_B) = sum sqrt eig(S_A^1/2 S_B S_A^1/2) (the metrics' eigh route)
            w, v = np.linalg.eigh(s_a)
            root = (v * np.sqrt(np.clip(w, 0.0, None))[:, None, :]) @ v.mT
            m = root @ s_b @ root
            ev = np.linalg.eigvalsh((m + m.mT) * 0.5)[:, ::-1][:, : min(sa - 1, sb - 1, self.dim)]
            cross = np.sqrt(np.clip(ev, 0.0, None)).sum(axis=1)
            trace_term = np.maximum(
                np.trace(s_a, axis1=1, axis2=2) + np.trace(s_b, axis1=1, axis2=2) - 2.0 * cross, 0.0
            )
            return np.column_stack([mean_term + trace_term, mean_term, trace_term])
        g = self._gram_matrix()
        gab = g[ia[:, :, None], ib[:, None, :]]
        mu_aa = np.einsum("ks,kst,kt->k", pa, g[ia[:, :, None], ia[:, None, :]], pa)
        mu_bb = np.einsum("ks,kst,kt->k", pb, g[ib[:, :, None], ib[:, None, :]], pb)
        gab_pb, pa_gab = np.einsum("kst,kt->ks", gab, pb), np.einsum("ks,kst->kt", pa, gab)
        mu_ab = np.einsum("ks,ks->k", pa_gab, pb)
        mean_term = np.maximum(mu_aa + mu_bb - 2.0 * mu_ab, 0.0)
        tr_a = ((a * self._sq[ia]).sum(axis=1) - na * mu_aa) / (na - 1.0)
        tr_b = ((b * self._sq[ib]).sum(axis=1) - nb * mu_bb) / (nb - 1.0)
        c = gab - gab_pb[:, :, None] - pa_gab[:, None, :] + mu_ab[:, None, None]
        c *= (
            np.sqrt(a / (na[:, None] - 1.0))[:, :, None]
            * np.sqrt(b / (nb[:, None] - 1.0))[:, None, :]
        )
        m = c @ c.mT if sa <= sb else c.mT @ c
        w = np.linalg.eigvalsh(m)[:, ::-1][:, : min(sa, sb, self.dim + 1) - 1]
        cross = np.sqrt(np.clip(w, 0.0, None)).sum(axis=1)
        trace_term = np.maximum(tr_a + tr_b - 2.0 * cross, 0.0)
        return np.column_stack([mean_term + trace_term, mean_term, trace_term])


class PairPool(PooledFD):
    """`PooledFD` over matched pairs: rows 0..N-1 are the base features, N..2N-1 their twins.

    Sets are described per pair: ``counts`` [K, N] (how often each pair is drawn; 1 = every
    pair once) and ``twins_in_a`` [K, N] (how many of those copies send their twin to A and
    their base to B; the other copies send the base to A and the twin to B).
    """

    def __init__(self, base: np.ndarray, twin: np.ndarray, route: str = "auto") -> None:
        base, twin = as_features(base, "base", 2), as_features(twin, "twin", 2)
        if base.shape != twin.shape:
            raise ValueError(
                f"base shape {base.shape} != twin shape {twin.shape} "
                "(row i of twin must pair with row i of base)"
            )
        self.n_pairs = base.shape[0]
        super().__init__(np.concatenate([base, twin]), set_size=self.n_pairs, route=route)

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

    def evaluate(self, counts: np.ndarray, twins_in_a: np.ndarray) -> FDArrays:
        """FD(A, B) for each of the K described pairs of sets."""
        return self.many(*self.weights(counts, twins_in_a))

    def separated(self, counts: np.ndarray | None = None) -> FDArrays:
        """FD(base set, twin set) (prevalence gap 1) with pair ``counts`` (default all once)."""
        counts = np.ones((1, self.n_pairs), np.int64) if counts is None else np.atleast_2d(counts)
        return self.evaluate(counts, np.zeros_like(counts))


__all__ = ["FDArrays", "PairPool", "PooledFD", "ROUTES"]
