"""Face-level inference for one attribute x space cell: the sensitivity, its leave-one-face-out
(jackknife) interval, the within-pair swap permutation test, and resolution-aware p-values.

The unit of inference is the face: a matched pair (base face, counterfactual twin). Every
interval leaves faces out and every test permutes within pairs; nothing treats the sweep's dose
points or draws (which reuse the same faces) as independent observations.

Sensitivity (the one definition, see `counterfactual.analysis.sensitivity`):
    S = FD(base set, twin set) - E_swap FD(swapped sets)
on the same N pairs, where "swapped" exchanges each pair's members with probability 1/2 (the
prevalence gap delta = 0: both sets are half/half mixtures). S is the FD change from delta = 0
to delta = 1 with the finite-sample floor of FD removed; E[S] = 0 when the attribute does not
move the distribution in the space. Its mean-term part is exact
(E_swap ||mean_A - mean_B||^2 = sum_i ||d_i||^2 / N^2 with d_i = twin_i - base_i, so the part
is sum_{i != j} d_i . d_j / N^2); its trace-term part averages the trace term over ``swaps``
fixed random swap patterns.

Interval: the grouped jackknife over faces. The faces are split at random into G groups (``groups``;
G = N is the delete-one jackknife); S is recomputed without each group (the same swap patterns,
restricted to the other faces); SE^2 = (G-1)/G sum_g (S_-g - mean)^2 and the interval is
S +- t_{G-1} SE. (A pair bootstrap with replacement is not used: a resample's
duplicated faces change FD's finite-sample floor, so its replicates are biased; see the
calibration study, experiments/calibration.py.) Leaving out the same faces in every cell gives
joint leave-out values, from which cross-space ratios get their intervals.

Test: H0 "base and twin are exchangeable within each pair" (the attribute does not change the
distribution of features in this space). Statistic FD(base set, twin set); ``n_perm`` random
swap patterns; p = (1 + #{null >= observed}) / (1 + n_perm), exact at any n_perm. When no
permuted value reaches the observed one, p = 1 / (1 + n_perm) is only a bound ("p <= ...") and
is reported as such.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from counterfactual.metrics.bias import default_sizes, fd_infinity, unbiased_mean_term
from counterfactual.metrics.pooled_fd import PairPool

from ._common import check_count, check_level


def resamples_for(family_size: int, alpha: float = 0.05, margin: float = 2.0) -> int:
    """Permutations so that a Holm (or Bonferroni) correction over ``family_size`` tests can
    reach ``alpha``: the smallest attainable adjusted p, family_size / (n_perm + 1), is at most
    alpha / margin. Returns ceil(margin * family_size / alpha) - 1."""
    family_size = check_count(family_size, "family size")
    if not 0.0 < alpha < 1.0 or margin < 1.0:
        raise ValueError(f"need 0 < alpha < 1 and margin >= 1, got alpha={alpha}, margin={margin}")
    return max(int(math.ceil(margin * family_size / alpha)) - 1, 1)


def permutation_p(observed: float, null: np.ndarray) -> tuple[float, bool]:
    """(p, is_bound): p = (1 + #{null >= observed}) / (1 + len(null)); ``is_bound`` when no
    permuted value reached the observed one (p is then the resolution 1 / (1 + len(null)))."""
    null = np.asarray(null, dtype=np.float64)
    hits = int(np.count_nonzero(null >= observed))
    return (1.0 + hits) / (1.0 + null.size), hits == 0


def holm_bounds(p: np.ndarray, is_bound: np.ndarray) -> np.ndarray:
    """Whether each Holm-adjusted p is itself only a bound: the step-down maximum that sets it
    comes from a p-value at its resolution floor (NaN p-values are outside the family)."""
    p = np.asarray(p, dtype=np.float64)
    is_bound = np.asarray(is_bound, dtype=bool)
    out = np.zeros(p.shape, dtype=bool)
    ok = np.flatnonzero(~np.isnan(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m, best, best_bound = len(order), -1.0, False
    for rank, i in enumerate(order):
        term = min((m - rank) * p[i], 1.0)
        if term > best:
            best, best_bound = term, bool(is_bound[i])
        out[i] = best_bound
    return out


def format_p(p: float, is_bound: bool = False, digits: int = 2) -> str:
    """"p <= 0.0016"-style text for a bound, else the value with ``digits`` significant digits."""
    if p is None or not np.isfinite(p):
        return "n/a"
    text = f"{p:.{digits}g}" if p < 0.1 else f"{p:.2f}"
    return f"\u2264 {text}" if is_bound else text


def jackknife_se(loo: np.ndarray) -> float:
    """Jackknife standard error from the G leave-one-(group)-out values [G]."""
    loo = np.asarray(loo, dtype=np.float64)
    n = loo.size
    return float(np.sqrt((n - 1.0) / n * ((loo - loo.mean()) ** 2).sum()))


def jackknife_interval(estimate: float, se: float, level: float,
                       n_groups: int) -> tuple[float, float]:
    """estimate -+ t se with the t quantile on G - 1 degrees of freedom (the jackknife SE is
    estimated from G leave-out values)."""
    t = float(stats.t.ppf(0.5 + check_level(level) / 2.0, n_groups - 1))
    return estimate - t * se, estimate + t * se


@dataclass(frozen=True)
class Settings:
    """Resampling settings of the face-level inference (recorded in every result table).

    ``n_perm`` None: chosen by `resamples_for` from the family size and ``alpha``.
    ``swaps``: fixed swap patterns for the trace-term part of the delta = 0 floor.
    ``groups``: jackknife groups of faces (None: leave one face out at a time).
    ``fd_inf_reps``: random subsets per set size for FD-infinity (0: not computed).
    """

    n_perm: int | None = None
    swaps: int = 4
    groups: int | None = 40
    ci: float = 0.95
    alpha: float = 0.05
    fd_inf_reps: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        check_count(self.swaps, "swaps")
        if self.groups is not None:
            check_count(self.groups, "jackknife groups", minimum=3)
        if self.fd_inf_reps:
            check_count(self.fd_inf_reps, "FD-infinity repetitions")
        if self.n_perm is not None:
            check_count(self.n_perm, "n_perm")
        check_level(self.ci)
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must lie in (0, 1), got {self.alpha}")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CellInference:
    """Everything the face-level inference says about one attribute x space cell."""

    n_pairs: int
    dim: int
    fd1: float                  # FD(base set, twin set), raw
    mean_term1: float
    trace_term1: float
    fd0: float                  # E_swap FD (the delta = 0 floor), raw
    sensitivity: float          # fd1 - fd0
    mean_part: float
    trace_part: float
    loo: np.ndarray             # [G] sensitivity without each group of faces
    se: float                   # jackknife standard error
    ci_low: float
    ci_high: float
    p_value: float              # NaN when the cell is not tested
    p_is_bound: bool
    n_perm: int
    mean_term_unbiased: float   # paired U-statistic at delta = 1
    fd_inf1: float              # FD-infinity at delta = 1
    fd_inf0: float              # FD-infinity at delta = 0 (swapped sets)


def face_groups(n_pairs: int, groups: int | None, seed: int) -> np.ndarray:
    """Group label [N] of each face for the jackknife: a seeded random partition into
    ``groups`` groups of (nearly) equal size; None or >= N: every face its own group."""
    n_pairs = check_count(n_pairs, "number of pairs", minimum=3)
    g = n_pairs if groups is None or groups >= n_pairs else check_count(groups, "groups", minimum=3)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 0x1AC4]))
    return rng.permutation(np.arange(n_pairs) % g)


def _leave_out(pool: PairPool, diff: np.ndarray, patterns: np.ndarray,
               groups: np.ndarray) -> np.ndarray:
    """[G + 1, 3]: (sensitivity, mean part, trace part) on all faces (row 0) and without each
    group g of faces (row g + 1), with the same swap ``patterns`` [K, N] throughout."""
    n, n_groups = pool.n_pairs, int(groups.max()) + 1
    member = np.zeros((n_groups, n), np.int64)
    member[groups, np.arange(n)] = 1
    keep = np.vstack([np.ones((1, n), np.int64), 1 - member])
    d2 = np.einsum("ij,ij->i", diff, diff)
    tot = keep @ diff
    m = keep.sum(axis=1).astype(np.float64)
    mean_part = (np.einsum("ij,ij->i", tot, tot) - keep @ d2) / (m * m)
    one = pool.evaluate(keep, np.zeros_like(keep)).trace_term
    k = len(patterns)
    rows = np.repeat(keep, k, axis=0)
    swapped = pool.evaluate(rows, rows * np.tile(patterns, (len(keep), 1)))
    trace_part = one - swapped.trace_term.reshape(len(keep), k).mean(axis=1)
    return np.column_stack([mean_part + trace_part, mean_part, trace_part])


def infer_cell(base: np.ndarray, twin: np.ndarray, settings: Settings, rng: np.random.Generator,
               n_perm: int | None, groups: np.ndarray | None = None) -> CellInference:
    """Sensitivity with its jackknife interval and, with ``n_perm``, the permutation test of one
    cell. ``rng`` draws the swap patterns and subsets (seed it per cell); ``groups`` (from
    `face_groups`, shared by cells that are compared) defaults to ``face_groups(N,
    settings.groups, settings.seed)``."""
    pool = PairPool(base, twin)
    n = pool.n_pairs
    groups = face_groups(n, settings.groups, settings.seed) if groups is None else np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"jackknife groups must label each of the {n} pairs, got {groups.shape}")
    patterns = rng.integers(0, 2, size=(settings.swaps, n))
    values = _leave_out(pool, pool.pool[n:] - pool.pool[:n], patterns, groups)
    (sens, mean_part, trace_part), loo = values[0], values[1:, 0]
    se = jackknife_se(loo)
    lo, hi = jackknife_interval(float(sens), se, settings.ci, len(loo))
    obs = pool.separated()
    if n_perm:
        null = pool.evaluate(np.ones((n_perm, n), np.int64), rng.integers(0, 2, size=(n_perm, n)))
        p, bound = permutation_p(float(obs.value[0]), null.value)
    else:
        p, bound = float("nan"), False

    def fd_at(size: int, r: np.random.Generator, swapped: bool) -> float:
        sub = np.zeros((1, n), np.int64)
        sub[0, r.choice(n, size=size, replace=False)] = 1
        k = r.integers(0, 2, size=sub.shape) * sub if swapped else np.zeros_like(sub)
        return float(pool.evaluate(sub, k).value[0])

    inf1 = inf0 = float("nan")
    if settings.fd_inf_reps:
        sizes = default_sizes(n)
        inf1 = fd_infinity(lambda s, r: fd_at(s, r, False), n, sizes, settings.fd_inf_reps,
                           seed=int(rng.integers(2**63))).value
        inf0 = fd_infinity(lambda s, r: fd_at(s, r, True), n, sizes, settings.fd_inf_reps,
                           seed=int(rng.integers(2**63))).value
    return CellInference(
        n_pairs=n, dim=pool.dim, fd1=float(obs.value[0]), mean_term1=float(obs.mean_term[0]),
        trace_term1=float(obs.trace_term[0]), fd0=float(obs.value[0] - sens),
        sensitivity=float(sens), mean_part=float(mean_part), trace_part=float(trace_part),
        loo=loo, se=se, ci_low=lo, ci_high=hi, p_value=float(p), p_is_bound=bound,
        n_perm=int(n_perm or 0), mean_term_unbiased=unbiased_mean_term(base, twin, paired=True),
        fd_inf1=inf1, fd_inf0=inf0)


__all__ = ["CellInference", "Settings", "face_groups", "format_p", "holm_bounds", "infer_cell",
           "jackknife_interval", "jackknife_se", "permutation_p", "resamples_for"]
