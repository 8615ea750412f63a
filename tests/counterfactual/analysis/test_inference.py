"""Face-level inference: pooled FD routes, bias corrections, resolution-aware p-values,
jackknife intervals, the sensitivity and the cross-space comparison, and a small calibration."""

import importlib.util
import sys
import warnings

import numpy as np
import pytest
import scipy.linalg
from scipy import stats

from counterfactual.analysis.inference import (
    Settings,
    corrected_variance,
    face_groups,
    holm_bounds,
    infer_cell,
    jackknife_se,
    permutation_p,
    resamples_for,
    resampling_plan,
)
from counterfactual.analysis.multiple import adjust_pvalues
from counterfactual.analysis.pairs import PairFeatures
from counterfactual.analysis.sensitivity import face_inference
from counterfactual.metrics import RankDeficientCovarianceWarning, frechet_distance_features
from counterfactual.metrics.bias import default_sizes, fd_infinity, unbiased_mean_term
from counterfactual.metrics.fd_batch import PairPool
from counterfactual.report.numbers import pval
from helpers.paths import ROOT


def _pairs(rng, n, d, shift=0.0, rho=0.8):
    x = rng.standard_normal((n, d)) * np.linspace(2.0, 0.2, d) + 3.0
    y = rho * x + np.sqrt(1 - rho**2) * rng.standard_normal((n, d)) * np.linspace(2.0, 0.2, d)
    return x, y + (1 - rho) * 3.0 + shift


