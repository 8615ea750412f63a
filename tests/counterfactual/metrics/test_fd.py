"""Fréchet distance: against scipy's sqrtm formulation, closed forms, invariances and routes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg

from counterfactual.metrics import (
    FDResult,
    FeatureStats,
    RankDeficientCovarianceWarning,
    frechet_distance,
    frechet_distance_features,
)


def correlated(
    rng: np.random.Generator, n: int, d: int, shift: float = 0.0, scale: float = 1.0
) -> np.ndarray:
    mix = rng.standard_normal((d, d)) / np.sqrt(d) + np.eye(d)
    return scale * rng.standard_normal((n, d)) @ mix + shift


def fd_sqrtm(mu1, s1, mu2, s2) -> float:
    """The pytorch-fid / clean-fid formulation (independent reference)."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.mark.parametrize("method", ["auto", "cholesky", "eigh"])
def test_matches_sqrtm_full_rank(rng, method):
    x, y = correlated(rng, 600, 24), correlated(rng, 500, 24, shift=0.3, scale=1.2)
    mu1, s1 = x.mean(0), np.cov(x, rowvar=False)
    mu2, s2 = y.mean(0), np.cov(y, rowvar=False)
    ref = fd_sqrtm(mu1, s1, mu2, s2)
    res = frechet_distance(mu1, s1, mu2, s2, method=method)
    assert isinstance(res, FDResult)
    assert abs(res.value - ref) <= 1e-6 * ref
    assert (res.rank1, res.rank2, res.dim) == (24, 24, 24)
    assert float(res) == res.value
    assert res.value == res.mean_term + res.trace_term


def test_feature_routes_match_sqrtm(rng):
    x, y = correlated(rng, 300, 16), correlated(rng, 200, 16, shift=-0.2)
    ref = fd_sqrtm(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))
    for method in ("svd", "cholesky", "auto"):
        res = frechet_distance_features(x, y, method=method)
        assert abs(res.value - ref) <= 1e-9 * ref, method
    assert frechet_distance_features(x, y, method="svd").method == "svd"


