"""Dose-response curves: FD against the prevalence gap delta, per intervention x space.

Two sources of uncertainty are offered:
- over draws (``dose_curves``): the sweep's repeated random draws at each delta are resampled
  with replacement; the percentile interval of the mean FD is reported;
- over pairs (``bootstrap_over_pairs``): given cached base/twin features, the pairs are
  resampled with replacement and FD is recomputed at each delta (each replicate also draws a
  fresh mixture). Duplicated pairs inflate FD's finite-sample bias a little, so this interval is
  slightly conservative on the high side.
Every group draws from its own stream seeded by ``(seed, intervention, space, delta)``; the seed
is recorded in the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from counterfactual.metrics import bootstrap
from counterfactual.metrics.fd_factors import equal_n_sets, fd_features
from counterfactual.mixing import mix_pairs

from ._common import (
    as_float_features,
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


PAIR_BOOT_COLUMNS: tuple[str, ...] = (
    "delta",
    "n_pairs",
    "dim",
    "fd",
    "mean_term",
    "trace_term",
    "boot_mean",
    "boot_sd",
    "fd_ci_low",
    "fd_ci_high",
    "ci_level",
    "n_boot",
    "seed",
)


def bootstrap_over_pairs(
    base: np.ndarray,
    twin: np.ndarray,
    deltas: Sequence[float] = (1.0,),
    n_boot: int = 200,
    seed: int = 0,
    ci: float = 0.95,
) -> pd.DataFrame:
    """FD at each delta with a percentile CI from resampling matched pairs.

    ``base`` and ``twin`` are cached features [N, dim] (row i of twin pairs with row i of base).
    The point estimate ``fd`` (with its terms) mixes the original pairs once at each delta;
    each of ``n_boot`` replicates (``counterfactual.metrics.bootstrap``, paired) resamples N
    pairs with replacement and draws a fresh mixture. The mixing stream is seeded by
    ``(seed, "pairs", delta)`` and the resampling seed is drawn from it.
    Returns one row per delta with columns ``PAIR_BOOT_COLUMNS``.
    """
    base = as_float_features(base, "base features")
    twin = as_float_features(twin, "twin features")
    if base.shape != twin.shape:
        raise ValueError(f"base shape {base.shape} != twin shape {twin.shape}")
    n_boot = check_count(n_boot, "n_boot", minimum=2)
    ci = check_level(ci)
    rows = []
    for delta in deltas:
        mix_rng = group_rng(seed, "pairs", round(float(delta), 9))
        point = fd_features(*mix_pairs(base, twin, float(delta), mix_rng))

        def statistic(
            b: np.ndarray, t: np.ndarray, delta: float = float(delta), rng: Any = mix_rng
        ) -> float:
            return fd_features(*mix_pairs(b, t, delta, rng)).value

        with equal_n_sets():
            res = bootstrap(
                statistic,
                base,
                twin,
                n_boot=n_boot,
                ci=ci,
                paired=True,
                seed=int(mix_rng.integers(2**63)),
            )
        rows.append(
            {
                "delta": float(delta),
                "n_pairs": base.shape[0],
                "dim": base.shape[1],
                "fd": point.value,
                "mean_term": point.mean_term,
                "trace_term": point.trace_term,
                "boot_mean": float(res.samples.mean()),
                "boot_sd": res.std_error,
                "fd_ci_low": res.low,
                "fd_ci_high": res.high,
                "ci_level": ci,
                "n_boot": n_boot,
                "seed": int(seed),
            }
        )
    return frame(rows, PAIR_BOOT_COLUMNS)
