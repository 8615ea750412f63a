"""tr sqrt(S1 S2) for covariance matrices, with symmetric factorisations only.

S1 S2 is similar to a symmetric positive semi-definite matrix, so its eigenvalues are real
and non-negative and tr sqrt(S1 S2) = sum of their square roots. No general (non-symmetric)
matrix square root is ever formed. Routes:

- ``cholesky`` (default): pivoted Cholesky of both covariances (LAPACK ``pstrf``, which also
  gives their numerical ranks). Both full rank: S1 = P L L^T P^T and the eigenvalues of
  L^T (P^T S2 P) L are those of S1 S2 (two triangular products, one ``eigvalsh``).
- ``cholesky+svd`` (either covariance rank-deficient): with S1 = A1 A1^T, S2 = A2 A2^T,
  tr sqrt(S1 S2) = ||A1^T A2||_* (sum of singular values). Singular values are accurate to
  eps * ||A1^T A2|| in absolute terms, whereas square roots of the near-zero eigenvalues that
  rank deficiency produces would carry errors of order sqrt(eps); this keeps n <= d exact.
  A covariance whose pivoted Cholesky does not reproduce it (not positive semi-definite to
  rounding) is factored with ``eigh`` instead (``eigh+svd``), or rejected.
- ``eigh``: sqrt(S1) = V sqrt(lambda) V^T, then ``eigvalsh(sqrt(S1) S2 sqrt(S1))``.
- ``svd`` (raw features X [n1, d], Y [n2, d]): A1 = Xc^T / sqrt(n1 - 1) (or R^T / sqrt(n1 - 1)
  from Xc = QR when n1 > d), then the nuclear norm above.

Numerical rank: one rule for every route, `psd_rank` (pivoted Cholesky of the d x d
covariance, stopping at pivots below ``dim * u * max pivot``, LAPACK's default). The ``svd``
route applies it to the covariance its factor reproduces (A A^T for n > d; the n x n Gram
A^T A, which has the same non-zero eigenvalues, for n <= d). Since rank(S1 S2) <=
min(rank1, rank2), only that many eigenvalues of the product enter a sum.
Eigenvalues below -1e-6 * max mean the input is not a covariance and raise ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.linalg
from scipy.linalg import blas, lapack

EPS = float(np.finfo(np.float64).eps)
#: Eigenvalues below -NEG_TOL * max|lambda| mean "not positive semi-definite".
NEG_TOL = 1e-6


@dataclass(frozen=True)
class TraceSqrt:
    """tr sqrt(S1 S2) with the numerical ranks of S1 and S2 and the route that computed it."""

    value: float
    rank1: int
    rank2: int
    method: str


def _rank_tol(dim: int, top: float) -> float:
    return dim * EPS * max(top, 0.0)


def _clean_eigs(w: np.ndarray, what: str) -> tuple[np.ndarray, int]:
    """Zero eigenvalues below the rank tolerance; raise if clearly negative. Returns (w, rank)."""
    top = float(np.abs(w).max()) if w.size else 0.0
    if w.size and w.min() < -NEG_TOL * top:
        raise ValueError(
            f"{what} is not positive semi-definite (eigenvalue {w.min():.3g}, largest {top:.3g})"
        )
    tol = _rank_tol(w.size, top)
    keep = w > tol
    return np.where(keep, w, 0.0), int(keep.sum())


def _pivoted_cholesky(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(L [d, r], perm, r) with S = L L^T in permuted order, or None if S looks indefinite."""
    d = s.shape[0]
    c, piv, rank, info = lapack.dpstrf(s, lower=1, tol=-1.0)
    if info < 0:
        raise RuntimeError(f"LAPACK dpstrf: illegal argument {-info}")
    perm = piv[:d] - 1
    rank = int(rank)
    low = np.tril(c)
    if rank < d:
        low = low[:, :rank]
        # pstrf stops on small pivots also for indefinite matrices: check the residual.
        sp = s[np.ix_(perm, perm)]
        resid = float(np.abs(sp - low @ low.T).max()) if rank else float(np.abs(sp).max())
        if resid > 10.0 * d * EPS * max(float(np.diag(s).max()), 0.0):
            return None
    return low, perm, rank


