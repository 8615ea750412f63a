"""Input validation shared by the metrics: one clear error per bad input."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


def as_float64(x: Any, name: str, ndim: int) -> np.ndarray:
    """Return ``x`` as a float64 array with ``ndim`` dimensions, all entries finite.

    Raises ``ValueError`` naming ``name`` and the problem (shape, dtype, non-finite count).
    """
    arr = np.asarray(x)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating)
        or np.issubdtype(arr.dtype, np.integer)
        or arr.dtype == np.bool_
    ):
        raise ValueError(f"{name}: expected a real numeric array, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {arr.shape}")
    arr = arr.astype(np.float64, copy=False)
    check_finite(arr, name)
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` if ``arr`` holds NaN or infinity."""
    if not np.isfinite(arr).all():
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name}: {bad} non-finite value(s) (NaN or inf)")


def as_features(x: Any, name: str, min_rows: int = 1) -> np.ndarray:
    """A float64 feature matrix [n, d] with at least ``min_rows`` rows and d >= 1."""
    arr = as_float64(x, name, 2)
    if arr.shape[0] < min_rows or arr.shape[1] < 1:
        raise ValueError(
            f"{name}: need at least {min_rows} row(s) and 1 column, got shape {arr.shape}"
        )
    return arr


class Shaped(Protocol):
    """A 2-D feature matrix as the checks see it: an array or a `Rows` view."""

    @property
    def shape(self) -> tuple[int, ...]: ...


def same_dim(x: Shaped, y: Shaped, xname: str, yname: str) -> int:
    """Check that two feature matrices have the same number of columns; return it."""
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"feature dimensions differ: {xname} has shape {x.shape}, {yname} has {y.shape}"
        )
    return int(x.shape[1])


def as_mean_cov(mu: Any, sigma: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate a mean vector [d] and a symmetric covariance [d, d] (float64 copies).

    The covariance is symmetrised; asymmetry above 1e-6 relative is an error.
    """
    m = as_float64(mu, f"mu{name}", 1)
    s = as_float64(sigma, f"sigma{name}", 2)
    d = m.shape[0]
    if d < 1:
        raise ValueError(f"mu{name}: empty mean vector")
    if s.shape != (d, d):
        raise ValueError(
            f"sigma{name}: expected shape ({d}, {d}) to match mu{name} of "
            f"shape {m.shape}, got {s.shape}"
        )
    scale = float(np.abs(s).max())
    asym = float(np.abs(s - s.T).max())
    if asym > 1e-6 * scale:
        raise ValueError(
            f"sigma{name}: not symmetric (max |S - S^T| = {asym:.3g}, max |S| = {scale:.3g})"
        )
    return m, (s + s.T) * 0.5
