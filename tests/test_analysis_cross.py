"""The cross-space ratio's intervals: the linearised (delta-method) log-scale interval against
its closed form, and a small run of the cross-space calibration (experiments/calibration.py
--cross) whose planted relative reactions come back as planted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from counterfactual.analysis.inference import Settings, cell_plan, plan_interval
from counterfactual.analysis.sensitivity import RATIO_INTERVALS


def _calibration():
    path = Path(__file__).resolve().parents[1] / "experiments" / "calibration.py"
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
    for (world, method), s in r["summary"].items():
        assert 0.0 <= s["false"] <= 1.0 and 0.0 < s["comparable"] <= 1.0
        assert s["cover95"] >= 0.75, (world, method, s)
