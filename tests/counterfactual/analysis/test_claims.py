"""The reference study's claims as data, and their verdicts on effects tables with a known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from counterfactual.analysis.claims import (
    NOT_REPRODUCED,
    NOT_TESTED,
    REPRODUCED,
    UNDECIDED,
    Measures,
    claim_table,
    comparison_verdict,
    load_claims,
    parse_claims,
)
from counterfactual.errors import UserError

Z = norm.ppf(0.975)


def _row(iv: str, space: str, s: float, se: float, trained: bool = True) -> dict:
    return {
        "intervention": iv,
        "space": space,
        "trained": trained,
        "distance": "fd",
        "sensitivity": s,
        "sensitivity_se": se,
        "sensitivity_ci_low": s - Z * se,
        "sensitivity_ci_high": s + Z * se,
        "ci_level": 0.95,
    }


def _tables(cells: dict[tuple[str, str], tuple[float, float]], ref: dict[str, tuple[float, float]]):
    effects = pd.DataFrame([_row(i, s, *v) for (i, s), v in cells.items()])
    reference = pd.DataFrame([_row("blur:all", s, *v) for s, v in ref.items()])
    return effects, reference


def _verdicts(effects, reference, region=None, claims=None) -> dict[str, str]:
    table = claim_table(claims or load_claims(), effects, reference, region)
    return dict(zip(table["claim"], table["verdict"]))


REF = {"inception-fid": (20.0, 0.5), "arcface": (4.0, 0.1), "gender-classifier": (2.0, 0.05)}


def test_builtin_claims_are_the_four_study_claims():
    claims = load_claims()
    assert [c.id for c in claims] == [
        "inception-hats-over-eyes-mouth",
        "gender-space-hair-over-identity",
        "inception-ignores-blurred-eyes",
        "truncation-hurts-fd-everywhere",
    ]
    assert all(c.source.startswith("Kabra & Balakrishnan") for c in claims)


def test_known_truth_gives_each_verdict_word():
    # truth: every claim holds, clearly (profiles: hat 0.5 vs eyes/mouth 0.05; hair 0.5 vs 0.1;
    # eyes 0.3 in ArcFace vs 0.02 in Inception; truncation > 0 everywhere)
    holds = {
        ("hat", "inception-fid"): (10.0, 0.5),
        ("blur:eyes", "inception-fid"): (0.4, 0.1),
        ("blur:mouth", "inception-fid"): (1.0, 0.2),
        ("hair_length", "gender-classifier"): (1.0, 0.05),
        ("hair_length", "arcface"): (0.4, 0.05),
        ("blur:eyes", "arcface"): (1.2, 0.05),
        ("truncation", "inception-fid"): (3.0, 0.5),
        ("truncation", "arcface"): (0.5, 0.1),
        ("truncation", "gender-classifier"): (0.2, 0.05),
        ("truncation", "random-net"): (-5.0, 0.1),  # untrained: not part of "every space"
    }
    holds_ = {k: v for k, v in holds.items()}
    effects, reference = _tables(holds_, REF)
    effects.loc[effects["space"] == "random-net", "trained"] = False
    assert set(_verdicts(effects, reference).values()) == {REPRODUCED}
    # truth: each claim reversed
    reversed_ = {
        **holds,
        ("hat", "inception-fid"): (0.4, 0.1),  # 0.02 < eyes 0.02..: below mouth 0.05
        ("hair_length", "gender-classifier"): (0.1, 0.01),  # 0.05 < 0.1
        ("blur:eyes", "arcface"): (0.02, 0.01),  # 0.005 < Inception's 0.02
        ("truncation", "arcface"): (-1.0, 0.1),
    }
    effects, reference = _tables(reversed_, REF)
    assert set(_verdicts(effects, reference).values()) == {NOT_REPRODUCED}
    # truth: no difference (inside the 0.05 margin, tight intervals) -> absent = not reproduced
    equal = {
        **holds,
        ("hat", "inception-fid"): (1.0, 0.05),  # 0.05 = mouth's 0.05
        ("blur:eyes", "inception-fid"): (1.0, 0.05),
        ("hair_length", "gender-classifier"): (0.2, 0.01),  # 0.1 = ArcFace's 0.1
    }
    effects, reference = _tables(equal, REF)
    v = _verdicts(effects, reference)
    assert v["inception-hats-over-eyes-mouth"] == NOT_REPRODUCED
    assert v["gender-space-hair-over-identity"] == NOT_REPRODUCED
    # truth unknown at this n: wide intervals
    noisy = {k: (s, 40 * se) for k, (s, se) in holds.items()}
    effects, reference = _tables(noisy, REF)
    v = _verdicts(effects, reference)
    assert v["inception-hats-over-eyes-mouth"] == UNDECIDED
    assert v["gender-space-hair-over-identity"] == UNDECIDED
    assert v["truncation-hurts-fd-everywhere"] == UNDECIDED
    # a missing edit or space: not tested
    partial = {k: v for k, v in holds.items() if k[0] not in ("blur:mouth", "truncation")}
    partial = {k: v for k, v in partial.items() if k[1] != "gender-classifier"}
    effects, reference = _tables(partial, REF)
    v = _verdicts(effects, reference)
    assert v["inception-hats-over-eyes-mouth"] == NOT_TESTED
    assert v["gender-space-hair-over-identity"] == NOT_TESTED
    assert v["truncation-hurts-fd-everywhere"] == NOT_TESTED
    assert v["inception-ignores-blurred-eyes"] == REPRODUCED


def test_interval_is_the_difference_of_reference_profiles():
    effects, reference = _tables(
        {
            ("hat", "inception-fid"): (10.0, 0.5),
            ("blur:eyes", "inception-fid"): (2.0, 0.3),
            ("blur:mouth", "inception-fid"): (1.0, 0.2),
        },  # fmt: skip
        {"inception-fid": (20.0, 0.5)},
    )
    t = claim_table(load_claims()[:1], effects, reference)
    row = t[t["comparison"] == "hat in inception-fid > blur:eyes in inception-fid"].iloc[0]
    # Monte Carlo of independent normal estimates: the delta-method SE of each profile
    rng = np.random.default_rng(0)
    s, e, r = (rng.normal(m, sd, 400_000) for m, sd in ((10, 0.5), (2, 0.3), (20, 0.5)))
    assert row["lhs_se"] == pytest.approx(np.std(s / r), rel=0.02)
    assert row["rhs_se"] == pytest.approx(np.std(e / r), rel=0.02)
    assert row["estimate"] == pytest.approx(10 / 20 - 2 / 20)
    z = norm.ppf(1 - 0.05 / 4)  # two comparisons: simultaneous 95%
    half = z * np.hypot(row["lhs_se"], row["rhs_se"])
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.4 - half, 0.4 + half))
    assert row["level"] == pytest.approx(0.975)


def test_region_table_without_dose_gives_no_verdict():
    """dose = false: the region table's ratio is shown, but its spread over draws re-uses the
    same faces (no face-level error), so the comparison stays undecided and says why."""
    effects, reference = _tables(
        {("hat", "inception-fid"): (10.0, 0.5)}, {"inception-fid": (20.0, 0.5)}
    )
    region = pd.DataFrame(
        {
            "intervention": ["blur:eyes", "blur:mouth"],
            "region": ["eyes", "mouth"],
            "space": ["inception-fid"] * 2,
            "trained": [True, True],
            "normalised": [0.06, 0.09],
            "normalised_draw_sd": [0.01, 0.02],
        }
    )
    t = claim_table(load_claims()[:1], effects, reference, region)
    assert set(t["verdict"]) == {UNDECIDED}
    assert t["rhs_source"].str.contains("region table").all()
    assert t.iloc[0]["rhs_value"] == pytest.approx(0.06) and np.isnan(t.iloc[0]["rhs_se"])
    assert t["note"].str.contains("dose = true").all()


def test_reference_not_above_zero_leaves_the_claim_undecided():
    effects, reference = _tables(
        {
            ("hair_length", "gender-classifier"): (1.0, 0.05),
            ("hair_length", "arcface"): (0.4, 0.05),
        },
        {"gender-classifier": (0.1, 0.2), "arcface": (4.0, 0.1)},
    )
    t = claim_table(load_claims()[1:2], effects, reference)
    assert t.iloc[0]["verdict"] == UNDECIDED and "not above 0" in t.iloc[0]["note"]


def test_comparison_verdict_rules():
    assert comparison_verdict(0.1, 0.5, "greater", 0.0) == REPRODUCED
    assert comparison_verdict(-0.5, -0.1, "less", 0.0) == REPRODUCED
    assert comparison_verdict(-0.5, -0.1, "greater", 0.0) == NOT_REPRODUCED
    assert comparison_verdict(-0.04, 0.03, "greater", 0.05) == NOT_REPRODUCED
    assert comparison_verdict(-0.04, 0.06, "greater", 0.05) == UNDECIDED
    assert comparison_verdict(-0.04, 0.03, "greater", 0.0) == UNDECIDED
    assert comparison_verdict(np.nan, 0.3, "greater", 0.0) == UNDECIDED


def test_user_claims_files(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        '[[claim]]\nid = "age-moves-arcface"\nstatement = "ArcFace reacts to age"\n'
        'normalisation = "raw"\n[[claim.compare]]\n'
        'lhs = { intervention = "age", space = "arcface" }\nrhs = { value = 0 }\n'
        'direction = "greater"\n',
        encoding="utf-8",
    )
    claims = load_claims([path])
    assert claims[-1].id == "age-moves-arcface" and claims[-1].origin == str(path)
    effects, reference = _tables({("age", "arcface"): (-2.0, 0.5)}, {})
    assert _verdicts(effects, None, claims=claims)["age-moves-arcface"] == NOT_REPRODUCED
    with pytest.raises(UserError, match="given twice"):
        load_claims([path, path])
    with pytest.raises(UserError, match="does not exist"):
        load_claims([tmp_path / "none.toml"])
    bad = {"claim": [{"id": "x", "statement": "s", "compare": [{"lhs": {"value": 1}}]}]}
    with pytest.raises(UserError, match="direction must be one of"):
        parse_claims(bad, "bad.toml")
    bad["claim"][0]["compare"][0]["direction"] = "greater"
    bad["claim"][0]["compare"][0]["rhs"] = {"value": 0}
    with pytest.raises(UserError, match="lhs must name an intervention and a space"):
        parse_claims(bad, "bad.toml")
    bad["claim"][0]["compare"][0]["lhs"] = {"intervention": "age"}
    with pytest.raises(UserError, match="needs intervention and space"):
        parse_claims(bad, "bad.toml")
    with pytest.raises(UserError, match="normalisation must be one of"):
        parse_claims({"claim": [{"id": "x", "statement": "s", "normalisation": "z"}]}, "b")


def test_measures_read_distance_fd_rows_only():
    effects, reference = _tables({("hat", "arcface"): (1.0, 0.1)}, {"arcface": (2.0, 0.1)})
    other = effects.assign(distance="kid", sensitivity=99.0)
    m = Measures(pd.concat([effects, other]), reference)
    assert m.get("hat", "arcface", "raw").value == 1.0
    assert m.get("hat", "arcface", "reference").value == pytest.approx(0.5)


def test_sweep_config_names_claims_files(tmp_path):
    from counterfactual.config import ConfigError, validate_config

    base = {
        "seeds": {"start": 0, "count": 30},
        "spaces": ["inception-fid"],
        "pairs_per_draw": 20,
        "interventions": ["truncation"],
    }
    with pytest.raises(ConfigError, match="claims files not found"):
        validate_config({**base, "claims": [str(tmp_path / "none.toml")]})
    mine = tmp_path / "mine.toml"
    mine.write_text("", encoding="utf-8")
    assert validate_config({**base, "claims": [str(mine)]}).claims == (str(mine),)
    assert validate_config(base).claims == ()
