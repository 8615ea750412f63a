"""Permutation test of FD at a full prevalence gap (delta = 1) against the delta = 0 null.

Observed statistic: FD(base set, twin set). Under the null that the intervention does not move
the distribution in this space, base and twin are exchangeable within each pair, so each
permutation swaps every pair's members independently with probability 1/2 (exactly the
delta = 0 mixing) and recomputes FD. The p-value is (1 + #{null >= observed}) / (1 + n_perm),
so it is never 0 and is valid at any n_perm; the smallest attainable value is 1/(1 + n_perm),
so choose n_perm >= (number of tests) / alpha when the p-values will be Holm-corrected.
Each test draws from a stream seeded by ``(seed, intervention, space)`` (order-independent).
Cost: n_perm FD evaluations (each O(N dim^2 + dim^3)).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from counterfactual.metrics.fd_factors import equal_n_sets, fd_features
from counterfactual.mixing import random_swap

from ._common import as_float_features, check_count, frame, group_rng
from .multiple import add_adjusted
from .pairs import PairFeatures


@dataclass(frozen=True)
class PermutationResult:
    """Observed FD (with its terms), the null FDs, and the permutation p-value."""

    observed: float
    mean_term: float
    trace_term: float
    null: np.ndarray
    p_value: float
    n_perm: int
    seed: int

    @property
    def null_mean(self) -> float:
        return float(self.null.mean())

    @property
    def null_sd(self) -> float:
        return float(self.null.std(ddof=1)) if self.null.size > 1 else float("nan")

    @property
    def ratio_to_null(self) -> float:
        """Observed FD / mean null FD (1 means no detectable change)."""
        return self.observed / self.null_mean if self.null_mean > 0 else float("nan")

    @property
    def z_null(self) -> float:
        """(observed - mean null) / sd null."""
        sd = self.null_sd
        return (self.observed - self.null_mean) / sd if sd > 0 else float("nan")


def permutation_test(
    base: np.ndarray,
    twin: np.ndarray,
    n_perm: int = 999,
    seed: int = 0,
    rng: np.random.Generator | None = None,
) -> PermutationResult:
    """Paired permutation test of FD(base, twin); ``rng`` overrides the stream from ``seed``."""
    base = as_float_features(base, "base features")
    twin = as_float_features(twin, "twin features")
    if base.shape != twin.shape:
        raise ValueError(f"base shape {base.shape} != twin shape {twin.shape}")
    n_perm = check_count(n_perm, "n_perm")
    rng = rng if rng is not None else np.random.default_rng(seed)
    obs = fd_features(base, twin)
    with equal_n_sets():
        null = np.array([fd_features(*random_swap(base, twin, rng)).value for _ in range(n_perm)])
    p = (1.0 + np.count_nonzero(null >= obs.value)) / (1.0 + n_perm)
    return PermutationResult(
        observed=obs.value,
        mean_term=obs.mean_term,
        trace_term=obs.trace_term,
        null=null,
        p_value=float(p),
        n_perm=n_perm,
        seed=int(seed),
    )


PERMUTATION_COLUMNS: tuple[str, ...] = (
    "intervention",
    "space",
    "space_label",
    "trained",
    "n_pairs",
    "dim",
    "fd_obs",
    "mean_term",
    "trace_term",
    "null_mean",
    "null_sd",
    "ratio_to_null",
    "z_null",
    "p_value",
    "n_perm",
    "seed",
    "p_holm",
    "reject_holm",
    "p_bh",
    "reject_bh",
    "alpha",
)


def permutation_tests(
    pairs: Iterable[PairFeatures],
    n_perm: int = 999,
    seed: int = 0,
    alpha: float = 0.05,
    methods: Sequence[str] = ("holm", "bh"),
) -> pd.DataFrame:
    """``permutation_test`` for every attribute x space, with Holm and BH corrections across all.

    Columns ``PERMUTATION_COLUMNS``: observed FD and terms, null mean/sd, ``ratio_to_null`` and
    ``z_null``, the raw ``p_value``, ``p_holm``/``p_bh`` adjusted over every row and
    ``reject_*`` (adjusted p < alpha). ``seed`` is the base seed; each row's stream is seeded by
    (seed, intervention, space).
    """
    rows = []
    for pf in pairs:
        r = permutation_test(
            pf.base,
            pf.twin,
            n_perm=n_perm,
            seed=seed,
            rng=group_rng(seed, pf.intervention, pf.space),
        )
        rows.append(
            {
                **pf.labels(),
                "n_pairs": pf.n_pairs,
                "dim": pf.dim,
                "fd_obs": r.observed,
                "mean_term": r.mean_term,
                "trace_term": r.trace_term,
                "null_mean": r.null_mean,
                "null_sd": r.null_sd,
                "ratio_to_null": r.ratio_to_null,
                "z_null": r.z_null,
                "p_value": r.p_value,
                "n_perm": r.n_perm,
                "seed": int(seed),
            }
        )
    base_cols = [
        c
        for c in PERMUTATION_COLUMNS
        if not c.startswith(("p_holm", "p_bh", "reject")) and c != "alpha"
    ]
    df = frame(rows, base_cols)
    df = add_adjusted(df, "p_value", alpha=alpha, methods=methods)
    df["alpha"] = float(alpha)
    return df.sort_values(["intervention", "space"]).reset_index(drop=True)
