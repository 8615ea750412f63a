"""Which feature spaces over- or under-react to an attribute, relative to the other spaces.

For each attribute (intervention) and space, a normalised sensitivity ``s`` (scale-free, see
``MEASURES``) is computed from the dose-response draws; its log-ratio to the median across
the attribute's spaces is ``log_ratio = log s - median over spaces of log s``.
Uncertainty: the draws at delta = 1 and delta = 0 of every space are resampled ``n_boot``
times (percentile CI of ``log_ratio``, the median recomputed in each replicate); the two-sided
bootstrap p-value for log_ratio = 0 is ``min(1, 2 * min((1 + #{b <= 0}), (1 + #{b >= 0})) /
(1 + n_boot))``, and it is corrected (``correction``: Holm by default, or "bh") across all
attributes x spaces.

Rule: a space **over-reacts** to an attribute when the CI of its log-ratio lies entirely above
``margin`` and its corrected p < ``alpha``; it **under-reacts** when the CI lies entirely below
``-margin`` and its corrected p < ``alpha``; otherwise it is **in line**. ``margin`` (default 0)
is the smallest log-ratio worth calling a reaction, e.g. log(1.5) to ignore differences under
50% that tight CIs would otherwise flag. With one space per attribute the log-ratio is 0 and
every space is in line.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ._common import (at_delta, bootstrap_mean, check_count, check_level, frame, group_rng,
                      percentile_interval, require_columns)
from .multiple import adjust_pvalues
from .normalise import reference_map
from .tables import validate_dose_table


def _positive_ratio(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.asarray(b) > 0, np.asarray(a, dtype=np.float64) / b, np.nan)


# name -> (fd1 replicates, fd0 replicates, reference FD) -> normalised sensitivity.
MEASURES: dict[str, Callable[[np.ndarray, np.ndarray, float], np.ndarray]] = {
    # FD(1) / mean FD(0): times the no-gap null.
    "null_ratio": lambda fd1, fd0, ref: _positive_ratio(fd1, fd0),
    # FD(1) / FD(base, full distortion) in the same space.
    "reference_ratio": lambda fd1, fd0, ref: _positive_ratio(fd1, ref),
}

REACTION_COLUMNS: tuple[str, ...] = (
    "intervention", "space", "space_label", "trained", "measure", "sensitivity",
    "sensitivity_ci_low", "sensitivity_ci_high", "log_ratio", "log_ratio_ci_low",
    "log_ratio_ci_high", "p_value", "p_adjusted", "correction", "reaction", "n_spaces", "alpha", "margin",
    "ci_level", "n_boot", "seed")


def space_reactions(table: pd.DataFrame, measure: str = "null_ratio",
                    reference: pd.DataFrame | None = None, evidence: pd.DataFrame | None = None,
                    n_boot: int = 2000, ci: float = 0.95, alpha: float = 0.05,
                    correction: str = "holm", margin: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """Over/under-reaction of each space per attribute (columns ``REACTION_COLUMNS``).

    ``measure`` picks the normalised sensitivity (``MEASURES``); "reference_ratio" needs
    ``reference`` (columns ``space``, ``fd_reference``). ``evidence``, e.g. the permutation
    table, adds ``p_perm`` (its ``p_value``) and ``p_perm_adjusted`` (its ``p_<correction>``)
    columns: whether the space detects the attribute at all.
    """
    table = validate_dose_table(table)
    n_boot, ci = check_count(n_boot, "n_boot"), check_level(ci)
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; choose from {sorted(MEASURES)}")
    ref = reference_map(reference) if reference is not None else {}
    if measure == "reference_ratio" and reference is None:
        raise ValueError("measure 'reference_ratio' needs a reference table (space, fd_reference)")
    rows = []
    for interv, gi in table.groupby("intervention", sort=True):
        spaces, point, boot = [], [], []
        for space, g in gi.groupby("space", sort=True):
            f1 = at_delta(g, 1.0).sort_values("draw")["fd"].to_numpy(np.float64)
            f0 = at_delta(g, 0.0).sort_values("draw")["fd"].to_numpy(np.float64)
            if f1.size == 0 or (measure == "null_ratio" and f0.size == 0):
                raise ValueError(f"intervention {interv!r} in space {space!r} lacks draws at "
                                 f"delta = 1 or 0 needed by measure {measure!r}")
            if measure == "reference_ratio" and space not in ref:
                raise ValueError(f"no reference FD for space {space!r}")
            rng = group_rng(seed, interv, space)
            b1 = bootstrap_mean(f1, n_boot, rng)
            b0 = bootstrap_mean(f0, n_boot, rng) if f0.size else np.full(n_boot, np.nan)
            fn, r = MEASURES[measure], ref.get(space, np.nan)
            spaces.append(g.iloc[0])
            point.append(float(fn(np.array(f1.mean()), np.array(f0.mean() if f0.size else np.nan), r)))
            boot.append(fn(b1, b0, r))
        log_point = np.log(np.where(np.array(point) > 0, point, np.nan))
        with np.errstate(divide="ignore", invalid="ignore"):
            log_boot = np.log(np.where(np.array(boot) > 0, np.array(boot), np.nan))  # [S, B]
        lr = log_point - np.nanmedian(log_point)
        lr_boot = log_boot - np.nanmedian(log_boot, axis=0, keepdims=True)
        for k, first in enumerate(spaces):
            s_lo, s_hi = percentile_interval(boot[k], ci)
            lo, hi = percentile_interval(lr_boot[k], ci)
            rows.append({"intervention": interv, "space": first["space"],
                         "space_label": first["space_label"], "trained": bool(first["trained"]),
                         "measure": measure, "sensitivity": point[k], "sensitivity_ci_low": float(s_lo),
                         "sensitivity_ci_high": float(s_hi), "log_ratio": lr[k],
                         "log_ratio_ci_low": float(lo), "log_ratio_ci_high": float(hi),
                         "p_value": _two_sided_p(lr_boot[k]), "n_spaces": len(spaces)})
    df = frame(rows, REACTION_COLUMNS)
    df["p_adjusted"] = adjust_pvalues(df["p_value"].to_numpy(np.float64), correction)
    df["correction"] = correction
    df["reaction"] = classify(df, alpha, margin)
    df["margin"] = float(margin)
    df["alpha"], df["ci_level"], df["n_boot"], df["seed"] = float(alpha), ci, n_boot, int(seed)
    df = df[list(REACTION_COLUMNS)]
    if evidence is not None:
        df = _merge_evidence(df, evidence, correction)
    return df


def _two_sided_p(samples: np.ndarray) -> float:
    """Bootstrap two-sided p-value for 0 (NaN when every replicate is NaN)."""
    s = samples[np.isfinite(samples)]
    if s.size == 0:
        return float("nan")
    below, above = np.count_nonzero(s <= 0), np.count_nonzero(s >= 0)
    return float(min(1.0, 2.0 * (1.0 + min(below, above)) / (1.0 + s.size)))


def classify(df: pd.DataFrame, alpha: float = 0.05, margin: float = 0.0) -> np.ndarray:
    """The module's rule on columns log_ratio_ci_low/high and p_adjusted: over/under/in line."""
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    require_columns(df, ("log_ratio_ci_low", "log_ratio_ci_high", "p_adjusted"), "reaction table")
    sig = np.nan_to_num(df["p_adjusted"].to_numpy(np.float64), nan=1.0) < alpha
    over = sig & (df["log_ratio_ci_low"].to_numpy(np.float64) > margin)
    under = sig & (df["log_ratio_ci_high"].to_numpy(np.float64) < -margin)
    return np.where(over, "over", np.where(under, "under", "in line"))


def _merge_evidence(df: pd.DataFrame, evidence: pd.DataFrame, correction: str) -> pd.DataFrame:
    adj = f"p_{correction}"
    require_columns(evidence, ("intervention", "space", "p_value", adj), "evidence table")
    ev = evidence[["intervention", "space", "p_value", adj]].rename(
        columns={"p_value": "p_perm", adj: "p_perm_adjusted"})
    return df.merge(ev, on=["intervention", "space"], how="left", validate="one_to_one")
