"""The sweep's analysis pipeline: every derived table of a finished sweep run, from its tables
(and, for permutation tests, its cached features via the run's feature index). The report
renders what `sweep_tables` returns and writes `SweepTables.frames()` to RUN_DIR/report_tables.

- curves: `dose_curves` (mean FD per delta with a bootstrap CI over draws, mean/trace terms)
- fits: `fit_dose_table` (quadratic fit, sensitivity FD(1) - FD(0) with an HC3 CI)
- null: `null_normalised` (FD(1) / mean FD(0) with a CI); shares: `term_shares`
- effects: one row per attribute x space joining the three, with a p-value for "the attribute
  moves FD in this space" and its Holm correction across all attributes x spaces. The p-value
  is the paired permutation test (`permutation_tests`) when permutations were asked for and
  the features are cached, else the Wald test of the fitted sensitivity (HC3 SE, normal).
- reactions: `space_reactions` (over/under-reaction relative to the other spaces)
- region: `region_sensitivity` and its region x space matrix
Analyses that cannot run (missing deltas, one space, ...) leave a note instead of failing.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
from scipy import stats

from counterfactual.metrics import RankDeficientCovarianceWarning
from counterfactual.run.reader import RunData
from counterfactual.run.schemas import BASE_SET

from .dose import dose_curves
from .fit import fit_dose_table
from .multiple import adjust_pvalues
from .normalise import null_normalised, term_shares
from .pairs import PairFeatures
from .permutation import permutation_tests
from .region import region_matrix, region_sensitivity
from .summary import space_reactions
from .tables import validate_dose_table

EFFECT_COLUMNS: tuple[str, ...] = (
    "intervention", "space", "space_label", "trained", "fd0", "fd1", "sensitivity",
    "sensitivity_ci_low", "sensitivity_ci_high", "ratio_to_null", "ratio_ci_low",
    "ratio_ci_high", "mean_term_share", "p_value", "p_holm", "p_source")


@dataclass
class SweepTables:
    """Derived tables of a sweep run (None where the analysis could not run)."""
    curves: pd.DataFrame | None = None
    fits: pd.DataFrame | None = None
    null: pd.DataFrame | None = None
    shares: pd.DataFrame | None = None
    effects: pd.DataFrame | None = None
    reactions: pd.DataFrame | None = None
    region: pd.DataFrame | None = None
    region_matrix: pd.DataFrame | None = None
    permutation: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    def frames(self) -> dict[str, pd.DataFrame]:
        """Named tables to write next to the report."""
        names = ("curves", "fits", "null", "shares", "effects", "reactions", "region",
                 "permutation")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


def _attempt(notes: list[str], what: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except (ValueError, KeyError, RuntimeError, FileNotFoundError) as exc:
        notes.append(f"{what} not available: {exc}")
        return None


def wald_p(estimate: np.ndarray, se: np.ndarray) -> np.ndarray:
    """Two-sided normal p-value of estimate / se (NaN where se is not positive)."""
    est, se = np.asarray(estimate, np.float64), np.asarray(se, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, est / se, np.nan)
    return np.where(np.isfinite(z), 2.0 * stats.norm.sf(np.abs(z)), np.nan)


def effects_table(fits: pd.DataFrame, null: pd.DataFrame | None, shares: pd.DataFrame | None,
                  permutation: pd.DataFrame | None) -> pd.DataFrame:
    """One row per attribute x space: sensitivity, ratio to null, term share, p and Holm p."""
    keys = ["intervention", "space"]
    df = fits[[*keys, "space_label", "trained", "fd0_fit", "fd1_fit", "sensitivity",
               "sensitivity_se", "sensitivity_ci_low", "sensitivity_ci_high"]].copy()
    if null is not None:      # observed means over draws at delta = 0 and 1
        part = null[[*keys, "null_mean", "fd1", "ratio_to_null", "ratio_ci_low", "ratio_ci_high"]]
        df = df.merge(part.rename(columns={"null_mean": "fd0"}), on=keys, how="left")
    else:                     # fitted values
        df["fd0"], df["fd1"] = df["fd0_fit"], df["fd1_fit"]
        df[["ratio_to_null", "ratio_ci_low", "ratio_ci_high"]] = np.nan
    if shares is not None:
        df = df.merge(shares[[*keys, "mean_term_share"]], on=keys, how="left")
    else:
        df["mean_term_share"] = np.nan
    if permutation is not None:
        df = df.merge(permutation[[*keys, "p_value"]], on=keys, how="left")
        df["p_source"] = f"permutation ({int(permutation['n_perm'].iloc[0])} permutations)"
    else:
        df["p_value"] = wald_p(df["sensitivity"], df["sensitivity_se"])
        df["p_source"] = "Wald test of the fitted sensitivity (HC3)"
    df["p_holm"] = adjust_pvalues(df["p_value"].to_numpy(np.float64), "holm")
    return df[list(EFFECT_COLUMNS)].sort_values(keys).reset_index(drop=True)


def pair_features(run: RunData) -> list[PairFeatures]:
    """Base/twin features of every dose intervention x space, read through the run's
    feature index (the dose table names the intervention x space pairs)."""
    dose = run.table("dose_response")
    if dose is None:
        raise FileNotFoundError(f"{run.root} has no dose-response table")
    index = run.feature_index
    out = []
    for key, space_name in dict.fromkeys(zip(dose["intervention"], dose["space"])):
        space = run.space(space_name)
        out.append(PairFeatures(key, space_name, index.load(BASE_SET, space_name),
                                   index.load(key, space_name), trained=space.trained,
                                   space_label=space.label))
    return out


def sweep_tables(run: RunData, n_boot: int = 2000, seed: int = 0,
                 permutations: int = 0) -> SweepTables:
    """Every derived table of a sweep run (see the module docstring)."""
    out = SweepTables()
    notes = out.notes
    dose = run.table("dose_response")
    if dose is not None:
        dose = _attempt(notes, "dose-response table", lambda: validate_dose_table(dose))
    if dose is not None:
        out.curves = _attempt(notes, "dose curves",
                              lambda: dose_curves(dose, n_boot=n_boot, seed=seed))
        out.fits = _attempt(notes, "dose-response fits", lambda: fit_dose_table(dose))
        out.null = _attempt(notes, "null-normalised sensitivity",
                            lambda: null_normalised(dose, n_boot=n_boot, seed=seed))
        out.shares = _attempt(notes, "term shares",
                              lambda: term_shares(dose, n_boot=n_boot, seed=seed))
        if permutations > 0:
            with warnings.catch_warnings():   # n <= dim is expected; the test is exact anyway
                warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
                out.permutation = _attempt(notes, "permutation tests", lambda: permutation_tests(
                    pair_features(run), n_perm=permutations, seed=seed))
        if out.fits is not None:
            out.effects = effects_table(out.fits, out.null, out.shares, out.permutation)
        out.reactions = _attempt(notes, "cross-space summary",
                                 lambda: space_reactions(dose, n_boot=n_boot, seed=seed))
    region = run.table("region")
    if region is not None and len(region):
        out.region = _attempt(notes, "region sensitivity", lambda: region_sensitivity(region))
        if out.region is not None:
            out.region_matrix = _attempt(notes, "region matrix", lambda: region_matrix(out.region))
    return out
