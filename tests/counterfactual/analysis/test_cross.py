"""The cross-space ratio's intervals: the linearised (delta-method) log-scale interval against
its closed form, and a small run of the cross-space calibration (experiments/calibration.py
--cross) whose planted relative reactions come back as planted."""

from __future__ import annotations

import importlib.util
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from counterfactual.analysis.inference import Settings, cell_plan, flip_test, plan_interval
from counterfactual.analysis.pairs import PairFeatures
from counterfactual.analysis.sensitivity import (
    DEFAULT_RULE,
    RATIO_INTERVALS,
    VERDICT_RULES,
    cross_space,
)
from helpers.paths import ROOT


def _calibration():
    path = ROOT / "experiments" / "calibration.py"
    spec = importlib.util.spec_from_file_location("calibration_cross", path)
    cal = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = cal
    spec.loader.exec_module(cal)
    return cal


def test_linearised_interval_is_the_delta_method_on_the_log_scale():
    """q = S_a / S_b: log q on each plan row linearises to
    log q0 + (S_a,r - S_a,0) / S_a,0 - (S_b,r - S_b,0) / S_b,0, whose corrected jackknife
    interval, exponentiated, is the linearised interval; a row where S_b <= 0 changes nothing
    (the "values" method, which takes logs of the row ratios, cannot use such a row)."""
    n = 30
    plan = cell_plan(n, Settings(groups=10, splits=2))
    rng = np.random.default_rng(0)
    sa = 2.0 + 0.3 * rng.standard_normal(len(plan.keep))
    sb = 1.0 + 0.3 * rng.standard_normal(len(plan.keep))
    sa[0], sb[0] = 2.0, 1.0
    sb[-1] = -0.2  # one cross-fit half-sample row
    vals, ref = {("a", "s"): sa}, {"s": sb}
    fn = lambda v, r: v["a", "s"] / r["s"]
    want_log = np.log(2.0) + (sa - 2.0) / 2.0 - (sb - 1.0) / 1.0
    _, lo, hi = plan_interval(want_log, plan, 0.95)
    got = RATIO_INTERVALS["linearised"](fn, vals, ref, plan, 0.95)
    np.testing.assert_allclose(got, (np.exp(lo), np.exp(hi)), rtol=1e-6)
    # on the raw scale: q0 + (S_a,r - S_a,0) / S_b,0 - q0 (S_b,r - S_b,0) / S_b,0
    raw = 2.0 + (sa - 2.0) - 2.0 * (sb - 1.0)
    got_raw = RATIO_INTERVALS["linearised"](fn, vals, ref, plan, 0.95, log=False)
    np.testing.assert_allclose(got_raw, plan_interval(raw, plan, 0.95)[1:], rtol=1e-6)


def test_cross_calibration_small_recovers_the_planted_reaction():
    cal = _calibration()
    r = cal.run_cross(
        seed=3, reps=4, n=40, dim=8, attributes=2, ratios=(3.0,), truth_reps=60, workers=1
    )
    # E[S] is quadratic in the planted shift up to its trace part: the finite-n truth stays
    # close to the planted population ratio
    assert r["true_relative"][0] == pytest.approx(3.0, rel=0.2)
    truth = cal.cross_truth(r["theta"], 2, 0)
    assert truth[0, 0] == pytest.approx(r["true_relative"][0])
    assert truth[1] == pytest.approx(np.ones(3))  # the other attribute: all 1
    rules = {(method, rule) for _, method, rule in r["summary"]}
    assert rules == {("values", "interval")} | {("linearised", k) for k in VERDICT_RULES}
    for (world, method, rule), s in r["summary"].items():
        assert 0.0 <= s["false"] <= 1.0 and 0.0 < s["comparable"] <= 1.0
        assert s["false_count"] == round(s["false"] * 4)
        assert s["cover95"] >= 0.75, (world, method, rule, s)