def test_rank_deficient_routes_agree(rng):
    d = 48
    x, y = correlated(rng, 20, d), correlated(rng, 31, d, shift=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
        svd = frechet_distance_features(x, y)
        a, b = FeatureStats.from_features(x), FeatureStats.from_features(y)
        chol = frechet_distance(a, b, method="cholesky")
        eig = frechet_distance(a, b, method="eigh")
    assert svd.method == "svd" and chol.method == "cholesky+svd" and eig.method == "eigh"
    for res in (svd, chol, eig):
        assert isinstance(res.value, float) and np.isfinite(res.value)
        assert (res.rank1, res.rank2) == (19, 30)
    assert abs(chol.value - svd.value) <= 1e-10 * svd.value
    assert abs(eig.value - svd.value) <= 1e-8 * svd.value
    # sqrtm is off by roughly sqrt(eps) here; it must still agree loosely.
    assert abs(fd_sqrtm(a.mean, a.cov, b.mean, b.cov) - svd.value) <= 1e-4 * svd.value


def test_stats_with_features_pick_svd_route(rng):
    x, y = correlated(rng, 10, 20), correlated(rng, 12, 20)
    a = FeatureStats.from_features(x, keep_features=True)
    b = FeatureStats.from_features(y, keep_features=True)
    with pytest.warns(RankDeficientCovarianceWarning):
        res = frechet_distance(a, b)
    assert res.method == "svd"
    with pytest.raises(ValueError, match="keep_features"):
        frechet_distance(FeatureStats.from_features(x), b, method="svd")


@pytest.mark.parametrize("method", ["cholesky", "eigh", "svd"])
def test_self_distance_is_zero(rng, method):
    x = correlated(rng, 400, 20)
    res = frechet_distance_features(x, x, method=method)
    assert res.mean_term == 0.0
    assert 0.0 <= res.value <= 1e-10 * np.trace(np.cov(x, rowvar=False))


def test_pure_mean_shift(rng):
    x = correlated(rng, 300, 12)
    mu, sigma = x.mean(0), np.cov(x, rowvar=False)
    v = rng.standard_normal(12)
    res = frechet_distance(mu, sigma, mu + v, sigma)
    assert res.value == pytest.approx(v @ v, rel=1e-10)
    assert abs(res.trace_term) <= 1e-10 * np.trace(sigma)


@pytest.mark.parametrize("zeros", [0, 3])
@pytest.mark.parametrize("method", ["cholesky", "eigh"])
def test_diagonal_gaussians_closed_form(rng, zeros, method):
    d = 10
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    a, b = rng.uniform(0.1, 4.0, d), rng.uniform(0.1, 4.0, d)
    a[:zeros] = 0.0  # rank-deficient when zeros > 0
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
        res = frechet_distance(mu1, np.diag(a), mu2, np.diag(b), method=method)
    assert res.value == pytest.approx(expected, rel=1e-12)
    assert res.mean_term == pytest.approx(np.sum((mu1 - mu2) ** 2), rel=1e-14)
    assert res.rank1 == d - zeros and res.rank2 == d


def test_invariances(rng):
    x, y = correlated(rng, 200, 8), correlated(rng, 150, 8, shift=0.5)
    q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    t = rng.standard_normal(8)
    base = frechet_distance_features(x, y).value
    assert frechet_distance_features(y, x).value == pytest.approx(base, rel=1e-12)
    assert frechet_distance_features(x @ q + t, y @ q + t).value == pytest.approx(base, rel=1e-10)
    assert frechet_distance_features(2 * x, 2 * y).value == pytest.approx(4 * base, rel=1e-12)


def test_ill_conditioned_full_rank_matches_nuclear_route(rng):
    # Eigenvalues spanning 1e-9..1: the fast route must not drop the small terms.
    d = 40
    q1, _ = np.linalg.qr(rng.standard_normal((d, d)))
    q2, _ = np.linalg.qr(rng.standard_normal((d, d)))
    s1 = (q1 * np.logspace(-9, 0, d)) @ q1.T
    s2 = (q2 * np.logspace(-8, 0, d)) @ q2.T
    mu = np.zeros(d)
    fast = frechet_distance(mu, s1, mu, s2)
    assert fast.method == "cholesky"
    # Reference: nuclear norm of the product of symmetric square roots, via eigh.
    r1 = (q1 * np.sqrt(np.logspace(-9, 0, d))) @ q1.T
    r2 = (q2 * np.sqrt(np.logspace(-8, 0, d))) @ q2.T
    ref = np.trace(s1) + np.trace(s2) - 2 * np.linalg.svd(r1 @ r2, compute_uv=False).sum()
    assert fast.value == pytest.approx(ref, rel=1e-9)


def test_rank_warning_once_per_call(rng):
    x, y = correlated(rng, 5, 16), correlated(rng, 6, 16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = frechet_distance_features(x, y)
    rank_warnings = [w for w in caught if issubclass(w.category, RankDeficientCovarianceWarning)]
    assert len(rank_warnings) == 1
    assert "rank1=4" in str(rank_warnings[0].message) and "dim=16" in str(rank_warnings[0].message)
    assert rank_warnings[0].filename == __file__
    assert (res.rank1, res.rank2) == (4, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frechet_distance_features(correlated(rng, 50, 4), correlated(rng, 50, 4))


def test_bad_inputs_raise_clearly(rng):
    mu, s = np.zeros(3), np.eye(3)
    with pytest.raises(ValueError, match="sigma1.*shape"):
        frechet_distance(mu, np.eye(4), mu, s)
    with pytest.raises(ValueError, match="mu2"):
        frechet_distance(mu, s, np.zeros(4), np.eye(4))
    bad = s.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="sigma2.*non-finite"):
        frechet_distance(mu, s, mu, bad)
    with pytest.raises(ValueError, match="not symmetric"):
        frechet_distance(mu, np.triu(np.ones((3, 3))), mu, s)
    with pytest.raises(ValueError, match="positive semi-definite"):
        frechet_distance(mu, np.diag([1.0, -1.0, 1.0]), mu, s)
    indefinite = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match="positive semi-definite"):
        frechet_distance(mu, s, mu, indefinite)
    with pytest.raises(ValueError, match="method"):
        frechet_distance(mu, s, mu, s, method="sqrtm")
    with pytest.raises(ValueError, match="raw features"):
        frechet_distance(mu, s, mu, s, method="svd")
    with pytest.raises(ValueError, match="dimensions differ"):
        frechet_distance_features(np.ones((5, 3)), np.ones((5, 4)))
    with pytest.raises(TypeError):
        frechet_distance(FeatureStats.from_features(rng.standard_normal((5, 3))), s)


def steep_features(seed: int, n: int = 1000, d: int = 200) -> np.ndarray:
    """Full-rank features (n > d) whose covariance has condition number ~1e14."""
    r = np.random.default_rng(seed)
    q, _ = np.linalg.qr(r.standard_normal((d, d)))
    return (r.standard_normal((n, d)) * np.logspace(0, -7, d)) @ q.T


def test_one_rank_rule_on_a_steep_full_rank_spectrum():
    x, y = steep_features(1), steep_features(2)
    cond = np.linalg.cond(np.cov(x, rowvar=False))
    assert 1e13 < cond < 1e15
    # independent truth: n > d generic samples, so the centred data have full column rank
    # (singular values of Xc span only ~1e7, far above float64 resolution)
    sv = np.linalg.svd(x - x.mean(0), compute_uv=False)
    assert sv.min() / sv.max() > 1e3 * 200 * np.finfo(float).eps
    ranks = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RankDeficientCovarianceWarning)  # no warning at all
        for method in ("auto", "svd", "cholesky", "eigh"):
            res = frechet_distance_features(x, y, method=method)
            ranks[method] = (res.rank1, res.rank2)
        a = FeatureStats.from_features(x)
        b = FeatureStats.from_features(y)
        ranks["moments-eigh"] = tuple(
            frechet_distance(a.mean, a.cov, b.mean, b.cov, method="eigh").as_dict()[k]
            for k in ("rank1", "rank2")
        )
    assert set(ranks.values()) == {(200, 200)}, ranks


