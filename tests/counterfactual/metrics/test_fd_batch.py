"""The one batched FD (`counterfactual.metrics.fd_batch`): every entry point and route against
an independent closed form (scipy.linalg.sqrtm on the explicitly listed rows) and against the
single-pair metrics FD."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg

from counterfactual.metrics import (
    RankDeficientCovarianceWarning,
    frechet_distance_features,
)
from counterfactual.metrics import fd_batch as fb


def sqrtm_fd(x: np.ndarray, y: np.ndarray) -> float:
    """pytorch-fid's formula on the rows as listed (independent reference)."""
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    diff = x.mean(0) - y.mean(0)
    cross = np.trace(scipy.linalg.sqrtm(s1 @ s2)).real
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * cross)


def metrics_fd(x: np.ndarray, y: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
        return float(frechet_distance_features(x, y))


@pytest.fixture
def pool() -> np.ndarray:
    rng = np.random.default_rng(7)
    d = 12
    return rng.standard_normal((90, d)) @ (np.eye(d) + rng.standard_normal((d, d)) / 4) + 5.0


def _explicit(pool: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.repeat(pool, w.astype(int), axis=0)


@pytest.mark.parametrize("route", ["gram", "cov"])
def test_weighted_sets_match_sqrtm_on_the_duplicated_rows(pool, route):
    """Integer row weights (0 = left out, k = k copies) give the FD of the explicit sets."""
    rng = np.random.default_rng(1)
    wa = rng.multinomial(60, np.full(len(pool), 1 / len(pool)), size=4)
    wb = rng.integers(0, 2, size=(4, len(pool)))
    res = fb.PooledFD(pool, route=route).many(wa, wb)
    assert res.route == route
    for k in range(4):
        a, b = _explicit(pool, wa[k]), _explicit(pool, wb[k])
        assert res.fd[k] == pytest.approx(sqrtm_fd(a, b), rel=1e-9)
        assert res.fd[k] == pytest.approx(metrics_fd(a, b), rel=1e-10)
        diff = a.mean(0) - b.mean(0)
        assert res.mean_term[k] == pytest.approx(diff @ diff, rel=1e-10)
        assert res.fd[k] == res.mean_term[k] + res.trace_term[k]


def test_gram_route_is_exact_with_fewer_rows_than_dimensions():
    """n <= d (rank-deficient covariances): the gram route equals the metrics' exact SVD route
    and the float64 sqrtm closed form as far as sqrtm resolves it."""
    rng = np.random.default_rng(2)
    pool = rng.standard_normal((60, 40)) + 1.0
    rows_a = np.stack([rng.choice(60, 15, replace=False) for _ in range(6)])
    rows_b = np.stack([rng.choice(60, 15, replace=False) for _ in range(6)])
    res = fb.frechet_distance_batch(pool, rows_a, rows_b)
    assert res.route == "gram"
    for k in range(6):
        a, b = pool[rows_a[k]], pool[rows_b[k]]
        assert res.fd[k] == pytest.approx(metrics_fd(a, b), rel=1e-11)
        assert res.fd[k] == pytest.approx(sqrtm_fd(a, b), rel=1e-5)


def test_routes_index_and_weight_forms_and_chunking_agree(pool, monkeypatch):
    rng = np.random.default_rng(3)
    rows_a = np.stack([rng.choice(len(pool), 20, replace=True) for _ in range(7)])
    rows_b = np.stack([rng.choice(len(pool), 20, replace=False) for _ in range(7)])
    gram = fb.frechet_distance_batch(pool, rows_a, rows_b, "gram")
    cov = fb.frechet_distance_batch(pool, rows_a, rows_b, "cov")
    np.testing.assert_allclose(gram.fd, cov.fd, rtol=1e-10)
    # a row listed twice in the index form is weight 2 in the weight form
    wa = np.stack([np.bincount(r, minlength=len(pool)) for r in rows_a])
    wb = np.stack([np.bincount(r, minlength=len(pool)) for r in rows_b])
    weighted = fb.PooledFD(pool, route="gram").many(wa, wb)
    np.testing.assert_allclose(weighted.fd, gram.fd, rtol=1e-12)
    # one pair per chunk, no pool Gram matrix, one row per covariance chunk: same numbers
    monkeypatch.setattr(fb, "_GRAM_BYTES", 0)
    monkeypatch.setattr(fb, "_CHUNK_BYTES", 1)
    for route, ref in (("gram", gram), ("cov", cov)):
        small = fb.frechet_distance_batch(pool, rows_a, rows_b, route)
        np.testing.assert_allclose(small.fd, ref.fd, rtol=1e-12)
        np.testing.assert_allclose(small.mean_term, ref.mean_term, rtol=1e-12)


def test_pair_pool_describes_sets_per_pair(pool):
    base, twin = pool[:45], pool[45:] * 0.9 + 0.2
    pp = fb.PairPool(base, twin)
    counts = np.ones((2, 45), int)
    counts[1, :5] = 0
    k = np.zeros_like(counts)
    k[:, 10:20] = counts[:, 10:20]
    res = pp.evaluate(counts, k)
    for j in range(2):
        keep = counts[j] > 0
        swap = k[j] > 0
        a = np.where(swap[:, None], twin, base)[keep]
        b = np.where(swap[:, None], base, twin)[keep]
        assert res.fd[j] == pytest.approx(sqrtm_fd(a, b), rel=1e-9)
    whole = fb.frechet_distance_matched(base, twin)
    assert whole.fd[0] == pytest.approx(sqrtm_fd(base, twin), rel=1e-9)
    assert whole.fd[0] == pytest.approx(pp.separated().fd[0], rel=1e-14)
    assert fb.PairPool(base.astype(np.float32), twin).pool.dtype == np.float64


def test_the_callers_pool_is_left_alone_unless_it_may_be_overwritten(pool):
    kept = pool.copy()
    fb.frechet_distance_batch(pool, np.arange(10)[None], np.arange(10, 20)[None])
    np.testing.assert_array_equal(pool, kept)
    fb.frechet_distance_batch(
        pool, np.arange(10)[None], np.arange(10, 20)[None], overwrite_pool=True
    )
    assert np.abs(pool.mean(0)).max() < 1e-12  # centred in place


def test_bad_inputs_raise_clearly(pool):
    p = fb.PooledFD(pool)
    with pytest.raises(ValueError, match="at least 2 rows"):
        p.many(np.eye(len(pool))[:1], np.ones((1, len(pool))))
    with pytest.raises(ValueError, match="non-negative"):
        p.many(-np.ones((1, len(pool))), np.ones((1, len(pool))))
    with pytest.raises(ValueError, match="weights must both be"):
        p.many(np.ones((1, 3)), np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"row indices must lie in \[0, 90\)"):
        p.select(np.array([[0, 90]]), np.array([[1, 2]]))
    with pytest.raises(ValueError, match="unknown route"):
        fb.PooledFD(pool, route="sqrtm")
    bad = pool.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="pool: 1 non-finite"):
        fb.PooledFD(bad)
    with pytest.raises(ValueError, match="equal shape"):
        fb.PairPool(pool[:3], pool[:4])
