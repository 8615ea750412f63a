"""Analysis statistics: OLS/WLS + HC3 fits, Holm/BH corrections, mixing, pair inputs."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from counterfactual.analysis import (
    PairFeatures,
    add_adjusted,
    adjust_pvalues,
    fit_dose_response,
    fit_dose_table,
    mix_pairs,
)
from counterfactual.mixing import n_swapped


def _hand_hc3(delta, y, w=None):
    X = np.column_stack([np.ones_like(delta), delta, delta**2])
    sw = np.ones_like(y) if w is None else np.sqrt(w)
    Xw, yw = X * sw[:, None], y * sw
    bread = np.linalg.inv(Xw.T @ Xw)
    beta = bread @ Xw.T @ yw
    e = yw - Xw @ beta
    h = np.einsum("ij,jk,ik->i", Xw, bread, Xw)
    meat = Xw.T @ np.diag(e**2 / (1 - h) ** 2) @ Xw
    return beta, bread @ meat @ bread


def _dose_table(curves, deltas, n_draws, noise, seed=0):
    """Synthetic dose table: curves = {(intervention, space): (b0, b1, b2, trained)}."""
    rng = np.random.default_rng(seed)
    rows = []
    for (interv, space), (b0, b1, b2, trained) in curves.items():
        for d in deltas:
            for k in range(n_draws):
                fd = b0 + b1 * d + b2 * d * d + noise * rng.standard_normal()
                rows.append(
                    {
                        "intervention": interv,
                        "space": space,
                        "space_label": space if trained else f"{space} (untrained)",
                        "trained": trained,
                        "delta": d,
                        "draw": k,
                        "n_pairs": 100,
                        "fd": fd,
                        "mean_term": 0.4 * fd,
                        "trace_term": 0.6 * fd,
                    }
                )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- fits
def test_ols_hc3_matches_hand_sandwich():
    delta = np.array([0.0, 0.0, 0.25, 0.5, 0.5, 0.75, 1.0, 1.0])
    y = np.array([1.1, 0.9, 1.6, 2.9, 2.4, 4.2, 6.3, 5.5])
    beta, cov = _hand_hc3(delta, y)
    fit = fit_dose_response(delta, y, ci=0.9)
    np.testing.assert_allclose(fit.coef, beta, rtol=1e-10)
    np.testing.assert_allclose(fit.cov, cov, rtol=1e-9)
    c = np.array([0.0, 1.0, 1.0])
    se = np.sqrt(c @ cov @ c)
    assert fit.sensitivity == pytest.approx(beta[1] + beta[2], rel=1e-10)
    assert fit.sensitivity_se == pytest.approx(se, rel=1e-9)
    z = stats.norm.ppf(0.95)
    np.testing.assert_allclose(
        fit.sensitivity_ci, (fit.sensitivity - z * se, fit.sensitivity + z * se)
    )
    t = fit_dose_response(delta, y, ci=0.9, use_t=True)
    assert t.sensitivity_ci[1] - t.sensitivity == pytest.approx(stats.t.ppf(0.95, 5) * se, rel=1e-9)


def test_wls_hc3_matches_hand_sandwich():
    delta = np.array([0.0, 0.0, 0.5, 0.5, 0.5, 1.0, 1.0])
    y = np.array([1.0, 1.3, 2.0, 2.6, 2.2, 4.9, 4.1])
    w = np.array([4.0, 4.0, 1.0, 1.0, 1.0, 0.5, 0.5])
    beta, cov = _hand_hc3(delta, y, w)
    fit = fit_dose_response(delta, y, weights=w)
    assert fit.method == "wls"
    np.testing.assert_allclose(fit.coef, beta, rtol=1e-10)
    np.testing.assert_allclose(fit.cov, cov, rtol=1e-9)


def test_sensitivity_recovers_known_quadratic():
    deltas = np.round(np.arange(21) * 0.05, 10)
    table = _dose_table(
        {("hat", "a"): (2.0, 3.0, 5.0, True), ("hat", "b"): (0.1, 0.0, 0.4, False)},
        deltas,
        n_draws=10,
        noise=0.2,
    )
    fits = fit_dose_table(table).set_index("space")
    a = fits.loc["a"]
    assert a.fit_status == "ok" and a.sensitivity_ci_low < 8.0 < a.sensitivity_ci_high
    assert a.sensitivity == pytest.approx(8.0, abs=0.2)
    assert a.b0 == pytest.approx(2.0, abs=0.15) and a.fd1_fit == pytest.approx(10.0, abs=0.15)
    assert fits.loc["b"].space_label == "b (untrained)" and not fits.loc["b"].trained
    wls = fit_dose_table(table, weighting="wls").set_index("space").loc["a"]
    assert wls.method == "wls" and wls.sensitivity == pytest.approx(8.0, abs=0.25)
    assert all(fits[c].dtype == np.float64 for c in ("b0", "sensitivity", "sensitivity_se"))


def test_degenerate_fits_are_explained():
    with pytest.raises(ValueError, match="3 distinct deltas"):
        fit_dose_response([0, 0, 1, 1, 1], [1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="leverage 1"):
        fit_dose_response([0, 0, 0.5, 1, 1], [1, 1.1, 2, 3, 3.2])
    with pytest.raises(ValueError, match="finite"):
        fit_dose_response([0, 0.5, 1, 1], [1, np.nan, 3, 3])
    table = _dose_table({("hat", "a"): (1.0, 1.0, 0.0, True)}, [0.0, 1.0], n_draws=3, noise=0.1)
    row = fit_dose_table(table).iloc[0]
    assert "3 distinct deltas" in row.fit_status and np.isnan(row.sensitivity)
    flat = fit_dose_response([0, 0, 0.5, 0.5, 1, 1], [2.0] * 6)  # constant FD: zero slope, zero SE
    assert flat.sensitivity == pytest.approx(
        0.0, abs=1e-12
    ) and flat.sensitivity_se == pytest.approx(0, abs=1e-12)


# ------------------------------------------------------------------------ mixing / pairs
def test_mixing_keeps_pairs_apart_and_counts_twins():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(11, 2))
    twin = base + 100.0  # twins are recognisable
    for delta in (0.0, 0.3, 1.0):
        a, b = mix_pairs(base, twin, delta, np.random.default_rng(2))
        assert (a[:, 0] > 50).sum() == n_swapped(11, delta) == round(11 * (1 - delta) / 2 + 1e-9)
        np.testing.assert_array_equal(np.sort(np.r_[a, b], 0), np.sort(np.r_[base, twin], 0))
        np.testing.assert_allclose(np.abs(a - b), 100.0)  # row i of A and B come from pair i


# ------------------------------------------------------------------------------ multiple
def test_holm_and_bh_against_hand_computed_values():
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    # Holm, m = 4: sorted 0.005, 0.01, 0.03, 0.04 -> 4*.005, 3*.01, 2*.03, 1*.04, cumulative max.
    np.testing.assert_allclose(adjust_pvalues(p, "holm"), [0.03, 0.06, 0.06, 0.02, np.nan])
    # BH: p_(i) m / i = 0.02, 0.02, 0.04, 0.04, cumulative min from the top.
    np.testing.assert_allclose(adjust_pvalues(p, "bh"), [0.02, 0.04, 0.04, 0.02, np.nan])
    df = pd.DataFrame({"g": ["x", "x", "y", "y"], "p_value": [0.01, 0.04, 0.02, 0.5]})
    out = add_adjusted(df, by=["g"], alpha=0.05)
    np.testing.assert_allclose(out.p_holm, [0.02, 0.04, 0.04, 0.5])
    np.testing.assert_array_equal(out.reject_holm, [True, True, True, False])
    with pytest.raises(ValueError, match="unknown correction"):
        adjust_pvalues(p, "bonferroni-ish")


def test_pair_features_check_their_pairing():
    base = np.random.default_rng(6).normal(size=(30, 2))
    pf = PairFeatures("hat", "s2", base.astype(np.float32), base + 1.0, trained=False)
    assert pf.space_label == "s2 (untrained)" and pf.base.dtype == np.float64
    with pytest.raises(ValueError, match="base shape"):
        PairFeatures("hat", "s1", base, base[:5])
    with pytest.raises(ValueError, match=r"\(twin\): 1 non-finite"):
        PairFeatures("hat", "s1", base, np.where(base == base[0, 0], np.nan, base))
