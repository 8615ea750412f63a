"""The findings box's computation: which trained spaces react most/least, verification status,
caveats. Inputs are small tables with known answers; untrained spaces never enter a comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd

from counterfactual.analysis.findings import (
    FLAGGED,
    NOT_VERIFIABLE,
    REFERENCE,
    VERIFIED,
    direction_quality,
    rank_findings,
    sweep_findings,
    verification_status,
)

SPACES = [("a", "a", True), ("b", "b", True), ("c", "c", True), ("r", "r (untrained)", False)]


def _effects(rows):
    return pd.DataFrame(
        [
            {
                "intervention": iv,
                "space": s,
                "space_label": dict((n, l) for n, l, _ in SPACES)[s],
                "trained": dict((n, t) for n, _, t in SPACES)[s],
                "ratio_to_null": v,
                "ratio_ci_low": lo,
                "ratio_ci_high": hi,
            }
            for iv, s, v, lo, hi in rows
        ]
    )


EFFECTS = _effects(
    [
        ("gender", "a", 1.5, 1.4, 1.6),
        ("gender", "b", 3.0, 2.5, 3.5),
        ("gender", "c", 1.05, 0.98, 1.12),
        ("gender", "r", 50.0, 40.0, 60.0),  # untrained: largest, must be ignored
        ("hat", "a", 1.2, 1.0, 1.5),
        ("hat", "b", 1.1, 0.95, 1.3),
        ("hat", "c", float("nan"), np.nan, np.nan),
        ("hat", "r", 0.5, 0.4, 0.6),
    ]
)


def test_most_and_least_reactive_trained_spaces():
    f = sweep_findings(EFFECTS, None, None, {}, spaces=SPACES, order=["hat", "gender"])
    assert [a.intervention for a in f.attributes] == ["hat", "gender"]
    hat, gender = f.attributes
    assert (gender.most.space, gender.least.space, gender.n_spaces) == ("b", "c", 3)
    assert gender.separated and gender.detectable == ("b", "a")  # c's interval holds 1
    assert (hat.most.space, hat.least.space, hat.n_spaces) == ("a", "b", 2)  # NaN row skipped
    assert not hat.separated and hat.detectable == ()
    assert f.untrained == ["r (untrained)"] and not f.no_trained_spaces


def test_cross_space_verdicts_come_from_the_reactions_table_for_trained_spaces_only():
    reactions = pd.DataFrame(
        {
            "intervention": ["gender"] * 4,
            "space": ["a", "b", "c", "r"],
            "space_label": ["a", "b", "c", "r (untrained)"],
            "trained": [True, True, True, False],
            "reaction": ["in line", "over", "under", "over"],
        }
    )
    g = [
        a
        for a in sweep_findings(EFFECTS, reactions, None, {}, spaces=SPACES).attributes
        if a.intervention == "gender"
    ][0]
    assert g.over == ("b",) and g.under == ("c",)


def test_verification_status():
    target = {"target": "gender", "target_shift": {"shift": 0.3}, "flags": [], "passed": True}
    assert verification_status(target) == VERIFIED
    assert (
        verification_status({"target": None, "target_shift": None, "flags": []}) == NOT_VERIFIABLE
    )
    flagged = {**target, "flags": [{"code": "leakage", "message": "m"}], "passed": False}
    assert verification_status(flagged) == FLAGGED
    assert verification_status(flagged, reference=True) == REFERENCE
    assert verification_status(None) is None
    f = sweep_findings(
        None,
        None,
        None,
        {"x": flagged, "y": target, "z": {"flags": []}, "all": flagged},
        spaces=SPACES,
        order=["y", "x", "z", "all"],
        reference="all",
    )
    assert [(v.intervention, v.status, v.messages) for v in f.verification] == [
        ("x", FLAGGED, ("m",)),
        ("z", NOT_VERIFIABLE, ()),
    ]


def test_direction_quality_and_caveats():
    prepared = {
        "gender": {
            "direction": {
                "provenance": {
                    "scorer": "gender",
                    "held_out_accuracy": 0.65,
                    "train_accuracy": 0.99,
                    "n_held_out": 120,
                    "n_train": 280,
                }
            }
        },
        "age": {"direction": {"provenance": {"held_out_accuracy": 0.9}}},
        "hat": {"kind": "synthetic_occluder"},
    }
    assert direction_quality("hat", prepared["hat"]) is None
    q = direction_quality("gender", prepared["gender"])
    assert q.held_out_balanced_accuracy == 0.65 and q.weak
    null = pd.DataFrame(
        {
            "intervention": ["g", "h", "g"],
            "space": ["a", "a", "r"],
            "trained": [True, True, False],
            "null_mean": [10.0, 12.0, 99.0],
            "null_sd": [1.0, 3.0, 9.0],
        }
    )
    f = sweep_findings(
        None,
        None,
        null,
        {},
        spaces=SPACES,
        prepared=prepared,
        n_faces=240,
        pairs_per_draw=200,
        draws=10,
        dims={"a": 2048, "b": 16, "r": 2048},
    )
    assert [w.intervention for w in f.weak_directions] == ["gender"]
    assert [(fl.space, fl.fd0, fl.sd0) for fl in f.floors] == [("a", 11.0, 2.0)]
    assert f.undersampled == [("a", 2048)]  # the untrained r is not listed
    none_trained = sweep_findings(None, None, None, {}, spaces=[("r", "r (untrained)", False)])
    assert none_trained.no_trained_spaces


def test_rank_findings():
    rows = []
    for space, trained, order in (
        ("a", True, ["g1", "g2"]),
        ("b", True, ["g2", "g1"]),
        ("r", False, ["g2", "g1"]),
    ):
        for rank, g in enumerate(order, start=1):
            value = float(rank)
            rows.append(
                {
                    "metric": "fd",
                    "space": space,
                    "trained": trained,
                    "generator": g,
                    "value": value,
                    "ci_low": value - (0.2 if space == "a" else 0.8),
                    "ci_high": value + (0.2 if space == "a" else 0.8),
                    "rank": rank,
                    "stability": 0.9,
                }
            )
    tau = pd.DataFrame(
        [
            {"metric": "fd", "space_a": x, "space_b": y, "trained_a": tx, "trained_b": ty, "tau": t}
            for x, tx, y, ty, t in (
                ("a", True, "b", True, -1.0),
                ("a", True, "a", True, 1.0),
                ("a", True, "r", False, -1.0),
            )
        ]
    )
    spaces = [("a", "a", True), ("b", "b", True), ("r", "r (untrained)", False)]
    # leads come from the paired differences (either orientation), not from the marginal CIs
    paired = pd.DataFrame(
        [
            {
                "metric": "fd",
                "space": "a",
                "generator_a": "g1",
                "generator_b": "g2",
                "diff": -1.0,
                "lo": -1.5,
                "hi": -0.5,
            },
            {
                "metric": "fd",
                "space": "b",
                "generator_a": "g1",
                "generator_b": "g2",
                "diff": 0.1,
                "lo": -0.4,
                "hi": 0.3,
            },
        ]
    )
    f = rank_findings(
        pd.DataFrame(rows), tau, spaces, paired=paired, resolutions={"reference": 178, "g1": 64}
    )
    assert [(ld.space, ld.generator, ld.runner_up, ld.verdict) for ld in f.leaders] == [
        ("a", "g1", "g2", "established"),
        ("b", "g2", "g1", "open"),
    ]
    assert (f.leaders[1].diff, f.leaders[1].diff_low, f.leaders[1].diff_high) == (-0.1, -0.3, 0.4)
    assert f.untrained == ["r (untrained)"] and f.resolution_mismatch
    # two generators: tau is +-1 by construction and is not reported
    assert f.tau_min is None and f.tau_max is None
    reversed_ = rank_findings(
        pd.DataFrame(rows), tau, spaces, paired=paired.assign(lo=[0.2, -0.4], hi=[0.9, 0.3])
    )
    assert reversed_.leaders[0].verdict == "reversed"
    assert rank_findings(pd.DataFrame(rows), tau, spaces).leaders[0].verdict == "unknown"
    three = pd.DataFrame(rows + [{**rows[0], "generator": "g3", "rank": 3}])
    assert (
        rank_findings(three, tau, spaces).tau_min,
        rank_findings(three, tau, spaces).tau_max,
    ) == (-1.0, -1.0)


def test_the_cross_space_table_and_tests_take_over_when_the_analysis_gives_them():
    effects = EFFECTS.assign(reject_holm=[True, True, False, True, False, True, False, True])
    cross = pd.DataFrame(
        {
            "intervention": ["gender"] * 4,
            "space": ["a", "b", "c", "r"],
            "space_label": ["a", "b", "c", "r (untrained)"],
            "trained": [True, True, True, False],
            "relative": [0.8, 1.9, 0.5, 9.0],
            "relative_ci_low": [0.7, 1.5, 0.4, 8.0],
            "relative_ci_high": [0.9, 2.3, 0.6, 10.0],
            "reaction": ["under", "over", "under", "not judged (untrained)"],
        }
    )
    f = sweep_findings(effects, None, None, {}, spaces=SPACES, cross_space=cross)
    (g,) = f.attributes  # hat has no cross-space rows
    assert g.measure.startswith("reaction relative") and g.detect_rule.startswith("Holm")
    assert (g.most.space, g.most.value, g.least.space) == ("b", 1.9, "c") and g.separated
    assert g.over == ("b",) and g.under == ("a", "c") and g.detectable == ("b", "a")


def test_floors_come_from_the_effects_table_without_a_null_table():
    effects = EFFECTS.assign(
        fd0=[10.0, 1.0, 0.1, 99.0, 12.0, 3.0, 0.3, 99.0],
        detected=["yes", "borderline", "no", "yes", "no", "no", "no", "yes"],
    )
    f = sweep_findings(effects, None, None, {}, spaces=SPACES)
    assert [(fl.space, fl.fd0) for fl in f.floors] == [("a", 11.0), ("b", 2.0), ("c", 0.2)]
    gender = [a for a in f.attributes if a.intervention == "gender"][0]
    assert gender.detectable == ("a",) and "agree" in gender.detect_rule