def test_rank_warning_names_its_cause(rng):
    few = correlated(rng, 10, 16), correlated(rng, 12, 16)
    with pytest.warns(
        RankDeficientCovarianceWarning,
        match="fewer samples than dimensions "
        r"\(n1=10, n2=12\)",
    ):
        frechet_distance_features(*few)
    # n > d but a duplicated feature: singular, and not for lack of samples
    x, y = correlated(rng, 400, 8), correlated(rng, 400, 8)
    x[:, 7], y[:, 7] = x[:, 0], y[:, 0]
    for method in ("auto", "svd", "cholesky", "eigh"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = frechet_distance_features(x, y, method=method)
        msgs = [
            str(w.message) for w in caught if issubclass(w.category, RankDeficientCovarianceWarning)
        ]
        assert (res.rank1, res.rank2) == (7, 7), method
        assert len(msgs) == 1 and "numerically singular" in msgs[0], method
        assert "fewer samples" not in msgs[0] and "n1=400, n2=400 > dim" in msgs[0]
    s = np.cov(x, rowvar=False)
    with pytest.warns(RankDeficientCovarianceWarning, match="numerically singular") as rec:
        frechet_distance(x.mean(0), s, y.mean(0), s)
    assert "fewer samples" not in str(rec[0].message)


@pytest.mark.parametrize("n, dim", [(12, 40), (60, 8)])  # gram route, cov route
def test_batched_entry_point_matches_single_pair(rng, n, dim):
    """frechet_distance_batch on many row selections of one pool equals one sqrtm FD each."""
    from counterfactual.metrics import frechet_distance_batch, frechet_distance_matched

    pool = rng.normal(size=(80, dim)) @ rng.normal(size=(dim, dim)) + 3.0
    rows_a = np.stack([rng.choice(80, n, replace=False) for _ in range(5)])
    rows_b = np.stack([rng.choice(80, n, replace=False) for _ in range(5)])
    res = frechet_distance_batch(pool, rows_a, rows_b)
    assert res.route == ("gram" if n <= dim else "cov")
    for k in range(5):
        a, b = pool[rows_a[k]], pool[rows_b[k]]
        assert res.fd[k] == pytest.approx(_moments_sqrtm_fd(a, b), rel=1e-5)  # independent
        assert res.fd[k] == pytest.approx(float(frechet_distance_features(a, b)), rel=1e-9)
        assert res.fd[k] == pytest.approx(res.mean_term[k] + res.trace_term[k], rel=1e-12)
    whole = frechet_distance_matched(pool[:40], pool[40:])
    assert whole.fd[0] == pytest.approx(
        float(frechet_distance_features(pool[:40], pool[40:])), rel=1e-9
    )


def _moments_sqrtm_fd(x: np.ndarray, y: np.ndarray) -> float:
    return fd_sqrtm(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))
