"""Twin neighbours and linear probes: against brute-force references, closed forms and planted
truths (a known linear signal; shuffled labels for chance)."""

from __future__ import annotations

import numpy as np
import pytest

from counterfactual.analysis.neighbours import (
    NEIGHBOUR_COLUMNS,
    own_twin_ranks,
    twin_neighbours,
)
from counterfactual.analysis.pairs import PairFeatures
from counterfactual.analysis.probes import (
    PROBE_COLUMNS,
    SpaceFeatures,
    auc,
    balanced_accuracy,
    linear_probe,
    linear_probes,
    median_split,
    standardise,
)


def _brute_ranks(base: np.ndarray, twin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ranks, top1 = [], []
    for i, b in enumerate(base):
        d = [float(np.sum((b - t) ** 2)) for t in twin]
        order = sorted(range(len(d)), key=lambda j: (d[j], j != i))  # own twin first among ties
        ranks.append(order.index(i) + 1)
        top1.append(float(min(d) == d[i] and sum(x == d[i] for x in d) == 1))
    return np.array(ranks, float), np.array(top1)


def _wilson(k: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_own_twin_ranks_match_a_brute_force_search():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(30, 6))
    twin = base + rng.normal(scale=0.8, size=base.shape)
    rank, top1 = own_twin_ranks(base, twin)
    ref_rank, ref_top1 = _brute_ranks(base, twin)  # no ties in continuous data
    np.testing.assert_array_equal(rank, ref_rank)
    np.testing.assert_array_equal(top1, ref_top1)
    assert 0 < top1.mean() < 1


def test_ties_share_the_mid_rank_and_split_the_top1():
    base = np.arange(10.0)[:, None] * np.ones((1, 3))
    twin = np.zeros((10, 3))  # every twin at the same point
    rank, top1 = own_twin_ranks(base, twin)
    np.testing.assert_allclose(rank, 5.5)
    np.testing.assert_allclose(top1, 0.1)


def test_neighbour_table_identical_twins_chance_and_wilson():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(40, 5))
    same = PairFeatures("none", "s", base, base.copy())
    far = PairFeatures("far", "s", base, rng.normal(size=base.shape), trained=False)
    mid = PairFeatures("mid", "s", base, base + rng.normal(scale=0.7, size=base.shape))
    df = twin_neighbours([same, far, mid])
    assert list(df.columns) == list(NEIGHBOUR_COLUMNS)
    r = df.set_index("intervention")
    assert r.loc["none", "own_twin_top1"] == 1.0 and r.loc["none", "mean_rank"] == 1.0
    assert r.loc["far", "space_label"] == "s (untrained)"
    assert r.loc["far", "chance"] == pytest.approx(1 / 40)
    assert r.loc["far", "chance_mean_rank"] == pytest.approx(20.5)
    for key in ("none", "far", "mid"):
        k = r.loc[key, "own_twin_top1"] * 40
        lo, hi = _wilson(k, 40)
        assert (r.loc[key, "lo"], r.loc[key, "hi"]) == (pytest.approx(lo), pytest.approx(hi))
        assert r.loc[key, "lo"] <= r.loc[key, "own_twin_top1"] <= r.loc[key, "hi"]


def test_unrelated_twins_sit_at_chance_over_many_simulations():
    """Independent twins: the own twin is a uniformly random one of N, so top-1 has mean 1/N
    and the mean rank (N+1)/2; the 95% Wilson interval covers 1/N about 95% of the time."""
    rng = np.random.default_rng(2)
    n, reps, covered, top, ranks = 25, 400, 0, [], []
    for _ in range(reps):
        base = rng.normal(size=(n, 4))
        row = twin_neighbours([PairFeatures("x", "s", base, rng.normal(size=(n, 4)))]).iloc[0]
        covered += row["lo"] <= 1 / n <= row["hi"]
        top.append(row["own_twin_top1"])
        ranks.append(row["mean_rank"])
    assert np.mean(top) == pytest.approx(1 / n, abs=4 * np.sqrt(1 / n / (n * reps)))
    assert np.mean(ranks) == pytest.approx((n + 1) / 2, abs=0.5)
    assert covered / reps > 0.9


