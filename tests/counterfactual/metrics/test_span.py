"""`metrics.span_coordinates`: a lossless reduction (every FD of weighted or resampled rows is
unchanged) to at most n_x + n_y - 1 dimensions."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg

from counterfactual.metrics import (
    RankDeficientCovarianceWarning,
    fd_features,
    frechet_distance_features,
    span_coordinates,
)


def test_fds_of_resampled_and_weighted_rows_are_unchanged():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((15, 200)) + 1.0
    y = rng.standard_normal((10, 200)) * 1.3
    xs, ys = span_coordinates(x, y)
    assert xs.shape == (15, 24) and ys.shape == (10, 24)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
        for idx in (np.arange(15), rng.integers(0, 15, 15)):
            full = float(frechet_distance_features(x[idx], y))
            assert float(frechet_distance_features(xs[idx], ys)) == pytest.approx(full, rel=1e-10)
        w = rng.uniform(0.5, 2.0, 15)
        assert fd_features(xs, ys, wx=w).value == pytest.approx(
            fd_features(x, y, wx=w).value, rel=1e-9
        )
    # in the reduced space (full-rank covariances) the sqrtm closed form applies directly
    s1, s2 = np.cov(xs[:, :8], rowvar=False), np.cov(ys[:, :8], rowvar=False)
    diff = xs[:, :8].mean(0) - ys[:, :8].mean(0)
    closed = diff @ diff + np.trace(s1 + s2 - 2 * np.real(scipy.linalg.sqrtm(s1 @ s2)))
    assert float(frechet_distance_features(xs[:, :8], ys[:, :8])) == pytest.approx(closed, rel=1e-9)


def test_distances_between_rows_are_kept_and_empty_directions_dropped():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 3)) @ rng.standard_normal((3, 50))  # rank-3 span
    y = rng.standard_normal((5, 3)) @ rng.standard_normal((3, 50)) * 0.0 + x[:5]
    xs, ys = span_coordinates(x, y)
    assert xs.shape[1] == 3
    both, red = np.vstack([x, y]), np.vstack([xs, ys])
    d_full = np.linalg.norm(both[:, None] - both[None], axis=2)
    np.testing.assert_allclose(np.linalg.norm(red[:, None] - red[None], axis=2), d_full, atol=1e-10)


def test_no_reduction_when_the_rows_span_every_dimension():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((20, 8)), rng.standard_normal((20, 8)).astype(np.float32)
    xs, ys = span_coordinates(x, y)
    assert xs is x and ys.dtype == np.float64 and np.array_equal(ys, y)
    with pytest.raises(ValueError, match="feature dimensions differ"):
        span_coordinates(x, y[:, :3])
