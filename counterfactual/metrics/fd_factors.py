"""Fréchet distances of weighted rows and of low-rank covariance factors (float64).

Entry points: `fd_features` (two feature arrays, optional row weights), `fd_factors` (two
`RowFactor`s: a set's mean and a factor R with R^T R = its covariance; exact and cheap when
a set has fewer rows than dimensions), `fd_moments` (means and covariances). Unweighted sets
and moments go through `counterfactual.metrics.fd` (the single-pair core); factors use its
nuclear norm (`trace_sqrt.nuclear_norm_of_product`).

Moments use the same convention as ``np.cov`` (ddof=1; with weights, ``aweights``), which reduces
to the unweighted sample covariance when all weights are equal.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np

from .errors import RankDeficientCovarianceWarning
from .fd import frechet_distance, frechet_distance_features
from .trace_sqrt import RowFactor, nuclear_norm_of_product, row_factor


class FDTerms(NamedTuple):
    """FD value with its mean term ||mu1-mu2||^2 and trace term tr(S1+S2-2(S1 S2)^1/2)."""

    value: float
    mean_term: float
    trace_term: float


def moments(x: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Float64 mean and covariance of rows of ``x`` (optionally reliability-weighted)."""
    x = np.asarray(x, dtype=np.float64)
    if weights is None:
        mu = x.mean(axis=0)
        xc = x - mu
        cov = xc.T @ xc / (x.shape[0] - 1)
        return mu, cov
    w = np.asarray(weights, dtype=np.float64)
    mu = np.average(x, axis=0, weights=w)
    cov = np.atleast_2d(np.cov(x, rowvar=False, aweights=w))
    return mu, cov


def fd_factors(a: RowFactor, b: RowFactor) -> FDTerms:
    """FD from row factors: tr sqrt(S1 S2) is the nuclear norm of Ra Rb^T (n_a x n_b), exact.
    With more rows than dimensions the dim x dim covariances are the cheaper route."""
    if max(len(a.root), len(b.root)) > a.root.shape[1]:
        return fd_moments(a.mean, a.root.T @ a.root, b.mean, b.root.T @ b.root)
    mean_term = float(((a.mean - b.mean) ** 2).sum())
    cross = nuclear_norm_of_product(a.root.T, b.root.T)
    trace_term = float((a.root**2).sum() + (b.root**2).sum() - 2.0 * cross)
    trace_term = max(trace_term, 0.0)  # rounding below zero only (the term is >= 0)
    return FDTerms(mean_term + trace_term, mean_term, trace_term)


def fd_moments(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> FDTerms:
    r = frechet_distance(mu1, s1, mu2, s2)
    return FDTerms(float(r.value), float(r.mean_term), float(r.trace_term))


def fd_features(
    x: np.ndarray, y: np.ndarray, wx: np.ndarray | None = None, wy: np.ndarray | None = None
) -> FDTerms:
    """FD between two feature sets given as arrays [N, dim] (optional row weights).

    Unweighted sets go through ``frechet_distance_features`` (the metrics' default route, exact
    SVD when N <= dim), so values match the sweep's FDs on the same rows.
    """
    if wx is None and wy is None:
        r = frechet_distance_features(x, y)
        return FDTerms(float(r.value), float(r.mean_term), float(r.trace_term))
    return fd_moments(*moments(x, wx), *moments(y, wy))


@contextmanager
def equal_n_sets() -> Iterator[None]:
    """Silence the rank-deficiency warning in loops that compare sets of one fixed size
    (permutations, bootstrap replicates): FDs at equal n are comparable, as it advises."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
        yield


__all__ = [
    "FDTerms",
    "RowFactor",
    "equal_n_sets",
    "fd_factors",
    "fd_features",
    "fd_moments",
    "moments",
    "row_factor",
]
