"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD^2, cubic polynomial kernel.

k(a, b) = (a . b / d + 1)^3. For each of ``num_subsets`` random subsets of m rows from x and
from y (drawn without replacement, m = min(n_x, n_y, max_subset_size)):
MMD^2_u = sum_{i != j} [k(x_i, x_j) + k(y_i, y_j)] / (m (m - 1)) - 2 sum_{i, j} k(x_i, y_j) / m^2.
The estimate is unbiased, so it can be slightly negative when the distributions agree.
Only the subsets' rows are read (and converted to float64): x and y may be memory-mapped
files or `Rows` views (bootstrap resamples) of any size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._checks import same_dim
from .rows import as_rows


@dataclass(frozen=True, eq=False)
class KIDResult:
    """Mean and standard deviation (ddof=1) of MMD^2 over subsets; ``float()`` is ``mean``."""

    mean: float
    std: float
    values: np.ndarray = field(repr=False)
    subset_size: int
    num_subsets: int
    seed: int

    def __float__(self) -> float:
        return self.mean


def polynomial_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(a b^T / d + 1)^3 for row sets a [n, d], b [m, d]."""
    k: np.ndarray = (a @ b.T / a.shape[1] + 1.0) ** 3
    return k


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 between two equally sized float64 row sets with the cubic kernel."""
    m = x.shape[0]
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2.0 * kxy.sum() / (m * m))


def kid(
    x: Any, y: Any, num_subsets: int = 100, max_subset_size: int = 1000, seed: int = 0
) -> KIDResult:
    """KID between feature sets x [n_x, d] and y [n_y, d] (float64, seeded subsets)."""
    xa, ya = as_rows(x, "x", 2), as_rows(y, "y", 2)
    same_dim(xa, ya, "x", "y")
    if int(num_subsets) < 1:
        raise ValueError(f"kid: num_subsets must be >= 1, got {num_subsets}")
    m = min(xa.shape[0], ya.shape[0], int(max_subset_size))
    if m < 2:
        raise ValueError(f"kid: subsets need at least 2 rows (max_subset_size={max_subset_size})")
    rng = np.random.default_rng(seed)
    vals = np.empty(int(num_subsets))
    for i in range(vals.size):
        ix = rng.choice(xa.shape[0], m, replace=False)
        iy = rng.choice(ya.shape[0], m, replace=False)
        vals[i] = mmd2_unbiased(xa.gather(ix), ya.gather(iy))
    std = float(vals.std(ddof=1)) if vals.size > 1 else float("nan")
    return KIDResult(
        mean=float(vals.mean()),
        std=std,
        values=vals,
        subset_size=m,
        num_subsets=vals.size,
        seed=int(seed),
    )
