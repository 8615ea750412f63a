"""Analysis of sweep tables: dose curves, normalisations, regions."""

import numpy as np
import pandas as pd
import pytest

from counterfactual.analysis import (
    dose_curves,
    load_dose_table,
    reference_fd,
    reference_normalised,
    region_matrix,
    region_sensitivity,
    term_shares,
    validate_dose_table,
)


def _rows(interv, space, delta, fds, mean_share=0.5, trained=True):
    return [
        {
            "intervention": interv,
            "space": space,
            "space_label": space if trained else f"{space} (untrained)",
            "trained": trained,
            "delta": delta,
            "draw": k,
            "n_pairs": 50,
            "fd": fd,
            "mean_term": mean_share * fd,
            "trace_term": (1 - mean_share) * fd,
        }
        for k, fd in enumerate(fds)
    ]


def _known_table():
    """delta=0 draws 0.9, 1.0, 1.1 (mean 1, sd 0.1); delta=1 draws all 5 (mean share 0.6)."""
    rows = (
        _rows("hat", "a", 0.0, [0.9, 1.0, 1.1], mean_share=0.2)
        + _rows("hat", "a", 0.1 + 0.2, [1.5, 1.6, 1.4])  # 0.30000000000000004 as from a CSV
        + _rows("hat", "a", 1.0, [5.0, 5.0, 5.0], mean_share=0.6)
        + _rows("hat", "r", 0.0, [90.0, 100.0, 110.0], trained=False)
        + _rows("hat", "r", 1.0, [200.0, 200.0, 200.0], trained=False)
    )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------- tables
def test_dose_table_validation_and_loading(tmp_path):
    table = _known_table()
    with pytest.raises(ValueError, match=r"missing columns \['trace_term'\]"):
        validate_dose_table(table.drop(columns="trace_term"))
    (tmp_path / "tables").mkdir()
    table.assign(trained=table.trained.astype(str)).to_csv(
        tmp_path / "tables" / "dose_response.csv", index=False
    )
    loaded = load_dose_table(tmp_path)
    assert loaded.trained.dtype == bool and loaded.fd.dtype == np.float64
    pd.testing.assert_frame_equal(term_shares(loaded, n_boot=50), term_shares(table, n_boot=50))
    with pytest.raises(FileNotFoundError, match="region"):
        from counterfactual.run import read_table

        read_table(tmp_path, "region")


def test_dose_curves_summaries_and_seeded_cis():
    table = _known_table()
    curves = dose_curves(table, n_boot=500, seed=3)
    a = curves[curves.space == "a"].set_index("delta")
    assert list(a.index) == pytest.approx([0.0, 0.3, 1.0])
    assert a.loc[0.0, "fd_mean"] == pytest.approx(1.0) and a.loc[0.0, "fd_sd"] == pytest.approx(0.1)
    assert a.loc[0.0, "fd_ci_low"] >= 0.9 and a.loc[0.0, "fd_ci_high"] <= 1.1
    assert a.loc[0.0, "fd_ci_low"] < 1.0 < a.loc[0.0, "fd_ci_high"]
    assert a.loc[1.0, "fd_ci_low"] == a.loc[1.0, "fd_ci_high"] == 5.0
    assert a.loc[1.0, "mean_term_mean"] == pytest.approx(3.0)
    assert set(curves[curves.space == "r"].space_label) == {"r (untrained)"}
    shuffled = table.sample(frac=1.0, random_state=0)
    pd.testing.assert_frame_equal(curves, dose_curves(shuffled, n_boot=500, seed=3))
    other = dose_curves(table, n_boot=500, seed=4)
    assert not np.allclose(curves.fd_ci_low, other.fd_ci_low)


# ------------------------------------------------------------------------ normalisation
def test_reference_normalisation_known_answers():
    region = pd.DataFrame(
        {
            "region": ["eyes", "all", "eyes", "all"],
            "space": ["a", "a", "r", "r"],
            "fd": [2.0, 10.0, 40.0, 400.0],
            "fd_reference": [10.0, 10.0, 400.0, 400.0],
        }
    )
    ref = reference_fd(region)
    out = reference_normalised(_known_table(), ref, n_boot=100).set_index("space")
    assert out.loc["a", "ratio_to_reference"] == pytest.approx(0.5)
    assert out.loc["r", "ratio_to_reference"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="different reference FDs"):
        reference_fd(region.assign(fd_reference=[10.0, 11.0, 400.0, 400.0]))
    with pytest.raises(ValueError, match="no full-distortion reference FD for space 'r'"):
        reference_normalised(_known_table(), ref[ref.space == "a"])


