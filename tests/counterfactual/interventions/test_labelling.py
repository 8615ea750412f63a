"""Labelling rules for learning directions (quantile vs threshold for rare attributes) and
conditional edits, on synthetic latents with planted linear attributes (known truth)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from counterfactual.errors import UserError
from counterfactual.interventions.directions import (
    Direction,
    LearnSettings,
    condition_direction,
    fit_boundary,
    learn_direction,
    scorer_labelling,
)
from counterfactual.interventions.labelling import (
    auc,
    balanced_accuracy,
    make_labels,
    quantile_labels,
    threshold_labels,
)

DIM = 16


def _unit(v):
    return v / np.linalg.norm(v)


def _rare_scores(rng, n=1500, rate=0.1):
    """w ~ N(0, I); a hat-like score: 0 for most faces, growing above a cut on w . n_true."""
    w = rng.standard_normal((n, DIM))
    n_true = _unit(rng.standard_normal(DIM))
    t = w @ n_true
    cut = np.quantile(t, 1 - rate)
    scores = np.maximum(0.0, t - cut) + 0.05 * np.abs(rng.standard_normal(n)) * (t > cut)
    return w, n_true, scores


def test_balanced_accuracy_and_auc_match_sklearn():
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.1).astype(int)
    d = y * 0.8 + rng.standard_normal(300)
    d[:20] = np.round(d[:20])  # ties
    assert auc(y, d) == pytest.approx(roc_auc_score(y, d), abs=1e-12)
    pred = (d > 0.4).astype(int)
    assert balanced_accuracy(y, pred) == pytest.approx(balanced_accuracy_score(y, pred), abs=1e-12)
    assert balanced_accuracy(y, np.zeros_like(y)) == 0.5  # the majority class is chance


def test_quantile_rule_fails_on_a_rare_attribute_and_the_threshold_rule_learns_it():
    rng = np.random.default_rng(1)
    w, n_true, scores = _rare_scores(rng)
    assert np.mean(scores == 0) == pytest.approx(0.9, abs=0.01)
    with pytest.raises(UserError, match="does not separate the quantiles.*threshold"):
        fit_boundary(w, scores, LearnSettings(quantile=0.2))
    rule = {"rule": "threshold", "threshold": 0.2, "negative_max": 0.0}
    normal, _, stats = fit_boundary(w, scores, LearnSettings(labelling=rule))
    assert normal @ n_true > 0.95
    labels = make_labels(scores, rule)
    assert stats["n_positive"] == int((scores > 0.2).sum()) == labels.positives.size
    assert stats["n_negative"] == int((scores == 0).sum())
    assert stats["labelling"]["threshold"] == 0.2 and stats["labelling"]["rule"] == "threshold"
    assert stats["labelling"]["n_between"] == int(((scores > 0) & (scores <= 0.2)).sum())
    # held out: stratified share of each class; quality as balanced accuracy and AUC
    assert stats["n_held_out_positive"] == round(0.3 * stats["n_positive"])
    assert stats["held_out_balanced_accuracy"] > 0.9 and stats["held_out_auc"] > 0.97
    assert "held_out_accuracy" not in stats
    # the class-balanced classifier: without balancing, the boundary drifts to the majority
    assert stats["train_balanced_accuracy"] > 0.9


def test_threshold_rule_errors_name_the_counts():
    scores = np.r_[np.zeros(100), np.full(3, 1.0)]
    with pytest.raises(UserError, match="3 samples score above 0.5 and 100 at or below 0.5"):
        threshold_labels(scores, 0.5)
    with pytest.raises(UserError, match="must not exceed"):
        threshold_labels(scores, 0.1, negative_max=0.2)
    with pytest.raises(UserError, match="unknown labelling rule 'median'"):
        make_labels(scores, {"rule": "median"})
    with pytest.raises(ValueError, match="unknown labelling rule"):
        LearnSettings(labelling={"rule": "median"}).check()
    lab = quantile_labels(np.arange(100.0), 0.2)
    assert set(lab.negatives) == set(range(20)) and set(lab.positives) == set(range(80, 100))


def test_rule_is_declared_per_scorer_through_the_registry():
    assert scorer_labelling("hat")["rule"] == "threshold"
    assert scorer_labelling("eyeglasses")["rule"] == "threshold"
    assert scorer_labelling("gender") is None and scorer_labelling("skin_tone") is None
    assert scorer_labelling("no-such-scorer") is None


class _RareRed:
    """Scorer stand-in declaring the threshold rule: red brightness above 200, else 0."""

    name = "rare_red"
    labelling = {"rule": "threshold", "threshold": 5.0, "negative_max": 0.0}

    def __call__(self, images):
        red = images[:, 0].double().mean(dim=(1, 2)).numpy()
        return np.maximum(0.0, red - 200.0)


def test_learn_direction_uses_the_scorers_declared_rule():
    from helpers.intervention_standins import ToyGAN

    gen = ToyGAN(z_dim=8)
    d = learn_direction(gen, _RareRed(), LearnSettings(n_samples=600))
    prov = d.provenance
    assert prov["labelling"]["rule"] == "threshold" and prov["labelling"]["threshold"] == 5.0
    assert prov["n_positive"] < prov["n_negative"]
    assert d.vector @ gen.n_true.numpy() > 0.9
    override = learn_direction(
        gen, _RareRed(), LearnSettings(n_samples=600, quantile=0.1, labelling={"rule": "quantile"})
    )
    assert override.provenance["labelling"] == {
        **override.provenance["labelling"],
        "rule": "quantile",
        "quantile": 0.1,
    }
    assert override.provenance["n_positive"] == override.provenance["n_negative"] == 60


# -- conditional edits ------------------------------------------------------------------------
def _planted(rng, n=4000):
    """Latents with three planted, correlated linear attributes: target (continuous), gender
    (continuous, cosine 0.6 with target) and glasses (rare, cosine 0.4 with target)."""
    g = _unit(rng.standard_normal(DIM))
    u = _unit(rng.standard_normal(DIM) - (rng.standard_normal(DIM) @ g) * g)
    u = _unit(u - (u @ g) * g)
    target = 0.6 * g + 0.8 * u
    glasses = _unit(0.4 * target + np.sqrt(1 - 0.16) * _unit(rng.standard_normal(DIM)))
    w = rng.standard_normal((n, DIM))
    noise = lambda: 0.2 * rng.standard_normal(n)  # noqa: E731
    glass_t = w @ glasses
    scores = {
        "target": w @ target + noise(),
        "gender": w @ g + noise(),
        "glasses": np.where(glass_t > np.quantile(glass_t, 0.88), 1.0, 0.0),
    }
    return w, {"target": target, "gender": g, "glasses": glasses}, scores


def test_conditioned_direction_is_orthogonal_and_leaves_the_other_attributes_alone():
    rng = np.random.default_rng(2)
    w, truth, scores = _planted(rng)
    rules = {
        "target": None,
        "gender": None,
        "glasses": {"rule": "threshold", "threshold": 0.5, "negative_max": 0.0},
    }
    learned = {}
    for name, rule in rules.items():
        normal, _, stats = fit_boundary(w, scores[name], LearnSettings(labelling=rule))
        learned[name] = Direction(normal, "w", {"scorer": name, **stats})
        assert normal @ truth[name] > 0.95
    raw = learned["target"]
    cond = condition_direction(raw, [learned["gender"], learned["glasses"]])
    for name in ("gender", "glasses"):
        assert abs(cond.vector @ learned[name].vector) < 1e-12
    q, _ = np.linalg.qr(np.stack([learned["gender"].vector, learned["glasses"].vector], 1))
    ref = raw.vector - q @ (q.T @ raw.vector)  # independent projection
    np.testing.assert_allclose(cond.vector, _unit(ref), atol=1e-12)
    # edit every sample by alpha along each direction: the planted linear scores' shifts in SD
    alpha, sd = 2.0, {k: (w @ v).std() for k, v in truth.items()}
    shift = lambda d, k: alpha * (d @ truth[k]) / sd[k]  # noqa: E731
    assert shift(raw.vector, "gender") > 1.0  # leaks before (cos ~0.6)
    assert abs(shift(cond.vector, "gender")) < 0.1 and abs(shift(cond.vector, "glasses")) < 0.1
    assert shift(cond.vector, "target") > 0.6 * shift(raw.vector, "target")  # still moves
    # provenance: cosines with each conditioning normal before/after and the linear leakage
    recs = {r["scorer"]: r for r in cond.provenance["conditioned_on"]}
    assert recs["gender"]["cosine_raw"] == pytest.approx(raw.vector @ learned["gender"].vector)
    assert recs["gender"]["cosine_raw"] == pytest.approx(0.6, abs=0.08)
    assert abs(recs["gender"]["cosine_conditioned"]) < 1e-12
    assert recs["gender"]["leakage_sd_per_alpha_raw"] == pytest.approx(
        recs["gender"]["cosine_raw"] / learned["gender"].provenance["projection_sd"]
    )
    assert cond.provenance["cosine_with_unconditioned"] == pytest.approx(cond.vector @ raw.vector)


def test_conditioning_refuses_parallel_conditioning_directions():
    rng = np.random.default_rng(3)
    a, b = Direction(rng.standard_normal(8), "w"), Direction(rng.standard_normal(8), "w")
    with pytest.raises(UserError, match="span of the other conditioning"):
        condition_direction(b, [a, Direction(-a.vector, "w")])


def test_latent_edit_learns_with_the_declared_rule_and_caches_per_rule(tmp_path):
    from counterfactual.interventions.attributes import LatentEdit
    from helpers.intervention_standins import ToyGAN

    gen = ToyGAN(z_dim=8)
    edit = LatentEdit("rare", scorer=_RareRed(), n_samples=400)
    edit.prepare(gen, tmp_path)
    assert edit.direction.provenance["labelling"]["rule"] == "threshold"
    other = LatentEdit(
        "rare",
        scorer=_RareRed(),
        n_samples=400,
        labelling={"rule": "threshold", "threshold": 20.0, "negative_max": 0.0},
    )
    other.prepare(gen, tmp_path)
    assert other.direction.provenance["labelling"]["threshold"] == 20.0
    assert len(list((tmp_path / "directions").glob("*.npy"))) == 2  # one cache entry per rule
    with pytest.raises(ValueError, match="unknown labelling rule"):
        LatentEdit("rare", scorer=_RareRed(), labelling={"rule": "median"})


def test_conditioned_edit_reports_linear_leakage_before_and_after(tmp_path):
    from counterfactual.interventions.attributes import LatentEdit
    from helpers.intervention_standins import Brightness, GreenLevel, ToyGAN

    gen = ToyGAN(z_dim=8)
    edit = LatentEdit("bright", scorer=Brightness(), n_samples=400, quantile=0.25, alpha=2.0)
    edit.condition_on = [GreenLevel()]
    edit.prepare(gen, tmp_path)
    summary = edit.describe()["conditioning"]
    rec = edit.direction.provenance["conditioned_on"][0]
    green = summary["others"]["green"]
    assert green["cosine_raw"] == rec["cosine_raw"] and abs(green["cosine_conditioned"]) < 1e-10
    assert green["leakage_sd_raw"] == pytest.approx(2.0 * rec["cosine_raw"] / rec["projection_sd"])
    assert abs(green["leakage_sd_conditioned"]) < 1e-9
    assert summary["target_shift_sd_conditioned"] == pytest.approx(
        summary["target_shift_sd_raw"] * edit.direction.provenance["cosine_with_unconditioned"]
    )
