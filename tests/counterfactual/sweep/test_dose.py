"""Dose-response set construction and the batched FD routes against independent references."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from counterfactual.sweep.dose import dose_response, n_swapped, plan_draws

DELTAS = [round(0.05 * i, 10) for i in range(21)]


def _scipy_fd(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Textbook FD with scipy's sqrtm (the pytorch-fid formula), independent of our code."""
    mx, my = x.mean(0), y.mean(0)
    sx, sy = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(sx @ sy).real
    mean_term = float(((mx - my) ** 2).sum())
    trace_term = float(np.trace(sx) + np.trace(sy) - 2 * np.trace(covmean))
    return mean_term + trace_term, mean_term, trace_term


@pytest.mark.parametrize("n_pairs", [10, 16, 40])
def test_sets_have_exact_counterfactual_fractions(n_pairs):
    m = 50
    for d in plan_draws(m, n_pairs, DELTAS, draws=3, seed=1):
        a, b = d.rows(m)
        twin_a, twin_b = int((a >= m).sum()), int((b >= m).sum())
        # A holds round(N (1 - delta) / 2) twins, B the rest: fractions (1 -/+ delta) / 2
        assert twin_a == int(np.floor(n_pairs * (1 - d.delta) / 2 + 0.5))
        assert twin_a + twin_b == n_pairs
        assert abs(twin_a / n_pairs - (1 - d.delta) / 2) <= 0.5 / n_pairs + 1e-12
        assert abs(twin_b / n_pairs - (1 + d.delta) / 2) <= 0.5 / n_pairs + 1e-12
        # each pair sends exactly one member to A and its partner to B
        assert sorted(a % m) == sorted(b % m) == sorted(d.pairs)
        assert len(set(d.pairs)) == n_pairs
        np.testing.assert_array_equal(
            np.sort(np.concatenate([a, b])), np.sort(np.concatenate([d.pairs, d.pairs + m]))
        )
        if d.delta == 0.0:  # equal composition
            assert twin_a == twin_b == n_pairs // 2
        if d.delta == 1.0:  # A is all base, B all twins
            assert twin_a == 0 and twin_b == n_pairs


def test_exact_fractions_where_the_grid_allows_it():
    # N = 20: (1 - delta) / 2 * N is an integer for every 0.1 step
    for d in plan_draws(30, 20, [0.0, 0.1, 0.3, 0.7, 1.0], draws=2, seed=0):
        a, b = d.rows(30)
        assert (a >= 30).sum() / 20 == pytest.approx((1 - d.delta) / 2, abs=1e-12)
        assert (b >= 30).sum() / 20 == pytest.approx((1 + d.delta) / 2, abs=1e-12)


def test_draws_are_seeded_and_distinct():
    one = plan_draws(40, 10, [0.0, 0.5], draws=4, seed=3)
    two = plan_draws(40, 10, [0.0, 0.5], draws=4, seed=3)
    assert all(np.array_equal(x.pairs, y.pairs) for x, y in zip(one, two))
    assert len({tuple(d.pairs) for d in one}) == len(one)  # every draw its own pairs
    other = plan_draws(40, 10, [0.0, 0.5], draws=4, seed=4)
    assert not all(np.array_equal(x.pairs, y.pairs) for x, y in zip(one, other))
    with pytest.raises(ValueError, match="pairs per draw"):
        plan_draws(5, 6, [0.0], 1, 0)
    with pytest.raises(ValueError, match="delta"):
        n_swapped(10, 1.5)


@pytest.mark.parametrize("dim, n_pairs", [(64, 20), (8, 30)])  # gram route (N <= d), cov route
def test_batched_fd_matches_scipy_and_metrics(dim, n_pairs):
    rng = np.random.default_rng(dim)
    m = 40
    scale = np.linspace(0.2, 2.0, dim)
    base = rng.normal(size=(m, dim)) * scale + 3.0
    twin = base + rng.normal(size=(m, dim)) * 0.4 + np.linspace(0, 0.5, dim)
    draws = plan_draws(m, n_pairs, [0.0, 0.35, 1.0], draws=2, seed=5)
    fast = dose_response(base, twin, draws)
    assert fast.route == ("gram" if n_pairs <= dim else "cov")
    other = dose_response(base, twin, draws, method="cov" if fast.route == "gram" else "gram")
    reference = dose_response(base, twin, draws, method="metrics")
    pool = np.concatenate([base, twin])
    for i, d in enumerate(draws):
        a, b = d.rows(m)
        fd, mean_term, trace_term = _scipy_fd(pool[a], pool[b])
        tol = 1e-6 if n_pairs <= dim else 1e-9  # sqrtm itself is inexact when singular
        assert fast.fd[i] == pytest.approx(fd, rel=tol)
        assert fast.mean_term[i] == pytest.approx(mean_term, rel=1e-9, abs=1e-12)
        assert fast.trace_term[i] == pytest.approx(trace_term, rel=tol)
    np.testing.assert_allclose(fast.fd, reference.fd, rtol=1e-9)
    np.testing.assert_allclose(fast.trace_term, reference.trace_term, rtol=1e-9)
    np.testing.assert_allclose(fast.fd, other.fd, rtol=1e-7)
    np.testing.assert_allclose(fast.fd, fast.mean_term + fast.trace_term, rtol=1e-12)