def _eigh_factor(s: np.ndarray, what: str) -> tuple[np.ndarray, int]:
    """A [d, r] with S = A A^T from a symmetric eigendecomposition; r = numerical rank."""
    w, v = np.linalg.eigh(s)
    w, rank = _clean_eigs(w, what)
    keep = w > 0
    return v[:, keep] * np.sqrt(w[keep]), rank


def nuclear_norm_of_product(a1: np.ndarray, a2: np.ndarray) -> float:
    """||A1^T A2||_* (sum of singular values)."""
    if a1.shape[1] == 0 or a2.shape[1] == 0:
        return 0.0
    return float(scipy.linalg.svdvals(a1.T @ a2, overwrite_a=True, check_finite=False).sum())


def nuclear_norms(m: np.ndarray) -> np.ndarray:
    """Sum of singular values of each matrix of a stack [K, p, q] (the batched form of
    `nuclear_norm_of_product`, given the products)."""
    out: np.ndarray = np.linalg.svd(m, compute_uv=False).sum(axis=1)
    return out


def psd_roots(s: np.ndarray) -> np.ndarray:
    """Symmetric square roots of a stack of covariances [K, d, d] from ``eigh`` (negative
    eigenvalues, rounding in a covariance, are clipped to 0)."""
    vals, vecs = np.linalg.eigh(s)
    root: np.ndarray = (vecs * np.sqrt(np.clip(vals, 0.0, None))[:, None, :]) @ vecs.mT
    return root


def _top_sqrt_sum(w: np.ndarray, keep: int, what: str) -> float:
    """Sum of sqrt of the ``keep`` largest eigenvalues (negatives clipped; raise if clearly
    negative). rank(S1 S2) <= min(rank1, rank2), so the rest are rounding noise."""
    top = float(np.abs(w).max()) if w.size else 0.0
    if w.size and w.min() < -NEG_TOL * top:
        raise ValueError(
            f"{what} is not positive semi-definite (eigenvalue {w.min():.3g}, largest {top:.3g})"
        )
    w = np.sort(w)[::-1][:keep]
    return float(np.sqrt(np.clip(w, 0.0, None)).sum())


def _cholesky_to_factor(pc: tuple[np.ndarray, np.ndarray, int]) -> np.ndarray:
    low, perm, _ = pc
    a = np.empty_like(low)
    a[perm] = low
    return a


def trace_sqrt_cholesky(s1: np.ndarray, s2: np.ndarray) -> TraceSqrt:
    """Pivoted-Cholesky route (default).

    Both covariances full rank: eigvalsh(L^T S2 L) with S1 = L L^T (fast; eigenvalues are
    clipped at 0, not truncated, so ill-conditioned full-rank inputs keep their small terms).
    Otherwise: nuclear norm of the factors' product (exact for rank-deficient inputs).
    """
    d = s1.shape[0]
    pc1, pc2 = _pivoted_cholesky(s1), _pivoted_cholesky(s2)
    if pc1 is not None and pc2 is not None and pc1[2] == d and pc2[2] == d:
        low, perm, _ = pc1
        lf = np.asfortranarray(low)
        s2p = s2[np.ix_(perm, perm)]
        t = blas.dtrmm(1.0, lf, s2p.T, side=1, lower=1, overwrite_b=1)  # S2p L
        m = blas.dtrmm(1.0, lf, t, side=0, lower=1, trans_a=1, overwrite_b=1)  # L^T S2p L
        # scipy's LAPACK throughout this path: switching between numpy's and scipy's
        # separate OpenBLAS thread pools costs time on few cores.
        w = scipy.linalg.eigvalsh((m + m.T) * 0.5, overwrite_a=True, check_finite=False)
        return TraceSqrt(_top_sqrt_sum(w, d, "sigma2"), d, d, "cholesky")
    how = "cholesky"
    factors = []
    for pc, s, name in ((pc1, s1, "sigma1"), (pc2, s2, "sigma2")):
        if pc is None:
            a, rank = _eigh_factor(s, name)
            how = "eigh"
        else:
            a, rank = _cholesky_to_factor(pc), pc[2]
        factors.append((a, rank))
    (a1, rank1), (a2, rank2) = factors
    return TraceSqrt(nuclear_norm_of_product(a1, a2), rank1, rank2, how + "+svd")


