"""Statistics of one generator against the reference in one feature space, with bootstrap CIs.

Metrics (`METRICS`; `LOWER_IS_BETTER` says which way each ranks): FD (with its mean and trace
terms), KID, precision/recall (k = `pr_k`) and density/coverage (k = `dc_k`), all from
`counterfactual.metrics`.

Bootstrap: `counterfactual.metrics.bootstrap` with paired=False: each replicate resamples the
reference rows and the generator rows, independently, with replacement. All metrics of a
replicate are computed once on the same resampled rows (memoised by the resampled indices).
Every generator x space uses the same bootstrap seed and, since all generators have the same
n, the same row indices in replicate b: replicate b is one joint resample of every set (the
reference resampled identically for every generator, generators matched by seed index), so
the replicates also give rank stability.

Intervals. Resampling with replacement duplicates rows (a replicate holds about 63% distinct
rows), which shifts every metric systematically: FD's finite-sample bias grows as the number
of distinct rows falls (replicates sit well above the estimate when n is not much larger than
the dimension), KID's unbiased estimator counts a duplicated pair as two distinct rows, and
k-NN radii shrink when a row's duplicate is its own neighbour (precision, recall, density and
coverage replicates are biased low). A plain percentile interval then need not even contain
the estimate. The reported interval (`ci_low`, `ci_high`) is therefore the percentile interval
of the bias-adjusted replicates, theta*_b - (mean(theta*) - theta_hat): the shape and width
of the bootstrap distribution, centred on the sampling distribution of the estimate at this
n (what matters when generators are compared at equal n), clipped to the metric's range
(`BOUNDS`). The raw percentile interval (`pct_low`, `pct_high`) and the bootstrap bias
(`bias` = mean(theta*) - theta_hat) are reported too. Rank stability uses the raw replicates
(every generator's replicates carry a similar shift).

Speed: for sets of up to `SINGLE_THREAD_ROWS` rows the matrices are small, and a
multithreaded BLAS spends more time synchronising than computing (15x slower wall time on a
busy 2-core machine); the bootstrap then runs with one BLAS thread (threadpoolctl).

When both sets have n <= `kid_subset_size` rows and equal n, every KID "subset" is the whole
set, so a single subset is used (the unbiased MMD is invariant to row order: the result is
identical).
"""

from __future__ import annotations

import hashlib
import warnings
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np

from counterfactual.metrics import (
    RankDeficientCovarianceWarning,
    bootstrap,
    frechet_distance_features,
    kid,
    manifold_metrics,
)
from counterfactual.metrics.rows import Rows
from counterfactual.rank.config import MetricsConfig
from counterfactual.run.schemas import METRICS, STATS_VERSION

LOWER_IS_BETTER: dict[str, bool] = {
    "fd": True,
    "kid": True,
    "precision": False,
    "recall": False,
    "density": False,
    "coverage": False,
}
# Range of each metric (bias-adjusted interval ends are clipped to it).
BOUNDS: dict[str, tuple[float, float]] = {
    "fd": (0.0, np.inf),
    "kid": (-np.inf, np.inf),
    "precision": (0.0, 1.0),
    "recall": (0.0, 1.0),
    "density": (0.0, np.inf),
    "coverage": (0.0, 1.0),
}
# Sets up to this many rows are bootstrapped with a single BLAS thread (see the docstring).
SINGLE_THREAD_ROWS = 2048


class Settings(MetricsConfig):
    """Everything besides the features that determines the statistics: the config's
    `[metrics]` plus the run's seed."""

    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_boot": self.n_boot,
            "ci": self.ci,
            "seed": self.seed,
            "pr_k": self.pr_k,
            "dc_k": self.dc_k,
            "kid_subsets": self.kid_subsets,
            "kid_subset_size": self.kid_subset_size,
            "stats_version": STATS_VERSION,
        }

    def kid_subsets_for(self, n_ref: int, n_gen: int) -> int:
        """Subsets actually drawn: one when every subset would be the whole of both sets."""
        m = min(n_ref, n_gen, self.kid_subset_size)
        return 1 if m == n_ref == n_gen else self.kid_subsets


