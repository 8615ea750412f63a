"""Paired differences between generators (counterfactual.rank.paired) and the reference floor
(counterfactual.rank.floor): calibration by simulation with a known truth.

Design: a Gaussian reference N(0, I_d) and two Gaussian "generators" drawn on matched seeds
(face i of both from the same latent z_i), whose population FDs to the reference are known in
closed form: FD(N(m, s^2 I), N(0, I)) = |m|^2 + d (s - 1)^2.
- "gap": a = z + 0.3 e1, b = 0.7 z + sqrt(0.51) e + 0.6 e1 (same covariance I, correlated with
  a): FD_a - FD_b = 0.09 - 0.36 = -0.27.
- "equal": a = z + sqrt(d) 0.3 e1, b = 0.7 z (truncated: less spread): FD_a = FD_b = 0.09 d,
  but the finite-sample biases differ, so the plain difference of the two FDs is biased.
Replicates resample the reference rows and the shared generator face indices jointly, as the
rank engine's bootstrap does. FD per replicate is computed in closed form over a batch (tied
to the project's FD on one replicate below), so hundreds of studies take seconds.
"""

from __future__ import annotations

import numpy as np
import pytest

from counterfactual.analysis.rank_agreement import paired_lookup
from counterfactual.errors import UserError
from counterfactual.metrics import frechet_distance_features
from counterfactual.rank.compare import Settings, compare
from counterfactual.rank.floor import reference_floor
from counterfactual.rank.paired import PairingError, paired_difference, paired_table
from counterfactual.run.schemas import PAIRED_COLUMNS

CI = 0.95
ALPHA = 1 - CI


def fd_batch(x: np.ndarray, idx_x: np.ndarray, y: np.ndarray, idx_y: np.ndarray) -> np.ndarray:
    """FD of rows idx_x[b] of x against rows idx_y[b] of y, for every b (small d only)."""
    X, Y = x[idx_x], y[idx_y]
    mx, my = X.mean(1), Y.mean(1)
    Xc, Yc = X - mx[:, None], Y - my[:, None]
    sx = Xc.transpose(0, 2, 1) @ Xc / (X.shape[1] - 1)
    sy = Yc.transpose(0, 2, 1) @ Yc / (Y.shape[1] - 1)
    root = np.sqrt(np.linalg.eigvals(sx @ sy).real.clip(min=0)).sum(1)
    return (
        ((mx - my) ** 2).sum(1)
        + np.trace(sx, axis1=1, axis2=2)
        + np.trace(sy, axis1=1, axis2=2)
        - 2 * root
    )


def _sets(rng: np.random.Generator, d: int, n: int, scenario: str):
    ref, z, e = (rng.normal(size=(n, d)) for _ in range(3))
    if scenario == "gap":
        a = z.copy()
        a[:, 0] += 0.3
        b = 0.7 * z + np.sqrt(1 - 0.49) * e
        b[:, 0] += 0.6
        return ref, a, b, 0.09 - 0.36
    a = z.copy()
    a[:, 0] += np.sqrt(d) * 0.3
    return ref, a, 0.7 * z, 0.0


def _study(rng: np.random.Generator, d: int, n: int, n_boot: int, scenario: str):
    ref, a, b, truth = _sets(rng, d, n, scenario)
    full = np.arange(n)[None]
    ir, ig = rng.integers(0, n, (n_boot, n)), rng.integers(0, n, (n_boot, n))
    res = paired_difference(
        fd_batch(ref, full, a, full)[0],
        fd_batch(ref, full, b, full)[0],
        fd_batch(ref, ir, a, ig),
        fd_batch(ref, ir, b, ig),
        CI,
    )
    return res, truth


def _mc_tolerance(p: float, studies: int) -> float:
    return 3 * np.sqrt(p * (1 - p) / studies)


def test_batched_fd_is_the_projects_fd():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 5)), rng.normal(1.0, 2.0, size=(40, 5))
    ix, iy = rng.integers(0, 50, 50), rng.integers(0, 40, 40)
    assert fd_batch(x, ix[None], y, iy[None])[0] == pytest.approx(
        frechet_distance_features(x[ix], y[iy]).value, rel=1e-8
    )


@pytest.mark.parametrize("scenario", ["gap", "equal"])
def test_paired_interval_calibration(scenario):
    """Coverage of the known population difference is at least nominal (within Monte Carlo
    error), so when the truth is equal the false lead rate is at most alpha."""
    studies, rng = 250, np.random.default_rng(1 if scenario == "gap" else 2)
    out = [_study(rng, 8, 120, 80, scenario) for _ in range(studies)]
    covered = np.mean([r["lo"] <= t <= r["hi"] for r, t in out])
    lead = np.mean([r["lo"] > 0 or r["hi"] < 0 for r, _ in out])
    assert covered >= CI - _mc_tolerance(CI, studies), covered
    if scenario == "equal":
        assert lead <= ALPHA + _mc_tolerance(ALPHA, studies), lead
    else:
        assert lead > 0.15  # some power at n = 120 (measured 0.36)


def test_bias_correction_removes_the_spread_dependent_bias():
    """Equal population FDs, unequal spread, d / n = 0.2: the plain difference of the FDs is
    biased (the truncated generator carries less finite-sample bias); `diff` is not."""
    studies, rng = 150, np.random.default_rng(3)
    out = [_study(rng, 12, 60, 60, "equal")[0] for _ in range(studies)]
    diff, plain = np.array([r["diff"] for r in out]), np.array([r["diff_plain"] for r in out])
    se = diff.std(ddof=1) / np.sqrt(studies)
    assert abs(diff.mean()) < 3 * se
    assert plain.mean() > 6 * se


