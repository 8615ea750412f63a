"""The dose-response over strength table (`counterfactual.analysis.strength`) and the id
format it reads (`config.split_strength`, the inverse of `expand_strengths`)."""

import numpy as np
import pandas as pd
import pytest

from counterfactual.analysis.strength import STRENGTH_COLUMNS, strength_response
from counterfactual.config import expand_strengths, split_strength


def test_split_strength_inverts_the_expanded_ids():
    items = expand_strengths([{"name": "rotate", "strengths": [10, 2.5]}, {"name": "gender"}])
    assert [split_strength(i["id"]) for i in items[:2]] == [("rotate", 10.0), ("rotate", 2.5)]
    assert split_strength("gender") == ("gender", None)
    assert split_strength("blur:all") == ("blur:all", None)
    assert split_strength("odd@name") == ("odd@name", None)
    assert split_strength("@3") == ("@3", None)


def _effects():
    rows = []
    for iv, s_by_space in {
        "rotate@10": (1.0, 20.0),
        "rotate@90": (4.0, 10.0),
        "rotate@30": (2.0, 40.0),
        "noise@4": (0.5, 0.5),  # one strength only: no curve
        "gender": (3.0, 3.0),
    }.items():
        for sp, s in zip(("a", "b"), s_by_space):
            for dist, scale in (("fd", 1.0), ("kid", 0.01)):
                rows.append(
                    {
                        "intervention": iv,
                        "space": sp,
                        "space_label": sp,
                        "trained": True,
                        "distance": dist,
                        "n_pairs": 50,
                        "sensitivity": s * scale,
                        "sensitivity_ci_low": s * scale - 0.5,
                        "sensitivity_ci_high": s * scale + 0.5,
                        "ci_level": 0.95,
                        "detected": "yes",
                    }
                )
    return pd.DataFrame(rows)


def test_strength_response_reads_fd_rows_of_families_with_two_strengths():
    out = strength_response(_effects())
    assert tuple(out.columns) == STRENGTH_COLUMNS
    assert set(out["family"]) == {"rotate"}  # noise@4 alone and gender have no curve
    assert len(out) == 3 * 2  # three strengths x two spaces, FD rows only
    a = out[out["space"] == "a"]
    assert list(a["strength"]) == [10.0, 30.0, 90.0]  # sorted by strength, not by id
    np.testing.assert_allclose(a["sensitivity"], [1.0, 2.0, 4.0])
    np.testing.assert_allclose(a["share_of_top"], [0.25, 0.5, 1.0])
    b = out[out["space"] == "b"]
    np.testing.assert_allclose(b["share_of_top"], [2.0, 4.0, 1.0])  # not monotone: as is
    np.testing.assert_allclose(b["sensitivity_ci_low"], [19.5, 39.5, 9.5])


def test_strength_response_without_families_and_bad_input():
    eff = _effects()
    assert strength_response(eff[~eff["intervention"].str.startswith("rotate")]) is None
    with pytest.raises(ValueError, match="missing columns"):
        strength_response(eff.drop(columns="sensitivity"))
    top_negative = eff.copy()
    top_negative.loc[top_negative["intervention"] == "rotate@90", "sensitivity"] = -1.0
    out = strength_response(top_negative)
    assert out["share_of_top"].isna().all()  # no shape where the top is not above 0