class _Evaluator:
    """All metrics on (reference rows, generator rows) index arrays, memoised per index pair."""

    def __init__(self, ref: np.ndarray, gen: np.ndarray, settings: Settings) -> None:
        # Index views, read block by block in float64: no copy of either set (or of a
        # bootstrap replicate) is ever made, whatever the dtype (memory-mapped float32 ...).
        self.ref = Rows(ref, name="reference features")
        self.gen = Rows(gen, name="generator features")
        self.s = settings
        self.kid_subsets = settings.kid_subsets_for(len(self.ref), len(self.gen))
        self._memo: dict[bytes, dict[str, float]] = {}

    def __call__(self, ri: np.ndarray, gi: np.ndarray) -> dict[str, float]:
        key = hashlib.sha1(
            np.ascontiguousarray(ri).tobytes() + b"|" + np.ascontiguousarray(gi).tobytes()
        ).digest()
        if key not in self._memo:
            self._memo[key] = self._compute(self.ref.take(ri), self.gen.take(gi))
        return self._memo[key]

    def _compute(self, r: Rows, g: Rows) -> dict[str, float]:
        s = self.s
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
            fd = frechet_distance_features(r, g)
        k = kid(r, g, num_subsets=self.kid_subsets, max_subset_size=s.kid_subset_size, seed=s.seed)
        pr, dc = manifold_metrics(r, g, pr_k=s.pr_k, dc_k=s.dc_k)
        return {
            "fd": fd.value,
            "fd_mean_term": fd.mean_term,
            "fd_trace_term": fd.trace_term,
            "kid": k.mean,
            "kid_subset_std": k.std,
            "precision": pr.precision,
            "recall": pr.recall,
            "density": dc.density,
            "coverage": dc.coverage,
        }


def _blas_threads(n_rows: int) -> AbstractContextManager:
    if n_rows > SINGLE_THREAD_ROWS:
        return nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def compare(ref: np.ndarray, gen: np.ndarray, settings: Settings) -> dict[str, Any]:
    """Point estimates, CIs, standard errors and bootstrap replicates of every metric.

    Returns {"point": {...}, "ci_low": {...}, "ci_high": {...} (bias-adjusted percentile
    interval), "pct_low": {...}, "pct_high": {...} (raw percentile interval), "bias": {...},
    "se": {...}, "replicates": {metric: [n_boot floats]}, "n_reference", "n_generator", "dim",
    "kid_subsets"}.
    """
    ref, gen = np.asarray(ref), np.asarray(gen)  # a memory-mapped array stays mapped
    if ref.ndim != 2 or gen.ndim != 2 or ref.shape[1] != gen.shape[1]:
        raise ValueError(
            f"reference and generator features must be [N, dim] with equal dim, got "
            f"{ref.shape} and {gen.shape}"
        )
    with _blas_threads(max(len(ref), len(gen))):
        return _compare(ref, gen, settings)


def _compare(ref: np.ndarray, gen: np.ndarray, settings: Settings) -> dict[str, Any]:
    ev = _Evaluator(ref, gen, settings)
    ri, gi = np.arange(len(ref)), np.arange(len(gen))
    point = ev(ri, gi)
    out: dict[str, Any] = {
        "point": dict(point),
        "ci_low": {},
        "ci_high": {},
        "pct_low": {},
        "pct_high": {},
        "bias": {},
        "se": {},
        "replicates": {},
        "n_reference": int(len(ref)),
        "n_generator": int(len(gen)),
        "dim": int(ref.shape[1]),
        "kid_subsets": ev.kid_subsets,
    }
    for name in METRICS:
        res = bootstrap(
            lambda a, b, name=name: ev(a, b)[name],
            ri,
            gi,
            n_boot=settings.n_boot,
            seed=settings.seed,
            ci=settings.ci,
            paired=False,
        )
        bias = float(res.samples.mean() - res.estimate)
        alpha = (1.0 - settings.ci) / 2.0
        lo, hi = np.quantile(res.samples - bias, [alpha, 1.0 - alpha])
        floor, ceil = BOUNDS[name]
        out["ci_low"][name] = float(np.clip(lo, floor, ceil))
        out["ci_high"][name] = float(np.clip(hi, floor, ceil))
        out["pct_low"][name], out["pct_high"][name] = res.low, res.high
        out["bias"][name] = bias
        out["se"][name] = res.std_error
        out["replicates"][name] = [float(v) for v in res.samples]
    return out
