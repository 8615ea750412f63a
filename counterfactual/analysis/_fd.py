"""Fréchet distances of feature sets for the analysis layer (moments in float64, FD from metrics).

Moments use the same convention as ``np.cov`` (ddof=1; with weights, ``aweights``), which reduces
to the unweighted sample covariance when all weights are equal.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Iterator, NamedTuple

import numpy as np

from counterfactual.metrics import (RankDeficientCovarianceWarning, frechet_distance,
                                    frechet_distance_features)


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


class RowFactor(NamedTuple):
    """A set's (weighted) mean and a row factor R with R.T @ R = its covariance (``moments``'
    convention). With few rows (n <= dim) FDs from factors avoid every dim x dim matrix."""

    mean: np.ndarray
    root: np.ndarray


def row_factor(x: np.ndarray, weights: np.ndarray | None = None) -> RowFactor:
    """Mean and covariance factor of rows of ``x``, matching ``moments(x, weights)`` exactly."""
    x = np.asarray(x, dtype=np.float64)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    v1 = w.sum()
    norm = v1 - (w * w).sum() / v1          # np.cov's aweights normaliser (n - 1 when unweighted)
    mu = (w[:, None] * x).sum(axis=0) / v1
    return RowFactor(mu, np.sqrt(w / norm)[:, None] * (x - mu))


def fd_factors(a: RowFactor, b: RowFactor) -> FDTerms:
    """FD from row factors: tr sqrt(S1 S2) is the nuclear norm of Ra Rb^T (n_a x n_b), exact.
    With more rows than dimensions the dim x dim covariances are the cheaper route."""
    if max(len(a.root), len(b.root)) > a.root.shape[1]:
        return fd_moments(a.mean, a.root.T @ a.root, b.mean, b.root.T @ b.root)
    mean_term = float(((a.mean - b.mean) ** 2).sum())
    cross = float(np.linalg.svd(a.root @ b.root.T, compute_uv=False).sum())
    trace_term = float((a.root ** 2).sum() + (b.root ** 2).sum() - 2.0 * cross)
    trace_term = max(trace_term, 0.0)       # rounding below zero only (the term is >= 0)
    return FDTerms(mean_term + trace_term, mean_term, trace_term)


def fd_moments(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> FDTerms:
    r = frechet_distance(mu1, s1, mu2, s2)
    return FDTerms(float(r.value), float(r.mean_term), float(r.trace_term))


def fd_features(x: np.ndarray, y: np.ndarray, wx: np.ndarray | None = None,
                wy: np.ndarray | None = None) -> FDTerms:
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