@pytest.mark.parametrize("n,d", [(30, 50), (30, 6)])
def test_pair_pool_equals_metrics_fd_on_the_explicit_sets(n, d):
    rng = np.random.default_rng(0)
    x, y = _pairs(rng, n, d, shift=0.3)
    pool = PairPool(x, y)
    assert pool.route == ("gram" if n <= d else "cov")
    counts = np.vstack([rng.multinomial(n, np.full(n, 1 / n)), np.ones(n, int), np.ones(n, int)])
    counts[2, :4] = 0
    k = rng.binomial(counts, 0.5)
    res = pool.evaluate(counts, k)
    for j in range(3):  # duplicated rows, swaps and left-out pairs, built explicitly
        a = np.concatenate([np.repeat(x, counts[j] - k[j], 0), np.repeat(y, k[j], 0)])
        b = np.concatenate([np.repeat(x, k[j], 0), np.repeat(y, counts[j] - k[j], 0)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
            ref = frechet_distance_features(a, b)
        assert res.fd[j] == pytest.approx(ref.value, rel=1e-9)
        assert res.mean_term[j] == pytest.approx(ref.mean_term, rel=1e-9, abs=1e-12)


def test_batched_and_single_routes_agree():
    rng = np.random.default_rng(1)
    x, y = _pairs(rng, 20, 40, shift=0.1)
    pool = PairPool(x, y)
    k = rng.integers(0, 2, (4, 20))
    batch = pool.evaluate(np.ones((4, 20), int), k).fd
    one = [pool.evaluate(np.ones((1, 20), int), k[i : i + 1]).fd[0] for i in range(4)]
    np.testing.assert_allclose(batch, one, rtol=1e-11)


def test_unbiased_mean_term_paired_is_the_u_statistic_and_unbiased():
    rng = np.random.default_rng(2)
    x, y = _pairs(rng, 12, 3, shift=0.5)
    d = y - x
    brute = np.mean([d[i] @ d[j] for i in range(12) for j in range(12) if i != j])
    assert unbiased_mean_term(x, y, paired=True) == pytest.approx(brute, rel=1e-12)
    # independent sets: the average over many samples is the population ||mu_x - mu_y||^2
    delta = np.array([0.3, 0.0, -0.2])
    est = [
        unbiased_mean_term(rng.standard_normal((10, 3)), rng.standard_normal((15, 3)) + delta)
        for _ in range(4000)
    ]
    se = np.std(est) / np.sqrt(len(est))
    assert abs(np.mean(est) - delta @ delta) < 4 * se
    raw = np.mean(
        [
            np.sum(
                (
                    rng.standard_normal((10, 3)).mean(0)
                    - rng.standard_normal((15, 3)).mean(0)
                    - delta
                )
                ** 2
            )
            for _ in range(2000)
        ]
    )
    assert raw > delta @ delta + 0.2  # the plug-in term is biased upwards (3/10 + 3/15)


def test_fd_infinity_recovers_the_intercept_of_a_one_over_n_law():
    res = fd_infinity(lambda n, rng: 2.5 + 40.0 / n, 200, reps=2)
    assert res.value == pytest.approx(2.5, rel=1e-9)
    assert res.slope == pytest.approx(40.0, rel=1e-9)
    assert list(default_sizes(200)) == [100, 125, 150, 175, 200]


def test_resamples_make_holm_reach_alpha_and_p_values_know_their_resolution():
    assert resamples_for(16, 0.05) == 639
    assert 16 / (resamples_for(16, 0.05) + 1) <= 0.05 / 2
    p, bound = permutation_p(10.0, np.arange(9.0))
    assert (p, bound) == (0.1, True)
    p, bound = permutation_p(4.0, np.arange(9.0))
    assert p == pytest.approx(6 / 10) and not bound
    ps = np.array([0.001, 0.2, 0.001, 0.04])
    adj = adjust_pvalues(ps, "holm")
    flags = holm_bounds(ps, np.array([True, False, True, False]))
    assert list(flags) == [True, False, True, False]
    assert adj[3] == pytest.approx(0.08)
    # the report's one p-value formatter prints a bound as such
    assert pval(0.0016, bound=True) == "\u22640.00160" and pval(0.3) == "0.300"


def test_jackknife_se_of_the_mean_is_the_standard_error():
    rng = np.random.default_rng(3)
    v = rng.standard_normal(25)
    loo = (v.sum() - v) / 24
    assert jackknife_se(loo) == pytest.approx(v.std(ddof=1) / 5, rel=1e-12)
    g = face_groups(25, 5, seed=1)
    assert sorted(np.bincount(g)) == [5] * 5 and (face_groups(25, 5, 1) == g).all()


def test_resampling_plan_rows_are_the_jackknife_and_disjoint_cross_fit_halves():
    groups = face_groups(23, 7, seed=2)
    plan = resampling_plan(groups, splits=3, seed=5)
    keep = plan.keep
    assert plan.n_groups == 7 and plan.splits == 3 and keep.shape == (1 + 7 + 3 * 16, 23)
    assert (keep[0] == 1).all()
    for g in range(7):
        assert (keep[1 + g] == (groups != g)).all()
    member = groups[None, :] == np.arange(7)[:, None]
    for g, h1g, h1, h2g, h2 in plan.crossfit:
        assert set(np.unique(keep[[h1g, h1, h2g, h2]])) <= {0, 1}
        assert (keep[h1g] - keep[h1] == member[g]).all() and (
            keep[h2g] - keep[h2] == member[g]
        ).all()
        assert not (keep[h1g] & keep[h2]).any()  # the halves share no face
        assert keep[h1g].sum() + keep[h2].sum() == 23
    assert (resampling_plan(groups, 3, 5).keep == keep).all()


def _quadratic_on_rows(x, keep):
    """T = sum_{i != j} x_i . x_j / m^2 on each face subset (a degree-2 V-statistic)."""
    tot = keep @ x
    m = keep.sum(axis=1).astype(float)
    return (np.einsum("ij,ij->i", tot, tot) - keep @ np.einsum("ij,ij->i", x, x)) / m**2


@pytest.mark.parametrize("shift", [0.0, 0.6])
def test_corrected_variance_removes_the_jackknifes_double_count(shift):
    """Against the closed-form variance of a quadratic statistic: the plain jackknife doubles
    the pairwise (degenerate) part, the corrected variance does not."""
    rng = np.random.default_rng(11)
    n, d, reps = 40, 30, 400
    sd = np.linspace(1.0, 0.3, d)
    mu = np.r_[shift, np.zeros(d - 1)]
    plan = resampling_plan(face_groups(n, 20, seed=0), splits=4, seed=1)
    est, t = [], []
    for _ in range(reps):
        v = _quadratic_on_rows(rng.standard_normal((n, d)) * sd + mu, plan.keep)
        est.append(corrected_variance(v, plan)[:2])
        t.append(v[0])
    v_corr, v_jack = np.mean(est, axis=0)
    # Var T = 4 (N-1)^2 / N^3 mu' S mu + 2 N (N-1) / N^4 tr S^2 (+ 4 (N-1) / N^3 ... from mu x noise)
    var = 4 * (n - 1) ** 2 / n**3 * (mu**2 * sd**2).sum() + 2 * n * (n - 1) / n**4 * (sd**4).sum()
    assert np.var(t, ddof=1) == pytest.approx(var, rel=0.2)  # the closed form is right
    if shift == 0.0:  # all pairwise: the jackknife doubles it; the correction removes most
        assert 1.7 < v_jack / var < 2.4  # (V1 >= 0 keeps it >= V_J / 2)
        assert 0.9 < v_corr / var < 1.4
    else:
        assert 0.85 < v_corr / var < 1.2


def test_corrected_variance_is_between_half_and_all_of_the_jackknife_and_falls_back_on_nan():
    rng = np.random.default_rng(12)
    plan = resampling_plan(face_groups(30, 10, seed=0), splits=2, seed=3)
    v = _quadratic_on_rows(rng.standard_normal((30, 8)) + 0.3, plan.keep)
    var, v_jack, v1 = corrected_variance(v, plan)
    assert v_jack == pytest.approx(jackknife_se(v[1:11]) ** 2, rel=1e-12)
    assert v_jack / 2 <= var <= v_jack and var == pytest.approx((v_jack + v1) / 2)
    v[-1] = np.nan  # undefined on one half-sample row: the plain jackknife
    assert corrected_variance(v, plan)[0] == pytest.approx(v_jack, rel=1e-12)
    assert corrected_variance(v[:11], resampling_plan(plan.groups, 0, 3))[0] == pytest.approx(
        v_jack
    )


def test_sensitivity_is_centred_at_zero_under_the_null_and_detects_a_shift():
    rng = np.random.default_rng(4)
    null_s = []
    for _ in range(12):
        x = rng.standard_normal((40, 60))
        c = infer_cell(x, rng.standard_normal((40, 60)), Settings(fd_inf_reps=0), rng, n_perm=99)
        null_s.append(c.sensitivity / c.se)
        assert c.fd1 > 0 and c.fd0 > 0  # both raw FDs carry the floor
    assert abs(np.mean(null_s)) < 3 / np.sqrt(12) + 0.3
    x, y = _pairs(rng, 40, 60, shift=0.4)
    c = infer_cell(x, y, Settings(), rng, n_perm=99)
    assert c.ci_low > 0 and c.p_is_bound and c.p_value == pytest.approx(0.01)
    assert c.fd0 == pytest.approx(c.fd1 - c.sensitivity)


def test_permutation_p_is_roughly_uniform_under_the_null():
    """Exchangeable base and twin: the cell's swap-permutation p-values are uniform (and the
    observed statistic is the sqrtm closed form of FD(base set, twin set))."""
    rng = np.random.default_rng(5)
    ps = []
    for _ in range(40):
        base, twin = rng.normal(size=(24, 2)), rng.normal(size=(24, 2))
        c = infer_cell(base, twin, Settings(fd_inf_reps=0), rng, n_perm=39)
        ps.append(c.p_value)
    s1, s2 = np.cov(base, rowvar=False), np.cov(twin, rowvar=False)
    diff = base.mean(0) - twin.mean(0)
    closed = diff @ diff + np.trace(s1 + s2 - 2 * np.real(scipy.linalg.sqrtm(s1 @ s2)))
    assert c.fd1 == pytest.approx(closed, rel=1e-9)
    ps = np.array(ps)
    assert stats.kstest(ps, "uniform").pvalue > 0.01
    assert 0.3 < ps.mean() < 0.7 and (ps > 0.05).mean() > 0.8


def _run_pairs(seed=5, n=36):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 20))
    maps = {
        "wide": rng.standard_normal((20, 40)),
        "narrow": rng.standard_normal((20, 6)) * 4,
        "mid": rng.standard_normal((20, 12)),
        "random": rng.standard_normal((20, 40)),
    }
    shifts = {
        "hat": np.r_[1.5, np.zeros(19)],
        "age": np.r_[0.0, 0.8, np.zeros(18)],
        "blur:all": np.r_[2.0, 2.0, 2.0, np.zeros(17)],
    }
    pairs, ref = [], []
    for a, delta in shifts.items():
        twin = 0.9 * z + 0.44 * rng.standard_normal((n, 20)) + delta
        for s, m in maps.items():
            pf = PairFeatures(a, s, z @ m, twin @ m, trained=s != "random")
            (ref if a == "blur:all" else pairs).append(pf)
    return pairs, ref


