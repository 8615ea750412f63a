"""Bootstrap: coverage of a known mean, seeding, and paired vs independent resampling."""

from __future__ import annotations

import numpy as np
import pytest

from counterfactual.metrics import bootstrap


def test_ci_covers_true_mean_with_normal_width():
    x = np.random.default_rng(0).normal(3.0, 1.0, 400)
    res = bootstrap(np.mean, x, n_boot=2000, seed=1)
    assert res.estimate == x.mean()
    assert res.low < 3.0 < res.high
    # percentile CI of a mean ~ estimate -/+ 1.96 s / sqrt(n)
    half = 1.96 * x.std(ddof=1) / np.sqrt(x.size)
    assert (res.high - res.low) / 2 == pytest.approx(half, rel=0.1)
    assert res.std_error == pytest.approx(x.std(ddof=1) / np.sqrt(x.size), rel=0.1)
    assert res.samples.shape == (2000,) and res.ci == 0.95


def test_coverage_over_repeated_experiments():
    rng = np.random.default_rng(2)
    cover = []
    for s in range(150):
        r = bootstrap(np.mean, rng.normal(1.0, 2.0, 60), n_boot=300, seed=s)
        cover.append(r.low < 1.0 < r.high)
    assert 0.85 <= np.mean(cover) <= 0.99


def test_reproducible_with_seed():
    x = np.random.default_rng(3).exponential(size=50)
    a, b = bootstrap(np.median, x, n_boot=200, seed=7), bootstrap(np.median, x, n_boot=200, seed=7)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert (a.low, a.high) == (b.low, b.high)
    assert not np.array_equal(a.samples, bootstrap(np.median, x, n_boot=200, seed=8).samples)


def test_paired_vs_independent():
    rng = np.random.default_rng(4)
    base = rng.normal(0, 10, 200)
    twin = base + rng.normal(0.5, 0.1, 200)  # matched pairs: the difference is precise

    def mean_diff(a, b):
        return float(np.mean(b) - np.mean(a))

    paired = bootstrap(mean_diff, base, twin, n_boot=500, seed=0, paired=True)
    indep = bootstrap(mean_diff, base, twin, n_boot=500, seed=0, paired=False)
    assert paired.paired and not indep.paired
    assert paired.high - paired.low < 0.1 * (indep.high - indep.low)
    assert paired.low < 0.5 < paired.high
    with pytest.raises(ValueError, match="paired=True"):
        bootstrap(mean_diff, base, twin)
    with pytest.raises(ValueError, match="equal length"):
        bootstrap(mean_diff, base, twin[:10], paired=True)
    assert bootstrap(mean_diff, base, twin[:10], n_boot=20, paired=False).n_boot == 20


def test_rows_resampled_and_bad_statistic():
    pairs = np.arange(20.0).reshape(10, 2)  # rows stay intact under resampling
    res = bootstrap(lambda a: float(np.all(a[:, 1] - a[:, 0] == 1)), pairs, n_boot=50)
    assert np.all(res.samples == 1.0)
    with pytest.raises(ValueError, match="statistic returned nan"):
        bootstrap(lambda a: np.nan, pairs, n_boot=10)
    with pytest.raises(ValueError, match="ci"):
        bootstrap(np.mean, pairs, ci=1.5)
