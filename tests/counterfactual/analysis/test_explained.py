"""Explained FD: importance resampling to the reference prevalence of an attribute."""

import numpy as np
import pytest

from counterfactual.analysis import attribute_prevalence, explained_fd, importance_weights


def _set(n, prevalence, shift, rng):
    """1-D features x = 3 a + shift + noise, a fraction ``prevalence`` with a = 1; score = a + noise."""
    a = rng.permutation(n) < round(prevalence * n)
    x = 3.0 * a + shift + rng.standard_normal(n)
    return x[:, None], a + 0.1 * rng.standard_normal(n)


def test_prevalence_gap_explains_all_of_the_fd():
    rng = np.random.default_rng(0)
    xg, sg = _set(4000, 0.8, 0.0, rng)
    xr, sr = _set(4000, 0.2, 0.0, rng)
    out = explained_fd(
        {"f": xg},
        {"f": xr},
        {"hat": sg},
        {"hat": sr},
        thresholds=0.5,
        n_boot=40,
        seed=1,
        trained={"f": False},
    )
    row = out.iloc[0]
    assert row.status == "ok" and row.space_label == "f (untrained)"
    assert row.prevalence_gen == pytest.approx(
        0.8, abs=0.005
    ) and row.prevalence_ref == pytest.approx(0.2, abs=0.005)
    assert row.fd > 2.0  # (3 * 0.6)^2 plus a variance term
    assert row.explained_fraction == pytest.approx(1.0, abs=0.02)
    assert row.explained_ci_low > 0.9 and row.fd_drop_ci_low > 0.9 * row.fd
    resampled = explained_fd(
        {"f": xg},
        {"f": xr},
        {"hat": sg},
        {"hat": sr},
        n_boot=10,
        seed=1,
        method="resample",
        n_resample=5,
    ).iloc[0]
    assert resampled.explained_fraction == pytest.approx(1.0, abs=0.05)


def test_no_prevalence_gap_explains_nothing():
    rng = np.random.default_rng(2)
    xg, sg = _set(4000, 0.5, 1.0, rng)  # the FD comes from a shift, not from the attribute
    xr, sr = _set(4000, 0.5, 0.0, rng)
    row = explained_fd({"f": xg}, {"f": xr}, {"hat": sg}, {"hat": sr}, n_boot=40, seed=1).iloc[0]
    assert row.fd == pytest.approx(1.0, abs=0.15)
    assert abs(row.explained_fraction) < 0.03
    assert row.explained_ci_low < 0.0 + 0.03 and row.explained_ci_high > -0.03


def test_weights_prevalence_and_reproducibility():
    present = np.array([True, True, True, False])
    w = importance_weights(present, 0.5)
    assert (w * present).sum() / w.sum() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="no image with the attribute"):
        importance_weights(np.zeros(5, bool), 0.3)
    rng = np.random.default_rng(3)
    xg, sg = _set(300, 0.7, 0.0, rng)
    xr, sr = _set(300, 0.3, 0.0, rng)
    prev = attribute_prevalence({"hat": sg}, {"hat": sr}, {"hat": 0.5}).iloc[0]
    assert prev.prevalence_gap == pytest.approx((sg >= 0.5).mean() - (sr >= 0.5).mean())
    feats_g = {"f": xg, "g": np.c_[xg, rng.standard_normal((300, 1))]}
    feats_r = {"f": xr, "g": np.c_[xr, rng.standard_normal((300, 1))]}
    a = explained_fd(feats_g, feats_r, {"hat": sg}, {"hat": sr}, n_boot=20, seed=5)
    b = explained_fd(feats_g, feats_r, {"hat": sg}, {"hat": sr}, n_boot=20, seed=5)
    c = explained_fd(feats_g, feats_r, {"hat": sg}, {"hat": sr}, n_boot=20, seed=6)
    assert a.equals(b) and not np.allclose(a.fd_drop_ci_low, c.fd_drop_ci_low)
    assert list(a.space) == ["f", "g"] and (a.explained_fraction > 0.5).all()
    # a generated set without the attribute cannot be reweighted: NaN row with the reason
    none = explained_fd({"f": xg}, {"f": xr}, {"hat": np.zeros(300)}, {"hat": sr}, n_boot=5).iloc[0]
    assert "no image with the attribute" in none.status and np.isnan(none.fd_drop)
    with pytest.raises(ValueError, match="scores"):
        explained_fd({"f": xg}, {"f": xr}, {"hat": sg[:10]}, {"hat": sr}, n_boot=5)


@pytest.mark.parametrize("n_a,n_b,dim", [(30, 40, 64), (50, 60, 8)])
def test_fd_from_weighted_row_factors_matches_the_covariance_route(n_a, n_b, dim):
    """The factor route (n <= dim) and its covariance fallback equal FD from np.cov moments."""
    from counterfactual.metrics.fd_factors import (
        equal_n_sets,
        fd_factors,
        fd_moments,
        moments,
        row_factor,
    )

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(n_a, dim)), rng.normal(0.3, 1.5, size=(n_b, dim))
    wx = rng.uniform(0.2, 3.0, n_a)
    with equal_n_sets():  # n < dim is the point of the factor route: no warning wanted here
        expected = fd_moments(*moments(x, wx), *moments(y))
        got = fd_factors(row_factor(x, wx), row_factor(y))
    assert got.value == pytest.approx(expected.value, rel=1e-9)
    assert got.mean_term == pytest.approx(expected.mean_term, rel=1e-12)
    assert got.trace_term == pytest.approx(expected.trace_term, rel=1e-9)
