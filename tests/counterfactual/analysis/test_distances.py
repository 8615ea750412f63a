"""The distance registry of the counterfactual analysis: each distance's evaluator equals the
metric's own value, S_d is 0 in expectation under exchangeable pairs, the generalised swap
permutation test is exact, and FD's rows are unchanged when other distances are added."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from counterfactual.analysis.distances import DISTANCES, FAMILIES, check_distances, families_of
from counterfactual.analysis.inference import Settings, cell_plan, infer_pooled
from counterfactual.analysis.pairs import PairFeatures
from counterfactual.analysis.sensitivity import face_inference
from counterfactual.metrics import kid, manifold_metrics, mmd2_unbiased
from counterfactual.metrics.mmd import cmmd, mmd_median, rbf_mmd2

OTHERS = [f for f, fam in FAMILIES.items() if fam.prepare is not None]


def _pairs(
    rng: np.random.Generator, n: int, d: int, shift: float = 0.0, null: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    base = rng.standard_normal((n, d)) * np.linspace(1.5, 0.5, d)
    if null:  # exchangeable within pairs: a shared face effect
        face = rng.standard_normal((n, d))
        return face + base, face + rng.standard_normal((n, d)) * np.linspace(1.5, 0.5, d)
    return base, 0.8 * base + 0.6 * rng.standard_normal((n, d)) + shift


def _evaluate_full(family: str, base: np.ndarray, twin: np.ndarray) -> np.ndarray:
    n = len(base)
    return FAMILIES[family].prepare(base, twin)(np.ones(n, bool), np.zeros((1, n), np.int64))[0]


@pytest.mark.parametrize("n,d", [(30, 8), (60, 40)])
def test_evaluators_equal_the_metrics_own_values_on_the_full_sets(n, d):
    base, twin = _pairs(np.random.default_rng(n), n, d, shift=0.3)
    kid_full = kid(base, twin, num_subsets=1, max_subset_size=n).mean  # one subset = all rows
    np.testing.assert_allclose(_evaluate_full("kid", base, twin), [kid_full], rtol=1e-10)
    np.testing.assert_allclose(kid_full, mmd2_unbiased(base, twin), rtol=1e-10)
    # CMMD by its published formula (biased, sigma 10, x 1000), written out independently
    sq = lambda a, b: ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    k = lambda a, b: np.exp(-sq(a, b) / 200.0)
    ref = 1000.0 * (k(base, base).mean() + k(twin, twin).mean() - 2 * k(base, twin).mean())
    np.testing.assert_allclose(_evaluate_full("cmmd", base, twin), [ref], rtol=1e-9)
    np.testing.assert_allclose(cmmd(base, twin), ref, rtol=1e-9)
    # median heuristic: sigma^2 = median squared distance of the pooled rows, U-statistic
    pool = np.vstack([base, twin])
    sigma2 = np.median(sq(pool, pool)[np.triu_indices(2 * n, 1)])
    kk = np.exp(-sq(pool, pool) / (2 * sigma2))
    np.fill_diagonal(kk, np.nan)
    ref = np.nanmean(kk[:n, :n]) + np.nanmean(kk[n:, n:]) - 2 * np.nanmean(kk[:n, n:])
    np.testing.assert_allclose(_evaluate_full("mmd", base, twin), [ref], rtol=1e-9)
    np.testing.assert_allclose(mmd_median(base, twin), ref, rtol=1e-9)
    np.testing.assert_allclose(
        rbf_mmd2(base, twin, np.sqrt(sigma2), 1.0, unbiased=True), ref, rtol=1e-9
    )
    pr, dc = manifold_metrics(base, twin, pr_k=3, dc_k=5)
    np.testing.assert_allclose(
        _evaluate_full("prdc", base, twin),
        [pr.precision, pr.recall, dc.density, dc.coverage],
        rtol=1e-12,
    )
    for name, dist in DISTANCES.items():
        if dist.family != "fd":
            col = FAMILIES[dist.family].members.index(name)
            assert dist.metric(base, twin) == pytest.approx(
                _evaluate_full(dist.family, base, twin)[col], rel=1e-9
            )


def test_subset_and_swap_evaluation_equals_the_metric_on_the_explicit_sets():
    rng = np.random.default_rng(3)
    n = 24
    base, twin = _pairs(rng, n, 6, shift=0.5)
    keep = rng.random(n) < 0.7
    swaps = rng.integers(0, 2, size=(3, n))
    for fam in OTHERS:
        got = FAMILIES[fam].prepare(base, twin)(keep, swaps)
        for k, s in enumerate(swaps):
            idx = np.flatnonzero(keep)
            a = np.where(s[idx, None] == 1, twin[idx], base[idx])
            b = np.where(s[idx, None] == 1, base[idx], twin[idx])
            want = [DISTANCES[m].metric(a, b) for m in FAMILIES[fam].members]
            np.testing.assert_allclose(got[k], want, rtol=1e-9, atol=1e-12)


def _null_sensitivities(reps: int, n: int, d: int, n_perm: int) -> tuple[dict, dict]:
    """S_d and permutation p of every distance over ``reps`` simulated null cells."""
    names = [m for f in OTHERS for m in FAMILIES[f].members]
    sens = {m: [] for m in names}
    pvals = {m: [] for m in names}
    settings = Settings(groups=8, splits=1, fd_inf_reps=0)
    plan = cell_plan(n, settings)
    for r in range(reps):
        rng = np.random.default_rng([7, r])
        base, twin = _pairs(rng, n, d, null=True)
        for fam in OTHERS:
            members = FAMILIES[fam].members
            cells = infer_pooled(
                FAMILIES[fam].prepare(base, twin),
                n,
                members,
                [DISTANCES[m].lower_is_better for m in members],
                settings,
                rng,
                n_perm,
                plan,
            )
            for c in cells:
                sens[c.distance].append(c.sensitivity)
                pvals[c.distance].append(c.p_value)
    return sens, pvals


def test_every_distance_is_zero_in_expectation_and_its_test_exact_under_exchangeable_pairs():
    """Null world (base and twin exchangeable within each pair): the mean of S_d over 300
    simulated cells is 0 within 4 standard errors, and the permutation test rejects at
    alpha = 0.2 at rate alpha within 4 binomial standard errors (at most alpha for the
    discrete k-NN metrics, whose ties make the test conservative)."""
    reps, alpha = 300, 0.2
    sens, pvals = _null_sensitivities(reps, n=24, d=6, n_perm=19)
    mc = 4 * np.sqrt(alpha * (1 - alpha) / reps)
    for name, s in sens.items():
        s = np.asarray(s)
        if s.std() > 0:
            t = s.mean() / (s.std(ddof=1) / np.sqrt(reps))
            assert abs(t) < 4.0, (name, s.mean(), t)
        rate = np.mean(np.asarray(pvals[name]) <= alpha)
        assert rate <= alpha + mc, (name, rate)
        if name in ("kid", "cmmd", "mmd"):  # continuous: exact, not only valid
            assert rate >= alpha - mc, (name, rate)
    # the p-values of a continuous statistic are uniform on {1/20, ..., 1}
    ks = stats.kstest(
        np.asarray(pvals["kid"]) - np.random.default_rng(0).uniform(0, 0.05, reps), "uniform"
    )
    assert ks.pvalue > 1e-3


def test_the_test_detects_a_shift_and_sign_follows_the_direction():
    rng = np.random.default_rng(11)
    n = 40
    base, twin = _pairs(rng, n, 5, shift=1.5)
    settings = Settings(groups=10, splits=2, fd_inf_reps=0)
    for fam in OTHERS:
        members = FAMILIES[fam].members
        cells = infer_pooled(
            FAMILIES[fam].prepare(base, twin),
            n,
            members,
            [DISTANCES[m].lower_is_better for m in members],
            settings,
            rng,
            99,
        )
        for c in cells:
            sign = 1.0 if c.lower_is_better else -1.0
            assert sign * c.sensitivity > 0, (c.distance, c.sensitivity)
            assert c.p_value <= 0.05, (c.distance, c.p_value)
            assert c.ci_low <= c.sensitivity <= c.ci_high


def test_fd_rows_unchanged_when_other_distances_are_added():
    rng = np.random.default_rng(5)
    n = 20
    pairs = [
        PairFeatures(
            a,
            s,
            b := rng.standard_normal((n, d)),
            b + rng.standard_normal((n, d)) * 0.7 + sh,
            trained=True,
        )
        for a, sh in (("x", 0.4), ("y", 0.0))
        for s, d in (("p", 6), ("q", 9))
    ]
    st = Settings(groups=5, splits=1, n_perm=19, fd_inf_reps=0)
    fd_only = face_inference(pairs, [], st)
    every = face_inference(pairs, [], st, distances=list(DISTANCES), workers=2)
    assert (fd_only.effects["distance"] == "fd").all()
    fd_rows = every.effects[every.effects["distance"] == "fd"].reset_index(drop=True)
    pd.testing.assert_frame_equal(fd_only.effects, fd_rows, check_exact=True)
    pd.testing.assert_frame_equal(fd_only.cross_space, every.cross_space, check_exact=True)
    assert len(every.effects) == len(pairs) * len(DISTANCES)
    other = every.effects[every.effects["distance"] != "fd"]
    assert other["fd1"].isna().all() and other["d1"].notna().all()
    # each distance is its own Holm family of the 4 attribute x space tests
    assert (every.effects["family_size"] == len(pairs)).all()
    kid_rows = every.effects[every.effects["distance"] == "kid"]
    for _, r in kid_rows.iterrows():
        pf = next(p for p in pairs if (p.intervention, p.space) == (r["intervention"], r["space"]))
        assert r["d1"] == pytest.approx(mmd2_unbiased(pf.base, pf.twin), rel=1e-10)


def test_unknown_distance_is_refused_and_fd_always_runs():
    with pytest.raises(ValueError, match="unknown distance"):
        check_distances(["fd", "wasserstein"])
    assert check_distances(["coverage", "kid"]) == ("fd", "kid", "coverage")
    assert families_of(["recall", "precision"]) == {"fd": ("fd",), "prdc": ("precision", "recall")}


def test_report_with_distances_has_a_distance_by_space_table(tmp_path):
    """`counterfactual report --distances kid,coverage`: the effects table has a row per
    attribute x space x distance, FD's rows equal the FD-only report's, and each attribute's
    section holds a distance x space table."""
    import re

    from counterfactual.cli import main
    from helpers.report_fakes import write_sweep_run

    spaces = {"alpha-net": True, "beta-net": True}
    fd_run = write_sweep_run(tmp_path / "a", spaces, ["hat", "gender"], [0.0, 0.5, 1.0])
    both = write_sweep_run(tmp_path / "b", spaces, ["hat", "gender"], [0.0, 0.5, 1.0])
    assert main(["report", str(fd_run), "--n-boot", "20"]) == 0
    assert main(["report", str(both), "--n-boot", "20", "--distances", "kid,coverage"]) == 0
    fd = pd.read_csv(fd_run / "report_tables" / "effects.csv")
    every = pd.read_csv(both / "report_tables" / "effects.csv")
    assert list(every["distance"].unique()) == ["fd", "kid", "coverage"]
    assert len(every) == 3 * len(fd)
    pd.testing.assert_frame_equal(
        fd, every[every["distance"] == "fd"].reset_index(drop=True), check_dtype=False
    )  # n_draws: NaN on the other rows
    html = (both / "report.html").read_text(encoding="utf-8")
    assert html.count("Sensitivity by distance × space") == 2
    assert "Sensitivity by distance" not in (fd_run / "report.html").read_text(encoding="utf-8")
    section = html[html.index("Sensitivity by distance") :]
    section = section[: section.index("</table>")]
    assert re.search(r"<td class=\"l\">KID</td>", section)
    assert "coverage" in section and "(higher = closer)" in section
    with pytest.raises(SystemExit):
        main(["report", str(both), "--distances", "fd,emd"])
