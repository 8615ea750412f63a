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