def test_flip_test_p_never_goes_below_its_resolution():
    """p = (1 + #{|t*| >= |t|}) / (1 + B) >= 1 / (1 + B) at any B, a bound exactly when no
    flip reached the observed statistic (an effect far beyond the noise)."""
    plan = cell_plan(40, Settings(groups=20, splits=2))
    rng = np.random.default_rng(1)
    x = rng.standard_normal(40)
    rows = plan.keep @ x / plan.keep.sum(axis=1)  # the mean over each row's faces
    for n_flip in (9, 99, 999):
        p, bound = flip_test(rows + 100.0, plan, n_flip, np.random.default_rng(n_flip))
        assert p == pytest.approx(1.0 / (n_flip + 1)) and bound
        for shift in (0.0, 0.3, 1.0):
            p, bound = flip_test(rows + shift, plan, n_flip, np.random.default_rng(2))
            assert 1.0 / (n_flip + 1) <= p <= 1.0
            assert bound == (p == pytest.approx(1.0 / (n_flip + 1)))
    # "E = null": the same test of rows + 5 against 5
    a = flip_test(rows + 5.0, plan, 99, np.random.default_rng(3), null=5.0)
    assert a == flip_test(rows, plan, 99, np.random.default_rng(3))


def test_flip_test_rejects_at_its_level_under_a_symmetric_null():
    """Mean of N symmetric per-face values, true mean 0: rejection rate at alpha within the
    binomial bound of alpha (exact for a symmetric law); a mean of 1 SD / sqrt(N) * 4 is found."""
    plan = cell_plan(40, Settings(groups=20, splits=2))
    rng = np.random.default_rng(4)
    size = plan.keep.sum(axis=1)
    reps, alpha = 400, 0.05
    p0 = np.array(
        [
            flip_test(plan.keep @ rng.standard_t(5, 40) / size, plan, 199, rng)[0]
            for _ in range(reps)
        ]
    )
    bound = stats.binom.ppf(0.999, reps, alpha) / reps
    assert 0.01 <= np.mean(p0 <= alpha) <= bound
    p1 = [
        flip_test(plan.keep @ (rng.standard_normal(40) + 0.65) / size, plan, 199, rng)[0]
        for _ in range(100)
    ]
    assert np.mean(np.asarray(p1) <= alpha) >= 0.9


def _linear_study(rng, plan, planted, noise=0.35, shared=0.6):
    """Cells of one simulated study whose S are means of per-face contributions (so E[S] is
    known): three trained spaces with scales 1, 3, 0.5, two attributes and a reference; each
    face contributes a shared part (the same face in every space) and each space's own part.
    ``planted`` multiplies attribute a0's expected S in space0."""
    n = plan.n_pairs
    size = plan.keep.sum(axis=1)
    theta = {"a0": 1.0, "a1": 0.7, "ref": 2.0}
    vals, ref = {}, {}
    for key, mean in theta.items():
        face = rng.standard_normal(n)
        for s, scale in enumerate((1.0, 3.0, 0.5)):
            sp = f"space{s}"
            k = planted if (key, sp) == ("a0", "space0") else 1.0
            u = scale * (mean * k + noise * (shared * face + rng.standard_normal(n)))
            row = SimpleNamespace(values=plan.keep @ u / size)  # a cell's S on the plan rows
            if key == "ref":
                ref[sp] = row
            else:
                vals[key, sp] = row
    return vals, ref


def test_cross_verdicts_are_calibrated_by_simulation():
    """The default verdict rule on simulated studies with a known truth (every relative
    reaction 1, or a0 in space0 planted at 3x): false verdicts per null study within the
    binomial bound of alpha, and the planted reaction called "over" in most studies."""
    settings = Settings(groups=20, splits=2)
    plan = cell_plan(48, settings)
    spaces = {
        f"space{s}": PairFeatures("a0", f"space{s}", np.zeros((3, 2)), np.zeros((3, 2)))
        for s in range(3)
    }
    rng = np.random.default_rng(5)
    reps, alpha = 150, settings.alpha
    false, found = 0, 0
    for r in range(reps):
        vals, ref = _linear_study(rng, plan, 1.0)
        table, _ = cross_space(
            vals, ref, spaces, ["a0", "a1"], Settings(seed=r), "reference", plan, n_flip=199
        )
        false += bool(table["reaction"].isin(["over", "under"]).any())
    for r in range(30):
        vals, ref = _linear_study(rng, plan, 3.0)
        table, _ = cross_space(
            vals, ref, spaces, ["a0", "a1"], Settings(seed=r), "reference", plan, n_flip=199
        )
        hit = table[(table["intervention"] == "a0") & (table["space"] == "space0")]
        found += hit["reaction"].iloc[0] == "over"
        assert (table["p_value"] >= 1.0 / 200).all() and (
            table["verdict_rule"] == DEFAULT_RULE
        ).all()
    assert false <= stats.binom.ppf(0.999, reps, alpha), false
    assert found >= 0.8 * 30, found