def test_face_inference_is_order_and_thread_independent_and_verdicts_follow_interval_and_test():
    pairs, ref = _run_pairs()
    st = Settings(fd_inf_reps=1, groups=12, n_perm=99)
    a = face_inference(pairs, ref, st)
    b = face_inference(pairs[::-1], ref[::-1], st, workers=2)
    np.testing.assert_allclose(a.effects["sensitivity"], b.effects["sensitivity"], rtol=1e-12)
    for col in ("relative", "p_value"):  # each ratio's test has its own seeded stream
        np.testing.assert_allclose(
            a.cross_space[col], b.cross_space[col], rtol=1e-10, equal_nan=True
        )
    eff = a.effects
    assert (eff["family_size"] == len(pairs)).all() and (eff["n_perm"] == 99).all()
    assert (eff["p_value"] >= eff["p_resolution"]).all()
    cs = a.cross_space
    assert not cs["compared_with"].str.contains("random").any()  # never in a reference
    assert (cs.loc[~cs["trained"], "reaction"] == "not judged (untrained)").all()
    for _, r in cs[cs["trained"] & cs["relative"].notna()].iterrows():
        # over/under where the interval excludes 1 and the flip test rejects at alpha/m
        test = r["p_value"] <= 0.05 / r["n_verdicts"]
        assert r["reaction"] == (
            "over"
            if test and r["relative_ci_low"] > 1
            else "under"
            if test and r["relative_ci_high"] < 1
            else "in line"
        )
        assert 1.0 / (r["n_flip"] + 1) <= r["p_value"] <= 1.0
    assert (cs["normaliser"] == "reference").all()
    assert cs["ci_level"].iloc[0] == pytest.approx(1 - 0.05 / 6)  # 2 attributes x 3 trained
    # without a reference distortion: normalised by each space's mean over attributes
    c = face_inference(pairs, [], Settings(fd_inf_reps=0, groups=12, n_perm=19)).cross_space
    assert (c["normaliser"] == "attributes").all()


def test_face_inference_rejects_cells_on_different_faces():
    pairs, _ = _run_pairs()
    other = PairFeatures("x", "wide", pairs[0].base[:10], pairs[0].twin[:10])
    with pytest.raises(ValueError, match="same faces"):
        face_inference([pairs[0], other])


def test_calibration_small_meets_loose_targets():
    path = ROOT / "experiments" / "calibration.py"
    spec = importlib.util.spec_from_file_location("calibration", path)
    cal = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = cal  # dataclasses look their module up
    try:
        spec.loader.exec_module(cal)
        r = cal.run(seed=7, reps=30, n=30, dim=40, attributes=1, truth_reps=30, groups=10)
    finally:
        del sys.modules[spec.name]
    assert 0.85 <= r["coverage"] <= 1.0
    assert r["null_per_test"] <= 0.15 and r["null_fwer"] <= 0.2
    assert r["power"] >= 0.5
