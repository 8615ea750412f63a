"""Dose-response curves: FD against the prevalence gap delta, per intervention x space.

``dose_curves``: the sweep's repeated random draws at each delta are resampled with replacement;
the percentile interval of the mean FD is reported (a description of the curve: the draws reuse
the same faces, so face-level intervals and tests are `counterfactual.analysis.inference`'s).
Every group draws from its own stream seeded by ``(seed, intervention, space, delta)``; the seed
is recorded in the result.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import (
    bootstrap_mean,
    check_count,
    check_level,
    frame,
    group_rng,
    percentile_interval,
)
from .tables import validate_dose_table

CURVE_COLUMNS: tuple[str, ...] = (
    "intervention",
    "space",
    "space_label",
    "trained",
    "delta",
    "n_draws",
    "n_pairs",
    "fd_mean",
    "fd_sd",
    "fd_min",
    "fd_max",
    "fd_ci_low",
    "fd_ci_high",
    "mean_term_mean",
    "trace_term_mean",
    "ci_level",
    "n_boot",
    "seed",
)


def dose_curves(
    table: pd.DataFrame, n_boot: int = 2000, ci: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """Mean and spread of FD over draws at each delta, with a percentile bootstrap CI of the mean.

    Returns one row per intervention x space x delta with columns ``CURVE_COLUMNS``:
    ``n_draws`` draws at that point, ``n_pairs`` (the largest pair count of those draws),
    ``fd_mean``/``fd_sd`` (ddof=1; NaN with one draw)/``fd_min``/``fd_max`` over draws,
    ``fd_ci_low``/``fd_ci_high`` (percentile CI of the mean over ``n_boot`` resamples of the
    draws), the mean over draws of ``mean_term`` and ``trace_term``, and the settings used.
    """
    table = validate_dose_table(table)
    n_boot = check_count(n_boot, "n_boot")
    ci = check_level(ci)
    rows = []
    for (interv, space, delta), g in table.groupby(["intervention", "space", "delta"], sort=True):
        g = g.sort_values("draw")
        fd = g["fd"].to_numpy(dtype=np.float64)
        boot = bootstrap_mean(fd, n_boot, group_rng(seed, interv, space, round(delta, 9)))
        lo, hi = percentile_interval(boot, ci)
        rows.append(
            {
                "intervention": interv,
                "space": space,
                "space_label": g["space_label"].iloc[0],
                "trained": bool(g["trained"].iloc[0]),
                "delta": float(delta),
                "n_draws": len(fd),
                "n_pairs": int(g["n_pairs"].max()),
                "fd_mean": fd.mean(),
                "fd_sd": fd.std(ddof=1) if len(fd) > 1 else np.nan,
                "fd_min": fd.min(),
                "fd_max": fd.max(),
                "fd_ci_low": float(lo),
                "fd_ci_high": float(hi),
                "mean_term_mean": g["mean_term"].mean(),
                "trace_term_mean": g["trace_term"].mean(),
                "ci_level": ci,
                "n_boot": n_boot,
                "seed": int(seed),
            }
        )
    return frame(rows, CURVE_COLUMNS)