def test_term_shares_known_answers():
    out = term_shares(_known_table(), n_boot=200).set_index("space").loc["a"]
    assert out.mean_term_share == pytest.approx(0.6) and out.trace_term_share == pytest.approx(0.4)
    assert out.share_ci_low == pytest.approx(0.6) and out.share_ci_high == pytest.approx(0.6)
    # change from delta=0: mean term 0.2 -> 3.0, trace term 0.8 -> 2.0: 2.8 / 4.0
    assert out.change_mean_term_share == pytest.approx(0.7)
    assert out.change_share_ci_low <= 0.7 <= out.change_share_ci_high


# ----------------------------------------------------------------------------- summary
def test_region_sensitivity_normalised_by_full_blur(tmp_path):
    # the sweep's tables/region layout: one row per region x space, no "all" row of its own
    region = pd.DataFrame(
        {
            "intervention": ["blur:eyes", "blur:mouth"] * 2,
            "region": ["eyes", "mouth"] * 2,
            "space": ["inception-fid"] * 2 + ["random-inception"] * 2,
            "space_label": ["inception-fid"] * 2 + ["random-inception (untrained)"] * 2,
            "trained": [True, True, False, False],
            "fd": [3.0, 1.0, 0.2, 0.4],
            "fd_reference": [12.0, 12.0, 0.8, 0.8],
            "normalised_draw_mean": [0.26, 0.09, 0.25, 0.5],
            "normalised_draw_sd": [0.01, 0.01, 0.02, 0.02],
        }
    )
    (tmp_path / "tables").mkdir()
    region.to_csv(tmp_path / "tables" / "region.csv", index=False)
    from counterfactual.run import read_table

    out = region_sensitivity(read_table(tmp_path, "region"))
    assert out.normalised.dtype == np.float64 and out.trained.dtype == bool
    from counterfactual.run.schemas import REGION_COLUMNS

    assert list(out.columns) == list(REGION_COLUMNS)  # one schema for the region table
    assert out.mean_term.isna().all()  # a column this hand-made input lacks
    m = region_matrix(out)
    assert m.loc["eyes", "inception-fid"] == pytest.approx(0.25)
    assert m.loc["mouth", "random-inception (untrained)"] == pytest.approx(0.5)
    assert (
        out.set_index(["region", "space"]).loc[("eyes", "inception-fid"), "normalised_draw_sd"]
        == 0.01
    )
    ref = reference_fd(region).set_index("space").fd_reference
    assert ref["inception-fid"] == 12.0 and ref["random-inception"] == 0.8
    zero = region_sensitivity(
        region.assign(fd_reference=0.0)[["region", "space", "fd", "fd_reference"]]
    )
    assert zero.normalised.isna().all() and zero.normalised_draw_mean.isna().all()
    with pytest.raises(ValueError, match="several rows"):
        region_matrix(pd.concat([out, out]))


# --------------------------------------------------------------------- with the sweep
def test_pipeline_on_rows_from_the_sweep_dose_engine():
    """Dose rows computed by counterfactual.sweep.dose from synthetic pairs feed every step."""
    from counterfactual.analysis import fit_dose_table
    from counterfactual.metrics import frechet_distance_features
    from counterfactual.sweep.dose import dose_response, plan_draws

    rng = np.random.default_rng(0)
    base = rng.normal(size=(80, 3))
    shifts = {"strong": 1.0, "weak": 0.3}
    deltas = [round(0.1 * k, 10) for k in range(11)]
    draws = plan_draws(80, 80, deltas, 4, seed=0)  # all pairs in every draw
    rows = []
    for space, shift in shifts.items():
        twin = base + shift * np.array([1.0, 0.0, 0.0]) + 0.1 * rng.normal(size=(80, 3))
        res = dose_response(base, twin, draws)
        rows += [
            {"intervention": "hat", "space": space, "space_label": space, "trained": True, **r}
            for r in res.rows()
        ]
        fd1 = [r["fd"] for r in res.rows() if r["delta"] == 1.0]
        # every pair in every draw: FD(1) is FD(base set, twin set) of the single-pair metrics
        assert fd1[0] == pytest.approx(float(frechet_distance_features(base, twin)), rel=1e-10)
    table = pd.DataFrame(rows)
    fits = fit_dose_table(table).set_index("space")
    curves = dose_curves(table, n_boot=200).set_index(["space", "delta"]).fd_mean
    for space, shift in shifts.items():
        # mean shift s in one coordinate: FD(delta) ~ (s delta)^2 + small trace term
        assert fits.loc[space, "b2"] == pytest.approx(shift**2, rel=0.15)
        assert fits.loc[space, "sensitivity"] == pytest.approx(
            curves.loc[(space, 1.0)] - curves.loc[(space, 0.0)], rel=0.1
        )
