"""Bias-corrected Fréchet-distance estimates: the unbiased mean term and FD-infinity.

The plug-in FD of n samples per set overestimates the FD of the populations: even two samples
of one distribution give FD > 0 (the finite-sample floor), and the floor grows with the
dimension. Two corrections:

- ``unbiased_mean_term``: E ||mean_A - mean_B||^2 = ||mu_A - mu_B||^2 + tr Cov(mean_A - mean_B),
  so subtracting an unbiased estimate of the second term gives an unbiased estimate of the
  population mean term. Independent sets: ||x_bar - y_bar||^2 - tr(S_x)/n_x - tr(S_y)/n_y.
  Matched pairs (row i of y is the twin of row i of x, as in the counterfactual sets):
  ||d_bar||^2 - tr(S_d)/n with d_i = y_i - x_i, the U-statistic
  sum_{i != j} d_i . d_j / (n (n - 1)); the independent-sets formula would over-correct,
  because twins are correlated with their bases.
- ``fd_infinity`` (Chong & Forsyth, "Effectively unbiased FID and Inception Score and where to
  find them", CVPR 2020): FD at several set sizes n, a least-squares line in 1/n, and its
  intercept at 1/n -> 0. The 1/n law is the leading term of the bias when n is large against
  the dimension; with fewer samples than dimensions it is only an approximation, so the slope
  and the fitted points are returned with the intercept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ._checks import as_features, same_dim


def unbiased_mean_term(x: np.ndarray, y: np.ndarray, paired: bool = False) -> float:
    """Unbiased estimate of ||mu_x - mu_y||^2 (see the module docstring); may be negative."""
    x, y = as_features(x, "x", 2), as_features(y, "y", 2)
    same_dim(x, y, "x", "y")
    if paired:
        if x.shape != y.shape:
            raise ValueError(f"paired sets need equal shapes, got {x.shape} and {y.shape}")
        d = y - x
        n = d.shape[0]
        total = d.sum(axis=0)
        return float((total @ total - np.einsum("ij,ij->", d, d)) / (n * (n - 1.0)))
    diff = x.mean(axis=0) - y.mean(axis=0)
    tr_x = float(np.var(x, axis=0, ddof=1).sum())
    tr_y = float(np.var(y, axis=0, ddof=1).sum())
    return float(diff @ diff - tr_x / x.shape[0] - tr_y / y.shape[0])


@dataclass(frozen=True)
class FDInfinity:
    """FD extrapolated to infinitely many samples: ``value`` = intercept of FD = a + b / n."""

    value: float
    slope: float
    sizes: np.ndarray
    fd: np.ndarray  # mean FD at each size
    reps: int

    def __float__(self) -> float:
        return self.value


def default_sizes(n: int, count: int = 5, smallest: float = 0.5) -> np.ndarray:
    """``count`` set sizes evenly spaced from ``smallest`` * n to n (Chong & Forsyth space
    them evenly in n), each at least 2."""
    sizes = np.unique(np.round(np.linspace(smallest * n, n, count)).astype(int))
    sizes = sizes[sizes >= 2]
    if sizes.size < 2:
        raise ValueError(f"FD-infinity needs at least two set sizes >= 2, got n = {n}")
    return sizes


def fd_infinity(
    fd_at: Callable[[int, np.random.Generator], float],
    n: int,
    sizes: Sequence[int] | np.ndarray | None = None,
    reps: int = 3,
    seed: int = 0,
) -> FDInfinity:
    """FD-infinity from ``fd_at(size, rng)``, the FD of a random subset of ``size`` of the n
    available samples (e.g. matched pairs). ``reps`` subsets per size below n (one at n)."""
    grid = default_sizes(n) if sizes is None else np.asarray(sorted(set(int(s) for s in sizes)))
    if grid.size < 2 or grid.min() < 2 or grid.max() > n:
        raise ValueError(f"FD-infinity needs at least two sizes in [2, {n}], got {list(grid)}")
    if int(reps) < 1:
        raise ValueError(f"reps must be >= 1, got {reps}")
    rng = np.random.default_rng(seed)
    means = np.array(
        [np.mean([fd_at(int(s), rng) for _ in range(1 if s == n else int(reps))]) for s in grid]
    )
    slope, intercept = np.polyfit(1.0 / grid, means, 1)
    return FDInfinity(float(intercept), float(slope), grid.astype(int), means, int(reps))


__all__ = ["FDInfinity", "default_sizes", "fd_infinity", "unbiased_mean_term"]
