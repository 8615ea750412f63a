"""Percentile bootstrap over rows, with a fixed seed.

Arrays are resampled by fancy indexing, except `counterfactual.metrics.rows.Rows` views, whose
replicates are index views (`Rows.take`): large feature sets (memory-mapped, 50k x 2048) are
then never copied, and the metrics read each replicate's rows block by block.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .rows import Rows


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Point estimate on the original rows, percentile CI [low, high] and the replicates."""

    estimate: float
    low: float
    high: float
    samples: np.ndarray = field(repr=False)
    ci: float
    n_boot: int
    seed: int
    paired: bool

    @property
    def std_error(self) -> float:
        """Standard deviation of the bootstrap replicates (ddof=1)."""
        return float(self.samples.std(ddof=1))


def bootstrap(
    statistic: Callable[..., Any],
    *arrays: Any,
    n_boot: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    paired: bool | None = None,
) -> BootstrapResult:
    """Bootstrap ``float(statistic(*arrays))`` by resampling rows (axis 0) with replacement.

    ``paired=True`` resamples all arrays with the same row indices (they must have equal
    length: matched pairs); ``paired=False`` resamples each array independently. With more
    than one array, ``paired`` must be given explicitly. ``statistic`` may return anything
    ``float()`` accepts (e.g. an `FDResult`).
    """
    if not arrays:
        raise ValueError("bootstrap: pass at least one array")
    arrs = [a if isinstance(a, Rows) else np.asarray(a) for a in arrays]
    for i, a in enumerate(arrs):
        if len(a.shape) < 1 or a.shape[0] < 1:
            raise ValueError(f"bootstrap: array {i} has no rows (shape {a.shape})")
    if paired is None:
        if len(arrs) > 1:
            raise ValueError(
                "bootstrap: with several arrays say paired=True (same row indices) "
                "or paired=False (independent resampling)"
            )
        paired = True
    if paired and len({a.shape[0] for a in arrs}) > 1:
        raise ValueError(
            f"bootstrap: paired=True needs arrays of equal length, got {[a.shape[0] for a in arrs]}"
        )
    if not 0.0 < ci < 1.0:
        raise ValueError(f"bootstrap: ci must be in (0, 1), got {ci}")
    if int(n_boot) < 2:
        raise ValueError(f"bootstrap: n_boot must be >= 2, got {n_boot}")

    def evaluate(parts: list[np.ndarray | Rows], what: str) -> float:
        value = float(statistic(*parts))
        if not np.isfinite(value):
            raise ValueError(f"bootstrap: statistic returned {value} on {what}")
        return value

    rng = np.random.default_rng(seed)
    estimate = evaluate(arrs, "the original data")
    samples = np.empty(int(n_boot))
    for b in range(samples.size):
        if paired:
            idx = rng.integers(0, arrs[0].shape[0], arrs[0].shape[0])
            parts = [_resample(a, idx) for a in arrs]
        else:
            parts = [_resample(a, rng.integers(0, a.shape[0], a.shape[0])) for a in arrs]
        samples[b] = evaluate(parts, f"bootstrap replicate {b}")
    alpha = (1.0 - ci) / 2.0
    low, high = np.quantile(samples, [alpha, 1.0 - alpha])
    return BootstrapResult(
        estimate=estimate,
        low=float(low),
        high=float(high),
        samples=samples,
        ci=float(ci),
        n_boot=samples.size,
        seed=int(seed),
        paired=bool(paired),
    )


def _resample(a: np.ndarray | Rows, idx: Any) -> np.ndarray | Rows:
    """Rows idx of a: an index view for `Rows`, a copy for arrays."""
    return a.take(idx) if isinstance(a, Rows) else a[idx]
