"""Precision/recall and density/coverage: hand-computed cases, extremes, a brute-force twin."""

from __future__ import annotations

import numpy as np
import pytest

from counterfactual.metrics import density_coverage, knn_radii, precision_recall


def col(*v: float) -> np.ndarray:
    return np.asarray(v, dtype=float)[:, None]


def brute(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float, float, float]:
    """Direct definitions with explicit loops (closed balls, self excluded)."""

    def radii(s):
        return [
            sorted(np.linalg.norm(s[i] - s[j]) for j in range(len(s)) if j != i)[k - 1]
            for i in range(len(s))
        ]

    rr, fr = radii(real), radii(fake)
    dist = np.array([[np.linalg.norm(r - f) for f in fake] for r in real])
    precision = np.mean(
        [any(dist[i, j] <= rr[i] for i in range(len(real))) for j in range(len(fake))]
    )
    recall = np.mean([any(dist[i, j] <= fr[j] for j in range(len(fake))) for i in range(len(real))])
    density = sum(dist[i, j] <= rr[i] for i in range(len(real)) for j in range(len(fake))) / (
        k * len(fake)
    )
    coverage = np.mean([dist[i].min() <= rr[i] for i in range(len(real))])
    return precision, recall, density, coverage


def test_hand_computed_1d():
    real, fake = col(0, 1, 2, 3, 10), col(0.5, 5, 6, 40, 41)
    # k=1 radii: real [1, 1, 1, 1, 7]; fake [4.5, 1, 1, 1, 1].
    np.testing.assert_allclose(knn_radii(real, 1), [1, 1, 1, 1, 7])
    np.testing.assert_allclose(knn_radii(fake, 1), [4.5, 1, 1, 1, 1])
    pr = precision_recall(real, fake, k=1)
    # fakes 0.5 (ball of 0), 5 and 6 (ball of 10) are inside; 40 and 41 are not.
    assert pr.precision == pytest.approx(3 / 5)
    # reals 0..3 lie in the ball of fake 0.5; real 10 lies in no fake ball.
    assert pr.recall == pytest.approx(4 / 5)
    dc = density_coverage(real, fake, k=1)
    # 0.5 is in the balls of 0 and 1; 5 and 6 in the ball of 10: 4 memberships / (1 * 5).
    assert dc.density == pytest.approx(4 / 5)
    # nearest fakes: 0->0.5 ok, 1->0.5 ok, 2->0.5 (1.5 > 1), 3->5 (2 > 1), 10->6 (4 <= 7).
    assert dc.coverage == pytest.approx(3 / 5)
    assert (pr.k, pr.n_real, pr.n_fake) == (1, 5, 5)


def test_ball_boundary_is_inside():
    pr = precision_recall(col(0, 2), col(4, 9), k=1)  # |4 - 2| == radius 2
    assert pr.precision == 0.5


def test_identical_and_disjoint_sets():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 5))
    pr = precision_recall(x, x.copy(), k=3)
    assert pr.precision == 1.0 and pr.recall == 1.0
    assert density_coverage(x, x.copy(), k=5).coverage == 1.0
    far = x + 1000.0
    pr = precision_recall(x, far, k=3)
    dc = density_coverage(x, far, k=5)
    assert (pr.precision, pr.recall, dc.density, dc.coverage) == (0.0, 0.0, 0.0, 0.0)


def test_matches_brute_force_and_block_size():
    rng = np.random.default_rng(1)
    real, fake = rng.standard_normal((40, 3)), rng.standard_normal((30, 3)) * 1.3 + 0.3
    for k in (1, 3, 5):
        p, r, d, c = brute(real, fake, k)
        pr = precision_recall(real, fake, k=k)
        dc = density_coverage(real, fake, k=k)
        tiny = precision_recall(real, fake, k=k, block_bytes=1)  # one row per block
        assert (pr.precision, pr.recall) == pytest.approx((p, r))
        assert (tiny.precision, tiny.recall) == (pr.precision, pr.recall)
        assert (dc.density, dc.coverage) == pytest.approx((d, c))
        tiny_dc = density_coverage(real, fake, k=k, block_bytes=64)
        assert (tiny_dc.density, tiny_dc.coverage) == (dc.density, dc.coverage)


def test_duplicates_count_as_neighbours_and_errors():
    # Self is excluded by index, so a duplicate is a neighbour at distance 0.
    np.testing.assert_array_equal(knn_radii(col(1, 1, 5), 1), [0, 0, 4])
    with pytest.raises(ValueError, match="k must be between 1 and n - 1"):
        precision_recall(col(0, 1, 2), col(0, 1, 2), k=3)
    with pytest.raises(ValueError, match="dimensions differ"):
        density_coverage(np.zeros((4, 2)), np.zeros((4, 3)))