def trace_sqrt_eigh(s1: np.ndarray, s2: np.ndarray) -> TraceSqrt:
    """Eigen route: sum sqrt(eigvalsh(sqrt(S1) S2 sqrt(S1))), sqrt(S1) from ``eigh``.

    Eigenvalues of S1 below the rank tolerance are zeroed before the square root, and only
    the min(rank1, rank2) largest eigenvalues of the product enter the sum.
    """
    w1, v1 = np.linalg.eigh(s1)
    w1, _ = _clean_eigs(w1, "sigma1")
    _clean_eigs(np.linalg.eigvalsh(s2), "sigma2")
    rank1, rank2 = psd_rank(s1), psd_rank(s2)
    root = (v1 * np.sqrt(w1)) @ v1.T
    m = root @ s2 @ root
    w = np.linalg.eigvalsh((m + m.T) * 0.5)
    value = _top_sqrt_sum(w, min(rank1, rank2), "sqrt(sigma1) sigma2 sqrt(sigma1)")
    return TraceSqrt(value, rank1, rank2, "eigh")


def psd_rank(s: np.ndarray) -> int:
    """Numerical rank of a positive semi-definite matrix from pivoted Cholesky (``pstrf``,
    LAPACK's default tolerance dim * u * max pivot): the one rank rule of every FD route."""
    if s.shape[0] == 0:
        return 0
    _, _, rank, info = lapack.dpstrf(s, lower=1, tol=-1.0)
    if info < 0:
        raise RuntimeError(f"LAPACK dpstrf: illegal argument {-info}")
    return int(rank)


class RowFactor(NamedTuple):
    """A set's (weighted) mean and a row factor R with R.T @ R = its covariance (``np.cov``'s
    convention). With few rows (n <= dim) FDs from factors avoid every dim x dim matrix."""

    mean: np.ndarray
    root: np.ndarray


def row_factor(x: np.ndarray, weights: np.ndarray | None = None) -> RowFactor:
    """Mean and covariance factor of rows of ``x``, matching ``fd_factors.moments(x, weights)``
    exactly (`feature_factor` is the unweighted, QR-compressed form of the same factor)."""
    x = np.asarray(x, dtype=np.float64)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    v1 = w.sum()
    norm = v1 - (w * w).sum() / v1  # np.cov's aweights normaliser (n - 1 when unweighted)
    mu = (w[:, None] * x).sum(axis=0) / v1
    return RowFactor(mu, np.sqrt(w / norm)[:, None] * (x - mu))


def feature_factor(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(mean, A [d, m], rank) with cov(x) = A A^T, from float64 features x [n, d].

    A = R^T from `row_factor` (m = n), compressed by a QR decomposition when n > d (m = d).
    The rank is `psd_rank` of A A^T (= the covariance, d x d) when n > d, else of the Gram
    A^T A (same non-zero eigenvalues, n x n): the one rank rule of every route.
    """
    n, d = x.shape
    if n < 2:
        raise ValueError(f"features: need at least 2 rows for a covariance, got {n}")
    mean, root = row_factor(x)
    if n > d:
        # numpy's stub types every mode as QRResult; mode="r" returns the R array alone.
        root = np.linalg.qr(root, mode="r")  # type: ignore[assignment]
    a = root.T
    return mean, a, psd_rank(a @ a.T if n > d else a.T @ a)


def trace_sqrt_svd(a1: np.ndarray, a2: np.ndarray, rank1: int, rank2: int) -> TraceSqrt:
    """Nuclear-norm route on covariance factors from raw features (see `feature_factor`)."""
    return TraceSqrt(nuclear_norm_of_product(a1, a2), rank1, rank2, "svd")
