"""Sensitivities made comparable across feature spaces (whose FD scales differ by orders).

From a dose-response table (draws at delta = 0 and delta = 1 per intervention x space):
- ``reference_normalised``: FD(1) / FD(base, full distortion) in the same space, the way the
  reference study normalises regions (the reference is ``blur:all`` from the region table);
- ``term_shares``: the mean-term share mean_term / (mean_term + trace_term) at delta = 1, and
  the same share of the change from delta = 0 (how much of the move is a shift of the mean).
FD(1) is the mean over draws at delta = 1 and mean FD(0) the mean over draws at delta = 0.
(The sensitivity itself, FD(1) with the delta = 0 floor removed, and its face-level interval
are `counterfactual.analysis.sensitivity`'s.)
CIs are percentile intervals from resampling the draws (each delta independently) ``n_boot``
times, seeded by ``(seed, intervention, space)``; the reference FD is treated as fixed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._common import (
    at_delta,
    bootstrap_mean,
    check_count,
    check_level,
    frame,
    group_rng,
    percentile_interval,
    require_columns,
)
from .tables import validate_dose_table

_LABELS = ("intervention", "space", "space_label", "trained")


def _draws(g: pd.DataFrame, delta: float, col: str = "fd") -> np.ndarray:
    draws: np.ndarray = at_delta(g, delta).sort_values("draw")[col].to_numpy(np.float64)
    return draws


def _labels(g: pd.DataFrame, interv: str, space: str) -> dict[str, Any]:
    return {
        "intervention": interv,
        "space": space,
        "space_label": g["space_label"].iloc[0],
        "trained": bool(g["trained"].iloc[0]),
    }


def _ci(samples: np.ndarray, ci: float) -> tuple[float, float]:
    lo, hi = percentile_interval(samples, ci)
    return float(lo), float(hi)


def _safe_div(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.asarray(b) > 0, np.asarray(a, dtype=np.float64) / np.asarray(b), np.nan)


def _need(f1: np.ndarray, f0: np.ndarray | None, interv: str, space: str) -> None:
    if f1.size == 0 or (f0 is not None and f0.size == 0):
        missing = [d for d, a in (("1", f1), ("0", f0)) if a is not None and a.size == 0]
        raise ValueError(
            f"dose-response table has no draws at delta = {', '.join(missing)} for "
            f"intervention {interv!r} in space {space!r}"
        )


REFERENCE_COLUMNS: tuple[str, ...] = (
    *_LABELS,
    "fd1",
    "n_draws1",
    "fd_reference",
    "ratio_to_reference",
    "ratio_ci_low",
    "ratio_ci_high",
    "ci_level",
    "n_boot",
    "seed",
)


def reference_normalised(
    table: pd.DataFrame,
    reference: pd.DataFrame,
    n_boot: int = 2000,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """FD(1) / FD(base, full distortion) per intervention x space (columns ``REFERENCE_COLUMNS``).

    ``reference`` has one row per space with columns ``space`` and ``fd_reference`` (see
    ``region.reference_fd``). A space without a reference raises a ``ValueError`` naming it.
    """
    table, n_boot, ci = validate_dose_table(table), check_count(n_boot, "n_boot"), check_level(ci)
    ref = reference_map(reference)
    rows = []
    for (interv, space), g in table.groupby(["intervention", "space"], sort=True):
        if space not in ref:
            raise ValueError(
                f"no full-distortion reference FD for space {space!r} "
                f"(reference covers {sorted(ref)})"
            )
        f1 = _draws(g, 1.0)
        _need(f1, None, interv, space)
        b1 = bootstrap_mean(f1, n_boot, group_rng(seed, interv, space))
        rows.append(
            {
                **_labels(g, interv, space),
                "fd1": f1.mean(),
                "n_draws1": f1.size,
                "fd_reference": ref[space],
                "ratio_to_reference": float(_safe_div(f1.mean(), ref[space])),
                **dict(zip(("ratio_ci_low", "ratio_ci_high"), _ci(_safe_div(b1, ref[space]), ci))),
                "ci_level": ci,
                "n_boot": n_boot,
                "seed": int(seed),
            }
        )
    return frame(rows, REFERENCE_COLUMNS)


def reference_map(reference: pd.DataFrame) -> dict[str, float]:
    """space -> full-distortion reference FD, from a table with columns space, fd_reference."""
    require_columns(reference, ("space", "fd_reference"), "reference table")
    if reference["space"].duplicated().any():
        dup = sorted(reference.loc[reference["space"].duplicated(), "space"].unique())
        raise ValueError(f"reference table has more than one row for spaces {dup}")
    return dict(zip(reference["space"], reference["fd_reference"].astype(np.float64)))


SHARE_COLUMNS: tuple[str, ...] = (
    *_LABELS,
    "delta",
    "n_draws",
    "mean_term",
    "trace_term",
    "mean_term_share",
    "share_ci_low",
    "share_ci_high",
    "trace_term_share",
    "change_mean_term_share",
    "change_share_ci_low",
    "change_share_ci_high",
    "ci_level",
    "n_boot",
    "seed",
)


def term_shares(
    table: pd.DataFrame, delta: float = 1.0, n_boot: int = 2000, ci: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """Mean-term vs trace-term share of FD at ``delta`` (columns ``SHARE_COLUMNS``).

    ``mean_term_share`` = mean(mean_term) / (mean(mean_term) + mean(trace_term)) over the draws
    at ``delta`` (NaN when both are 0); ``trace_term_share`` = 1 - it. The
    ``change_mean_term_share`` is the same share of the change from delta = 0,
    d_mean / (d_mean + d_trace) with d = term(delta) - term(0); it can leave [0, 1] when the
    two terms move in opposite directions (NaN without delta = 0 draws).
    """
    table, n_boot, ci = validate_dose_table(table), check_count(n_boot, "n_boot"), check_level(ci)
    rows = []
    for (interv, space), g in table.groupby(["intervention", "space"], sort=True):
        m1, t1 = _draws(g, delta, "mean_term"), _draws(g, delta, "trace_term")
        if m1.size == 0:
            raise ValueError(
                f"dose-response table has no draws at delta = {delta} for "
                f"intervention {interv!r} in space {space!r}"
            )
        m0, t0 = _draws(g, 0.0, "mean_term"), _draws(g, 0.0, "trace_term")
        rng = group_rng(seed, interv, space, round(float(delta), 9))
        i1 = rng.integers(0, m1.size, size=(n_boot, m1.size))
        bm1, bt1 = m1[i1].mean(axis=1), t1[i1].mean(axis=1)
        share_b = _safe_div(bm1, bm1 + bt1)
        share = float(_safe_div(m1.mean(), m1.mean() + t1.mean()))
        if m0.size:
            i0 = rng.integers(0, m0.size, size=(n_boot, m0.size))
            dm_b, dt_b = bm1 - m0[i0].mean(axis=1), bt1 - t0[i0].mean(axis=1)
            dm, dt = m1.mean() - m0.mean(), t1.mean() - t0.mean()
            change = float(_ratio_any_sign(dm, dm + dt))
            change_ci = _ci(_ratio_any_sign(dm_b, dm_b + dt_b), ci)
        else:
            change, change_ci = np.nan, (np.nan, np.nan)
        rows.append(
            {
                **_labels(g, interv, space),
                "delta": float(delta),
                "n_draws": m1.size,
                "mean_term": m1.mean(),
                "trace_term": t1.mean(),
                "mean_term_share": share,
                **dict(zip(("share_ci_low", "share_ci_high"), _ci(share_b, ci))),
                "trace_term_share": 1.0 - share,
                "change_mean_term_share": change,
                "change_share_ci_low": change_ci[0],
                "change_share_ci_high": change_ci[1],
                "ci_level": ci,
                "n_boot": n_boot,
                "seed": int(seed),
            }
        )
    return frame(rows, SHARE_COLUMNS)


def _ratio_any_sign(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.asarray(b) != 0, np.asarray(a, dtype=np.float64) / np.asarray(b), np.nan)
