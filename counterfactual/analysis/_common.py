"""Shared helpers of the analysis layer: column checks, seeded per-group RNGs, percentile CIs."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

# Label columns every per-space result carries (they keep "(untrained)" spaces recognisable).
LABEL_COLUMNS: tuple[str, ...] = ("space_label", "trained")
DELTA_ATOL = 1e-9


def require_columns(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise one clear error naming every column ``what`` lacks."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{what}: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} is missing columns {missing}; it has {list(df.columns)}")


def check_level(ci: float) -> float:
    """Validate a confidence level in (0, 1)."""
    ci = float(ci)
    if not 0.0 < ci < 1.0:
        raise ValueError(f"confidence level must lie in (0, 1), got {ci}")
    return ci


def check_count(n: int, what: str, minimum: int = 1) -> int:
    if int(n) != n or int(n) < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {n!r}")
    return int(n)


def group_rng(seed: int, *key: object) -> np.random.Generator:
    """A generator seeded by ``seed`` and a stable hash of ``key``.

    Each group (e.g. intervention x space) gets its own stream, so results do not depend on the
    order of rows or on which other groups are present.
    """
    words = [int(seed) & 0xFFFFFFFF]
    words += [zlib.crc32(repr(k).encode("utf-8")) for k in key]
    return np.random.default_rng(np.random.SeedSequence(words))


def percentile_interval(
    samples: np.ndarray, ci: float, axis: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval (NaN-aware: NaN replicates are ignored)."""
    alpha = (1.0 - check_level(ci)) / 2.0
    samples = np.asarray(samples, dtype=np.float64)
    with np.errstate(all="ignore"):
        lo = np.nanquantile(samples, alpha, axis=axis) if np.isfinite(samples).any() else np.nan
        hi = (
            np.nanquantile(samples, 1.0 - alpha, axis=axis)
            if np.isfinite(samples).any()
            else np.nan
        )
    return np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)


def bootstrap_mean(values: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``n_boot`` bootstrap replicates of the mean of a 1-D sample."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return np.full(n_boot, np.nan)
    idx = rng.integers(0, values.size, size=(n_boot, values.size))
    means: np.ndarray = values[idx].mean(axis=1)
    return means


def at_delta(df: pd.DataFrame, delta: float) -> pd.DataFrame:
    """Rows whose ``delta`` equals ``delta`` up to float round-off (CSV round trips)."""
    return df[np.isclose(df["delta"].to_numpy(dtype=np.float64), delta, rtol=0.0, atol=DELTA_ATOL)]


def frame(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """A DataFrame with the documented column order and float64 for every float column."""
    df = pd.DataFrame(rows, columns=list(columns))
    for col in df.columns:
        if df[col].dtype.kind == "f":
            df[col] = df[col].astype(np.float64)
    return df
