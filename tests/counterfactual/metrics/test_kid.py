"""KID: against a brute-force unbiased MMD^2, sign behaviour and seeding."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from counterfactual.metrics import kid


def brute_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 (Gretton et al. 2012, eq. 3 with the cross term over all pairs), looped."""
    d, m = x.shape[1], x.shape[0]

    def k(a, b):
        return (sum(float(ai) * float(bi) for ai, bi in zip(a, b)) / d + 1.0) ** 3

    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_matches_brute_force():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((7, 3)), rng.standard_normal((7, 3)) + 0.4
    # One subset of all rows: a permutation, to which MMD^2 is invariant.
    res = kid(x, y, num_subsets=1, max_subset_size=100, seed=0)
    assert res.subset_size == 7
    assert res.mean == pytest.approx(brute_mmd2(x, y), rel=1e-12)
    # Several subsets: each value is the brute-force MMD^2 of some 5-row subsets.
    res = kid(x, y, num_subsets=4, max_subset_size=5, seed=1)
    assert res.values.shape == (4,) and res.subset_size == 5
    assert res.mean == pytest.approx(res.values.mean()) and res.std == pytest.approx(
        res.values.std(ddof=1)
    )


def test_identical_near_zero_shifted_positive():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((300, 16)), rng.standard_normal((300, 16))
    same = kid(x, y, num_subsets=20, max_subset_size=100, seed=0)
    shifted = kid(x, y + 0.5, num_subsets=20, max_subset_size=100, seed=0)
    assert abs(same.mean) < 4 * same.std / np.sqrt(20) + 1e-3
    assert (same.values < 0).any()  # unbiased: individual estimates straddle zero
    assert shifted.mean > 10 * abs(same.mean) and shifted.mean > 5 * shifted.std / np.sqrt(20)
    assert float(shifted) == shifted.mean


def test_seeded_and_validated():
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((50, 4)), rng.standard_normal((60, 4))
    a, b = kid(x, y, num_subsets=5, max_subset_size=20, seed=9), kid(x, y, 5, 20, seed=9)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values, kid(x, y, 5, 20, seed=10).values)
    with pytest.raises(ValueError, match="dimensions differ"):
        kid(x, np.ones((5, 3)))
    with pytest.raises(ValueError, match="at least 2"):
        kid(x, y, max_subset_size=1)