def test_fd_invariances_and_dose_direction():
    rng = np.random.default_rng(0)
    m, dim = 60, 24
    base = rng.normal(size=(m, dim))
    twin = base + 1.5  # a pure mean shift of every twin
    draws = plan_draws(m, 40, [0.0, 0.5, 1.0], draws=3, seed=0)
    res = dose_response(base, twin, draws)
    # translating both sets and rotating the feature space leaves FD unchanged
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    moved = dose_response(base @ q + 7.0, twin @ q + 7.0, draws)
    np.testing.assert_allclose(res.fd, moved.fd, rtol=1e-9)
    # a pure shift: at delta = 1 the sets are base vs base + 1.5 -> mean term = 1.5^2 * dim
    at_one = [i for i, d in enumerate(draws) if d.delta == 1.0]
    np.testing.assert_allclose(res.mean_term[at_one], 1.5**2 * dim, rtol=1e-9)
    np.testing.assert_allclose(res.trace_term[at_one], 0.0, atol=1e-9)
    # mean term grows as delta^2: |mu_A - mu_B| = delta * 1.5 per dimension
    at_half = [i for i, d in enumerate(draws) if d.delta == 0.5]
    np.testing.assert_allclose(res.mean_term[at_half], (0.5 * 1.5) ** 2 * dim, rtol=1e-9)
    at_zero = [i for i, d in enumerate(draws) if d.delta == 0.0]
    np.testing.assert_allclose(res.mean_term[at_zero], 0.0, atol=1e-20)


def test_region_full_set_fd_matches_metrics():
    from counterfactual.metrics import FeatureStats, frechet_distance
    from counterfactual.sweep.region import full_fd, region_rows

    rng = np.random.default_rng(2)
    base = rng.normal(size=(30, 50))
    region = base + rng.normal(size=(30, 50)) * 0.3
    full = base + rng.normal(size=(30, 50)) * 1.0
    with pytest.warns(UserWarning):  # n < d: metrics warns, we do not
        ref = frechet_distance(
            FeatureStats.from_features(base, keep_features=True),
            FeatureStats.from_features(region, keep_features=True),
        )
    fd, mean_term, trace_term = full_fd(base, region)
    assert fd == pytest.approx(ref.value, rel=1e-9)
    assert mean_term == pytest.approx(ref.mean_term, rel=1e-9)
    assert trace_term == pytest.approx(ref.trace_term, rel=1e-9)
    [row] = region_rows(
        base,
        full,
        {"blur:eyes": region},
        {"blur:eyes": "blur:eyes"},
        "blur:",
        n_pairs=20,
        draws=4,
        seed=0,
    )
    assert row["region"] == "eyes" and row["n_pairs"] == 30
    assert row["normalised"] == pytest.approx(ref.value / full_fd(base, full)[0], rel=1e-12)
    assert 0 < row["normalised"] < 1 and row["normalised_draw_sd"] > 0


def test_gram_route_without_the_pool_gram_matrix(monkeypatch):
    """Large pools skip the pool Gram matrix and multiply gathered features per draw."""
    from counterfactual.metrics import fd_batch

    rng = np.random.default_rng(4)
    base = rng.normal(size=(30, 40))
    twin = base + rng.normal(size=(30, 40)) * 0.5
    draws = plan_draws(30, 12, [0.0, 0.6, 1.0], draws=2, seed=1)
    with_gram = dose_response(base, twin, draws)
    monkeypatch.setattr(fd_batch, "_GRAM_BYTES", 0)
    monkeypatch.setattr(fd_batch, "_CHUNK_BYTES", 1)  # and one draw per chunk
    without = dose_response(base, twin, draws)
    assert with_gram.route == without.route == "gram"
    np.testing.assert_allclose(without.fd, with_gram.fd, rtol=1e-10)
    np.testing.assert_allclose(without.mean_term, with_gram.mean_term, rtol=1e-10, atol=1e-14)
