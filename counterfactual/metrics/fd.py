"""Fréchet distance between Gaussians fitted to two feature sets.

FD = ||mu1 - mu2||^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2), all in float64. The matrix square
root term is computed from symmetric factorisations only (see `trace_sqrt`), so the result is
real, and it is exact to rounding even for rank-deficient covariances (n <= d).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ._checks import as_mean_cov, same_dim
from .errors import RankDeficientCovarianceWarning
from .rows import Rows, as_rows
from .stats import FeatureStats
from .trace_sqrt import (
    TraceSqrt,
    feature_factor,
    trace_sqrt_cholesky,
    trace_sqrt_eigh,
    trace_sqrt_svd,
)

#: Routes for moments (mean, covariance). "svd" needs raw features and is handled apart.
MOMENT_ROUTES: dict[str, Callable[[np.ndarray, np.ndarray], TraceSqrt]] = {
    "cholesky": trace_sqrt_cholesky,
    "eigh": trace_sqrt_eigh,
}
METHODS = ("auto", "svd", *MOMENT_ROUTES)
#: A trace term below -NEG_TRACE_TOL * (tr S1 + tr S2) is an error, above it rounding (-> 0).
NEG_TRACE_TOL = 1e-6


@dataclass(frozen=True)
class FDResult:
    """A Fréchet distance with its decomposition; ``float(result)`` is ``value``.

    value = mean_term + trace_term, where mean_term = ||mu1 - mu2||^2 and
    trace_term = tr S1 + tr S2 - 2 trace_sqrt (trace_sqrt = tr sqrt(S1 S2)).
    rank1/rank2 are the numerical ranks of S1/S2 (dim when full rank). ``method`` names the
    route: "cholesky" (full rank, eigvalsh of L^T S2 L), "cholesky+svd" / "eigh+svd"
    (covariance factors and the nuclear norm, used for rank-deficient covariances), "eigh"
    (eigenvalues of sqrt(S1) S2 sqrt(S1)) or "svd" (from centred raw features).
    """

    value: float
    mean_term: float
    trace_term: float
    trace_sqrt: float
    rank1: int
    rank2: int
    dim: int
    method: str

    def __float__(self) -> float:
        return self.value

    def as_dict(self) -> dict[str, Any]:
        """Plain dict of all fields (for tables)."""
        return asdict(self)


def _assemble(mu1: np.ndarray, mu2: np.ndarray, tr1: float, tr2: float, ts: TraceSqrt) -> FDResult:
    diff = mu1 - mu2
    mean_term = float(diff @ diff)
    trace_term = tr1 + tr2 - 2.0 * ts.value
    # Bures term is >= 0; tiny negatives are rounding (e.g. FD(x, x)), larger ones a bug.
    if trace_term < 0.0:
        if trace_term < -NEG_TRACE_TOL * max(tr1 + tr2, np.finfo(float).tiny):
            raise RuntimeError(
                f"Fréchet distance: negative trace term {trace_term:.6g} "
                f"(tr S1 + tr S2 = {tr1 + tr2:.6g}); please report this input"
            )
        trace_term = 0.0
    value = mean_term + trace_term
    if not np.isfinite(value):
        raise FloatingPointError(
            f"Fréchet distance overflowed (mean term {mean_term}, trace term {trace_term})"
        )
    return FDResult(
        value=value,
        mean_term=mean_term,
        trace_term=trace_term,
        trace_sqrt=ts.value,
        rank1=ts.rank1,
        rank2=ts.rank2,
        dim=mu1.shape[0],
        method=ts.method,
    )


def _warn_rank(
    res: FDResult, stacklevel: int, n1: int | None = None, n2: int | None = None
) -> None:
    """Warn once when a covariance is rank-deficient, naming the cause that can be known."""
    if res.rank1 >= res.dim and res.rank2 >= res.dim:
        return
    ns = [n for n in (n1, n2) if n is not None]
    if ns and min(ns) <= res.dim:
        cause = (
            f"fewer samples than dimensions (n1={n1}, n2={n2}): the value is dominated "
            "by sample size; compare FDs only at equal n"
        )
    else:
        known = f" with n1={n1}, n2={n2} > dim" if len(ns) == 2 else ""
        cause = (
            f"numerically singular covariance{known} (linearly dependent or constant "
            "features, or a spectrum steeper than float64 resolves): its smallest "
            "directions carry no information"
        )
    warnings.warn(
        f"Fréchet distance with rank-deficient covariance (rank1={res.rank1}, "
        f"rank2={res.rank2}, dim={res.dim}): computed exactly for these covariances; cause: "
        f"{cause}.",
        RankDeficientCovarianceWarning,
        stacklevel=stacklevel + 1,
    )


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")


def _fd_moments(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any, method: str) -> FDResult:
    m1, s1 = as_mean_cov(mu1, sigma1, "1")
    m2, s2 = as_mean_cov(mu2, sigma2, "2")
    if m1.shape != m2.shape:
        raise ValueError(f"dimensions differ: mu1 has shape {m1.shape}, mu2 has {m2.shape}")
    if method == "svd":
        raise ValueError(
            "method='svd' needs raw features: use frechet_distance_features, or "
            "FeatureStats built with keep_features=True"
        )
    route = MOMENT_ROUTES["cholesky" if method == "auto" else method]
    return _assemble(m1, m2, float(np.trace(s1)), float(np.trace(s2)), route(s1, s2))


def _fd_features(x: Rows, y: Rows, method: str) -> FDResult:
    d = same_dim(x, y, "x", "y")
    if method == "auto":
        method = "svd" if min(x.n, y.n) <= d else "cholesky"
    if method != "svd":
        a, b = FeatureStats.from_features(x), FeatureStats.from_features(y)
        return _fd_moments(a.mean, a.cov, b.mean, b.cov, method)
    m1, f1, r1 = feature_factor(x.materialize())
    m2, f2, r2 = feature_factor(y.materialize())
    tr1, tr2 = float(np.einsum("ij,ij->", f1, f1)), float(np.einsum("ij,ij->", f2, f2))
    return _assemble(m1, m2, tr1, tr2, trace_sqrt_svd(f1, f2, r1, r2))


def frechet_distance(
    mu1: Any, sigma1: Any = None, mu2: Any = None, sigma2: Any = None, *, method: str = "auto"
) -> FDResult:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), or two `FeatureStats`.

    ``frechet_distance(mu1, sigma1, mu2, sigma2)`` or ``frechet_distance(stats_a, stats_b)``.
    ``method``: "auto" (pivoted Cholesky; for `FeatureStats` that keep raw features and have
    n <= d, the exact SVD route), "cholesky", "eigh" or "svd" (raw features only).
    Warns `RankDeficientCovarianceWarning` (once per call) when a covariance is rank-deficient.
    """
    _check_method(method)
    if isinstance(mu1, FeatureStats) or isinstance(sigma1, FeatureStats):
        if not (isinstance(mu1, FeatureStats) and isinstance(sigma1, FeatureStats)):
            raise TypeError("frechet_distance: pass two FeatureStats, or mu1, sigma1, mu2, sigma2")
        if mu2 is not None or sigma2 is not None:
            raise TypeError("frechet_distance(stats_a, stats_b) takes no further arrays")
        a, b = mu1, sigma1
        if a.dim != b.dim:
            raise ValueError(f"dimensions differ: {a.dim} vs {b.dim}")
        both_raw = a.keeps_features and b.keeps_features
        if method == "svd" or (
            method == "auto"
            and both_raw
            and a.n is not None
            and b.n is not None
            and min(a.n, b.n) <= a.dim
        ):
            if not both_raw:
                raise ValueError("method='svd' needs FeatureStats built with keep_features=True")
            res = _fd_features(
                as_rows(a.features, "stats_a.features", 2),
                as_rows(b.features, "stats_b.features", 2),
                "svd",
            )
        else:
            res = _fd_moments(a.mean, a.cov, b.mean, b.cov, method)
        n1, n2 = a.n, b.n
    else:
        if sigma1 is None or mu2 is None or sigma2 is None:
            raise TypeError("frechet_distance: pass mu1, sigma1, mu2, sigma2 (or two FeatureStats)")
        res = _fd_moments(mu1, sigma1, mu2, sigma2, method)
        n1 = n2 = None
    _warn_rank(res, 2, n1, n2)
    return res


def frechet_distance_features(x: Any, y: Any, *, method: str = "auto") -> FDResult:
    """Fréchet distance between the Gaussians fitted to feature arrays x [n1, d], y [n2, d]
    (or `Rows` views; the covariance route streams them in float64 chunks).

    "auto" uses the exact SVD route on centred features when min(n1, n2) <= d, else the
    pivoted-Cholesky route on the covariances.
    """
    _check_method(method)
    x, y = as_rows(x, "x", 2), as_rows(y, "y", 2)
    res = _fd_features(x, y, method)
    _warn_rank(res, 2, x.n, y.n)
    return res


__all__ = ["FDResult", "frechet_distance", "frechet_distance_features", "METHODS"]
