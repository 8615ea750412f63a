"""Fitted dose-response: FD = b0 + b1*delta + b2*delta^2 by OLS (or WLS) with HC3 robust errors.

The sensitivity is the fitted change from no gap to a full gap, FD(1) - FD(0) = b1 + b2; its
standard error is sqrt(c' V c) with c = (0, 1, 1) and V the HC3 covariance, and its interval is
the normal one (statsmodels' default for robust covariances; ``use_t=True`` gives t with n - 3
degrees of freedom).

Degenerate inputs raise ``ValueError`` with the reason (``fit_dose_response``) or give a row of
NaN with the reason in ``fit_status`` (``fit_dose_table``): non-finite values, fewer than three
distinct deltas, no more observations than parameters, or an observation with leverage 1 (HC3
divides by 1 - h and is undefined there; add draws or deltas).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from ._common import check_level, frame
from .tables import validate_dose_table

_CONTRAST = np.array([0.0, 1.0, 1.0])


@dataclass(frozen=True)
class DoseFit:
    """A quadratic dose-response fit. ``coef``/``cov`` are (b0, b1, b2) and their HC3 covariance."""

    coef: np.ndarray
    cov: np.ndarray
    n_obs: int
    n_deltas: int
    method: str
    ci_level: float
    use_t: bool
    r_squared: float
    sensitivity: float
    sensitivity_se: float
    sensitivity_ci: tuple[float, float]

    @property
    def se(self) -> np.ndarray:
        se: np.ndarray = np.sqrt(np.diag(self.cov))
        return se

    def predict(self, delta: np.ndarray | float) -> np.ndarray:
        d = np.asarray(delta, dtype=np.float64)
        value: np.ndarray = self.coef[0] + self.coef[1] * d + self.coef[2] * d * d
        return value


def design(delta: np.ndarray) -> np.ndarray:
    """Design matrix [1, delta, delta^2]."""
    d = np.asarray(delta, dtype=np.float64)
    return np.column_stack([np.ones_like(d), d, d * d])


def fit_dose_response(
    delta: np.ndarray,
    fd: np.ndarray,
    weights: np.ndarray | None = None,
    ci: float = 0.95,
    use_t: bool = False,
) -> DoseFit:
    """Fit FD on delta and delta^2 (OLS, or WLS with ``weights``) with HC3 standard errors."""
    d = np.asarray(delta, dtype=np.float64).ravel()
    y = np.asarray(fd, dtype=np.float64).ravel()
    ci = check_level(ci)
    if d.shape != y.shape:
        raise ValueError(f"delta and fd differ in length: {d.size} vs {y.size}")
    if not (np.isfinite(d).all() and np.isfinite(y).all()):
        raise ValueError("delta and fd must be finite (found NaN or inf)")
    n_deltas = int(np.unique(np.round(d, 9)).size)
    if n_deltas < 3:
        raise ValueError(f"a quadratic fit needs at least 3 distinct deltas, got {n_deltas}")
    if d.size <= 3:
        raise ValueError(f"HC3 needs more observations than the 3 parameters, got {d.size}")
    X = design(d)
    if weights is None:
        model, method, sw = sm.OLS(y, X), "ols", np.ones_like(y)
    else:
        w = np.asarray(weights, dtype=np.float64).ravel()
        if w.shape != y.shape or not np.isfinite(w).all() or (w <= 0).any():
            raise ValueError("weights must be finite, positive and one per observation")
        model, method, sw = sm.WLS(y, X, weights=w), "wls", np.sqrt(w)
    Xw = X * sw[:, None]
    leverage = np.einsum("ij,ij->i", Xw, np.linalg.solve(Xw.T @ Xw, Xw.T).T)
    if leverage.max() > 1.0 - 1e-10:
        raise ValueError(
            "an observation has leverage 1 (a delta with a single observation that "
            "the quadratic fits exactly): HC3 is undefined; add draws or deltas"
        )
    res = model.fit(cov_type="HC3", use_t=use_t)
    with np.errstate(divide="ignore", invalid="ignore"):  # constant FD: R^2 is undefined (NaN)
        r_squared = float(res.rsquared) if res.centered_tss > 0 else float("nan")
    coef = np.asarray(res.params, dtype=np.float64)
    cov = np.asarray(res.cov_params(), dtype=np.float64)
    sens = float(_CONTRAST @ coef)
    se = float(np.sqrt(max(_CONTRAST @ cov @ _CONTRAST, 0.0)))
    q = stats.t.ppf(0.5 + ci / 2, d.size - 3) if use_t else stats.norm.ppf(0.5 + ci / 2)
    return DoseFit(
        coef=coef,
        cov=cov,
        n_obs=int(d.size),
        n_deltas=n_deltas,
        method=method,
        ci_level=ci,
        use_t=use_t,
        r_squared=r_squared,
        sensitivity=sens,
        sensitivity_se=se,
        sensitivity_ci=(sens - q * se, sens + q * se),
    )


def inverse_variance_weights(
    delta: np.ndarray, fd: np.ndarray, floor_frac: float = 1e-3
) -> np.ndarray:
    """WLS weights 1/var(FD over draws at the observation's delta).

    Variances below ``floor_frac`` x the median positive per-delta variance are raised to it (a
    delta whose draws coincide, e.g. delta = 1 with a fixed pair set, would get infinite weight).
    """
    d = np.round(np.asarray(delta, dtype=np.float64), 9)
    y = np.asarray(fd, dtype=np.float64)
    keys, inverse = np.unique(d, return_inverse=True)
    var = np.array(
        [
            y[inverse == k].var(ddof=1) if (inverse == k).sum() > 1 else np.nan
            for k in range(keys.size)
        ]
    )
    positive = var[np.isfinite(var) & (var > 0)]
    if positive.size == 0:
        raise ValueError(
            "WLS needs at least one delta whose draws vary (all variances are 0 or undefined)"
        )
    if np.isnan(var).any():
        raise ValueError("WLS needs at least 2 draws at every delta")
    var = np.maximum(var, floor_frac * np.median(positive))
    weights: np.ndarray = 1.0 / var[inverse]
    return weights


# Weighting schemes for fit_dose_table: name -> (delta, fd) -> weights or None (OLS).
WEIGHTINGS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray | None]] = {
    "ols": lambda delta, fd: None,
    "wls": inverse_variance_weights,
}

FIT_COLUMNS: tuple[str, ...] = (
    "intervention",
    "space",
    "space_label",
    "trained",
    "method",
    "n_obs",
    "n_deltas",
    "b0",
    "b1",
    "b2",
    "b0_se",
    "b1_se",
    "b2_se",
    "fd0_fit",
    "fd1_fit",
    "sensitivity",
    "sensitivity_se",
    "sensitivity_ci_low",
    "sensitivity_ci_high",
    "r_squared",
    "ci_level",
    "fit_status",
)


def fit_dose_table(
    table: pd.DataFrame, weighting: str = "ols", ci: float = 0.95, use_t: bool = False
) -> pd.DataFrame:
    """``fit_dose_response`` for every intervention x space of a dose-response table.

    Columns ``FIT_COLUMNS``: coefficients b0 (FD at 0), b1, b2 and their HC3 standard errors,
    fitted FD(0) and FD(1), ``sensitivity`` = FD(1) - FD(0) with SE and CI, R^2, and
    ``fit_status`` ("ok", or why the group could not be fitted; its numbers are then NaN).
    """
    table = validate_dose_table(table)
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {weighting!r}; choose from {sorted(WEIGHTINGS)}")
    rows = []
    for (interv, space), g in table.groupby(["intervention", "space"], sort=True):
        row = {
            "intervention": interv,
            "space": space,
            "space_label": g["space_label"].iloc[0],
            "trained": bool(g["trained"].iloc[0]),
            "method": weighting,
            "n_obs": len(g),
            "n_deltas": int(np.unique(np.round(g["delta"].to_numpy(), 9)).size),
            "ci_level": ci,
        }
        d, y = g["delta"].to_numpy(np.float64), g["fd"].to_numpy(np.float64)
        try:
            f = fit_dose_response(d, y, WEIGHTINGS[weighting](d, y), ci=ci, use_t=use_t)
        except ValueError as exc:
            row.update({c: np.nan for c in FIT_COLUMNS if c not in row}, fit_status=str(exc))
            rows.append(row)
            continue
        se = f.se
        row.update(
            b0=f.coef[0],
            b1=f.coef[1],
            b2=f.coef[2],
            b0_se=se[0],
            b1_se=se[1],
            b2_se=se[2],
            fd0_fit=float(f.predict(0.0)),
            fd1_fit=float(f.predict(1.0)),
            sensitivity=f.sensitivity,
            sensitivity_se=f.sensitivity_se,
            sensitivity_ci_low=f.sensitivity_ci[0],
            sensitivity_ci_high=f.sensitivity_ci[1],
            r_squared=f.r_squared,
            fit_status="ok",
        )
        rows.append(row)
    return frame(rows, FIT_COLUMNS)