def _planted(n: int, d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = np.repeat([0, 1], n // 2)
    x = rng.normal(size=(n, d))
    x[:, 0] += 6.0 * (2 * y - 1)  # linearly separable along the first feature
    return x, y


def test_probe_reads_a_planted_linear_signal():
    rng = np.random.default_rng(3)
    x, y = _planted(96, 50, rng)
    r = linear_probe(x, y, rng=np.random.default_rng(0))
    assert r["balanced_accuracy"] > 0.95 and r["auc"] > 0.98 and r["ba_lo"] > 0.85
    assert r["folds"] == 5 and r["n_positive"] == 48
    assert r["p_shuffle"] == pytest.approx(1 / 10)  # none of the 9 shuffles reaches it
    assert r["chance_ba_max"] < 0.8
    assert abs(r["chance_ba"] - 0.5) < 0.1


def test_probe_at_chance_on_shuffled_labels():
    rng = np.random.default_rng(4)
    x, y = _planted(96, 50, rng)
    hits, bas = 0, []
    for rep in range(8):
        shuffled = rng.permutation(y)
        r = linear_probe(x, shuffled, n_shuffles=0, rng=np.random.default_rng(rep))
        hits += r["ba_lo"] <= 0.5 <= r["ba_hi"]
        bas.append(r["balanced_accuracy"])
    assert abs(np.mean(bas) - 0.5) < 0.06
    assert hits >= 6


def test_probe_interval_is_the_t_interval_over_folds(monkeypatch):
    from counterfactual.analysis import probes

    folds = np.array([[0.6, 0.7], [0.8, 0.9], [0.7, 0.75], [0.5, 0.6], [0.9, 0.95]])
    monkeypatch.setattr(probes, "_fold_scores", lambda x, y, k, seed: folds[:k])
    r = linear_probe(
        np.random.default_rng(0).normal(size=(20, 3)), np.repeat([0, 1], 10), n_shuffles=0
    )
    from scipy import stats

    half = stats.t.ppf(0.975, 4) * folds[:, 0].std(ddof=1) / np.sqrt(5)
    assert r["balanced_accuracy"] == pytest.approx(0.7)
    assert (r["ba_lo"], r["ba_hi"]) == (pytest.approx(0.7 - half), pytest.approx(0.7 + half))


def test_median_split_and_the_table():
    rng = np.random.default_rng(5)
    x, y = _planted(60, 8, rng)
    scores = np.where(y == 1, 2.0, -1.0) + rng.normal(scale=0.1, size=60)
    scores[3] = np.nan  # not scored: left out
    mask, labels, median = median_split(scores)
    assert mask.sum() == 59 and labels.sum() == 29 and np.isnan(scores[~mask]).all()
    assert median == np.median(scores[mask]) and (labels == (scores[mask] > median)).all()
    hat = np.zeros(60)
    hat[:1] = 1.0  # one face above the median
    spaces = [SpaceFeatures("a", x), SpaceFeatures("b", rng.normal(size=(60, 8)), trained=False)]
    df = linear_probes(spaces, {"attr": scores, "hat": hat}, n_shuffles=4)
    assert list(df.columns) == list(PROBE_COLUMNS)
    r = df.set_index(["attribute", "space"])
    assert r.loc[("attr", "a"), "balanced_accuracy"] > 0.9
    assert r.loc[("attr", "b"), "ba_lo"] < 0.5 + 0.25
    assert r.loc[("attr", "b"), "space_label"] == "b (untrained)"
    assert "at least 2 faces" in r.loc[("hat", "a"), "status"]
    assert np.isnan(r.loc[("hat", "a"), "balanced_accuracy"])
    again = linear_probes(list(reversed(spaces)), {"hat": hat, "attr": scores}, n_shuffles=4)
    again = again.set_index(["attribute", "space"]).loc[r.index]
    np.testing.assert_array_equal(
        again["balanced_accuracy"].to_numpy(), r["balanced_accuracy"].to_numpy()
    )


def test_metrics_and_scaling_equal_scikit_learn():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 50)
    score = np.round(rng.normal(size=50) + y, 1)  # rounded: ties too
    predicted = (score > 0.5).astype(int)
    assert balanced_accuracy(y, predicted) == pytest.approx(balanced_accuracy_score(y, predicted))
    assert auc(y, score) == pytest.approx(roc_auc_score(y, score))
    x = rng.normal(size=(50, 7)) * [1, 2, 3, 4, 5, 6, 0]  # one constant column
    train, test = standardise(x[:40], x[40:])
    scaler = StandardScaler().fit(x[:40])
    np.testing.assert_allclose(train, scaler.transform(x[:40]), atol=1e-12)
    np.testing.assert_allclose(test, scaler.transform(x[40:]), atol=1e-12)
    ours = LogisticRegression().fit(train, y[:40])
    theirs = make_pipeline(StandardScaler(), LogisticRegression()).fit(x[:40], y[:40])
    np.testing.assert_allclose(
        test @ ours.coef_[0] + ours.intercept_[0],
        theirs.decision_function(x[40:]),
        rtol=1e-8,
        atol=1e-10,
    )
