"""Lossless reduction of two feature sets to the affine span of their rows (float64).

Every mean and covariance of (weighted, resampled) rows of either set lies in the affine span
of all their rows, and FD (like every distance of the metrics that is invariant to
translations and rotations) depends on the rows only through these, so expressing both sets
in an orthonormal basis of that span leaves every such FD unchanged while the dimension falls
to at most n_x + n_y - 1. This keeps resampling affordable in 2048-d spaces.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_features, same_dim


def span_coordinates(
    x: np.ndarray, y: np.ndarray, rtol: float = 1e-10
) -> tuple[np.ndarray, np.ndarray]:
    """Both feature sets in an orthonormal basis of the affine span of all their rows.

    Returns (x', y') with n_x + n_y - 1 or fewer columns (directions whose singular value of
    the centred rows is below ``rtol`` times the largest are numerically empty and dropped);
    the inputs as float64 when no reduction is possible (n_x + n_y - 1 >= dim).
    """
    a, b = as_features(x, "x"), as_features(y, "y")
    same_dim(a, b, "x", "y")
    both = np.vstack([a, b])
    centred = both - both.mean(axis=0)
    if centred.shape[0] - 1 >= centred.shape[1]:
        return a, b  # no reduction possible
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    keep = s > rtol * (s[0] if s.size and s[0] > 0 else 1.0)
    coords = centred @ vt[keep].T
    return coords[: len(a)], coords[len(a) :]


__all__ = ["span_coordinates"]