def test_paired_difference_by_hand_and_bad_input():
    reps_a, reps_b = np.array([3.0, 4.0, 5.0, 6.0]), np.array([1.0, 1.0, 2.0, 2.0])
    r = paired_difference(3.5, 1.0, reps_a, reps_b, 0.5)
    assert r["diff_plain"] == 2.5 and r["bias"] == pytest.approx(3.0 - 2.5)
    assert r["diff"] == pytest.approx(2.0)
    d = reps_a - reps_b - 2 * 0.5
    assert (r["lo"], r["hi"]) == pytest.approx(tuple(np.quantile(d, [0.25, 0.75])))
    with pytest.raises(PairingError, match="equal-length"):
        paired_difference(1.0, 1.0, [1.0, 2.0], [1.0, 2.0, 3.0], CI)
    assert issubclass(PairingError, UserError)


def test_engine_replicates_are_joint_and_the_table_pairs_them():
    """compare() resamples the same rows in replicate b for every generator: two generators
    with identical features get identical replicates (independent resampling would not), so
    their paired difference is exactly 0 with the interval [0, 0]; a shifted copy b = a + c
    moves the point difference by the mean term's change, 2 (mean(a) - mean(ref)) c + |c|^2."""
    rng = np.random.default_rng(4)
    ref, a = rng.normal(size=(30, 3)), rng.normal(size=(25, 3))
    c = np.array([0.5, -0.2, 0.1])
    s = Settings(n_boot=20, kid_subsets=2, seed=7)
    spaces = [{"name": "toy", "label": "toy", "trained": True}]
    results = []
    for g, x in (("a", a), ("a again", a.copy()), ("b", a + c)):
        res = compare(ref, x, s)
        res.update(generator=g, space="toy", settings=s.as_dict())
        results.append(res)
    table = paired_table(results, ["a", "a again", "b"], spaces, CI)
    assert list(table.columns) == list(PAIRED_COLUMNS)
    fd = table[table["metric"] == "fd"].set_index(["generator_a", "generator_b"])
    same = fd.loc[("a", "a again")]
    assert same["diff"] == same["lo"] == same["hi"] == 0.0
    shifted = fd.loc[("a", "b")]
    assert shifted["diff_plain"] == pytest.approx(-(2 * (a.mean(0) - ref.mean(0)) @ c + c @ c))
    assert shifted["lo"] <= shifted["diff"] <= shifted["hi"]
    assert shifted["method"].startswith("paired bootstrap") and shifted["n_boot"] == 20
    back = paired_lookup(table, "fd", "toy", "b", "a")
    assert back["diff"] == pytest.approx(-shifted["diff"])
    assert (back["lo"], back["hi"]) == pytest.approx((-shifted["hi"], -shifted["lo"]))
    results[2]["settings"] = {**results[2]["settings"], "seed": 8}
    with pytest.raises(PairingError, match="not bootstrapped jointly"):
        paired_table(results, ["a", "a again", "b"], spaces, CI)


def test_reference_floor_like_with_like():
    """A generator drawn from the reference's own distribution sits at the floor when both are
    measured at the same m; the full-n FD is lower (FD's bias falls with n); a shifted
    generator sits above the floor by about |shift|^2."""
    rng = np.random.default_rng(5)
    d, n = 6, 2000
    ref = rng.normal(size=(n, d))
    same, shifted = rng.normal(size=(n, d)), rng.normal(size=(n, d)) + np.r_[1.0, np.zeros(d - 1)]
    res = reference_floor(ref, {"same": same, "shifted": shifted}, splits=20, seed=0)
    assert res["reference"]["n_a"] == res["reference"]["n_b"] == n // 2
    floor = res["reference"]["fd"]
    # same distribution, same m on both sides: the same expected FD as the floor
    assert abs(res["same"]["fd"] - floor) < 3 * np.hypot(
        res["same"]["fd_sd"], res["reference"]["fd_sd"]
    )
    assert frechet_distance_features(ref, same).value < floor
    assert res["shifted"]["fd"] - floor == pytest.approx(1.0, abs=0.3)
    # the floor itself, by hand, for splits=1
    one = reference_floor(ref, {"same": same}, splits=1, seed=9)
    perm = np.random.default_rng(9).permutation(n)
    first, second = np.sort(perm[: n // 2]), np.sort(perm[n // 2 :])
    assert one["reference"]["fd"] == pytest.approx(
        frechet_distance_features(ref[first], ref[second]).value, rel=1e-10
    )
    with pytest.raises(UserError, match="splits"):
        reference_floor(ref, {"same": same}, splits=0, seed=0)


@pytest.mark.slow
def test_paired_interval_high_dimension():
    """d / n = 0.4 (like Inception's 2048 dimensions at a few thousand faces): equal population
    FDs and unequal spread. An interval centred on the plain difference would declare a lead
    almost always; the bias-corrected one stays near alpha (measured 0.06-0.11)."""
    studies, rng = 300, np.random.default_rng(6)
    out = [_study(rng, 40, 100, 100, "equal")[0] for _ in range(studies)]
    lead = np.mean([r["lo"] > 0 or r["hi"] < 0 for r in out])
    centred = np.mean([(r["lo"] + r["bias"]) > 0 for r in out])
    assert centred > 0.8 and lead <= 2 * ALPHA + _mc_tolerance(2 * ALPHA, studies)
