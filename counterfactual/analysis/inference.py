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

Interval: a second-order-corrected grouped jackknife over faces. The faces are split at random
into G groups (``groups``; G = N is the delete-one jackknife); S is recomputed without each group
(the same swap patterns, restricted to the other faces) and on the cross-fit sets below, all rows
of one `ResamplingPlan` shared by every cell. The plain jackknife variance
V_J = (G-1)/G sum_g (S_-g - mean)^2 is conservative for S: in the Hoeffding decomposition
Var(S) = V1 + V2 + ... (V1 the first-order, linear part; V2 the pairwise, degenerate part, which
dominates in high dimension and is all of Var(S) without an effect) its expectation is about
V1 + 2 V2 + 3 V3 + ... (Efron & Stein 1981). The first-order part is estimated by cross-fitting:
the other groups are split into two random halves H1, H2 and the influence of group g,
D_g(H) = S(H + g) - S(H), is measured in each half; the halves share no face, so
E[D_g(H1) D_g(H2)] holds only the first-order part (the pairwise terms of g with H1 and with H2
are uncorrelated). V1 = mean_g (|H1+g| |H2+g| / |g|) D_g(H1) D_g(H2) / N, averaged over
``splits`` random halvings and clipped to [0, V_J]. The variance is then
V = V1 + (V_J - V1) / 2 = (V_J + V1) / 2, exact for a quadratic statistic and still conservative
for higher-order terms; the interval is S +- t_{G-1} sqrt(V). (A pair bootstrap with replacement
is not used: a resample's duplicated faces change FD's finite-sample floor, so its replicates
are biased; see the calibration study, experiments/calibration.py.) Every statistic computed
from the cells (cross-space ratios) is evaluated on the same plan rows, so it gets its interval
the same way.

Other distances (KID, CMMD, MMD, precision, recall, density, coverage;
`counterfactual.analysis.distances`): `infer_pooled` applies the same definition
S_d = d(base set, twin set) - E_swap d(swapped sets) (every part averaged over the swap
patterns), the same plan rows, the same corrected jackknife and the same permutation test.

Test: H0 "base and twin are exchangeable within each pair" (the attribute does not change the
distribution of features in this space). Statistic FD(base set, twin set); ``n_perm`` random
swap patterns; p = (1 + #{null >= observed}) / (1 + n_perm), exact at any n_perm. When no
permuted value reaches the observed one, p = 1 / (1 + n_perm) is only a bound ("p <= ...") and
is reported as such.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from counterfactual.metrics.bias import default_sizes, fd_infinity, unbiased_mean_term
from counterfactual.metrics.fd_batch import PairPool

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


def jackknife_se(loo: np.ndarray) -> float:
    """Plain jackknife standard error from the G leave-one-(group)-out values [G]."""
    loo = np.asarray(loo, dtype=np.float64)
    n = loo.size
    return float(np.sqrt((n - 1.0) / n * ((loo - loo.mean()) ** 2).sum()))


def jackknife_interval(
    estimate: float, se: float, level: float, n_groups: int
) -> tuple[float, float]:
    """estimate -+ t se with the t quantile on G - 1 degrees of freedom (the jackknife SE is
    estimated from G leave-out values)."""
    t = float(stats.t.ppf(0.5 + check_level(level) / 2.0, n_groups - 1))
    return estimate - t * se, estimate + t * se


@dataclass(frozen=True)
class ResamplingPlan:
    """The face subsets every cell's statistic is evaluated on (rows of ``keep`` [R, N], 0/1).

    Row 0: all faces; rows 1..G: without group g; then, per cross-fit split, the two halves and,
    for each group g, g's half without g and the other half with g. ``crossfit`` [G * splits, 5]
    holds (g, row of H1 + g, row of H1, row of H2 + g, row of H2)."""

    keep: np.ndarray
    groups: np.ndarray
    crossfit: np.ndarray

    @property
    def n_groups(self) -> int:
        return int(self.groups.max()) + 1

    @property
    def n_pairs(self) -> int:
        return int(self.keep.shape[1])

    @property
    def splits(self) -> int:
        return len(self.crossfit) // self.n_groups


def resampling_plan(groups: np.ndarray, splits: int, seed: int) -> ResamplingPlan:
    """The jackknife rows of ``groups`` (labels [N] from `face_groups`) and ``splits`` seeded
    cross-fit halvings of the groups (0: the plain jackknife only)."""
    groups = np.asarray(groups, dtype=np.int64)
    n, n_groups = groups.size, int(groups.max()) + 1
    member = np.zeros((n_groups, n), np.int64)
    member[groups, np.arange(n)] = 1
    rows = [np.ones((1, n), np.int64), 1 - member]
    crossfit, count = [], 1 + n_groups
    rng = np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 0xC805]))
    for _ in range(splits):
        first = rng.permutation(n_groups) < n_groups // 2
        halves = np.stack([member[first].sum(axis=0), member[~first].sum(axis=0)])
        own = np.where(first, 0, 1)
        rows += [halves, halves[own] - member, halves[1 - own] + member]
        half_row = count + np.array([0, 1])
        without = count + 2 + np.arange(n_groups)
        with_g = without + n_groups
        crossfit.append(
            np.column_stack(
                [np.arange(n_groups), half_row[own], without, with_g, half_row[1 - own]]
            )
        )
        count += 2 + 2 * n_groups
    keep = np.vstack(rows)
    return ResamplingPlan(
        keep, groups, np.vstack(crossfit) if crossfit else np.zeros((0, 5), np.int64)
    )


def corrected_variance(values: np.ndarray, plan: ResamplingPlan) -> tuple[float, float, float]:
    """(V, V_J, V1) of a statistic from its ``values`` on the plan's rows [R]: the plain
    jackknife variance V_J, the cross-fitted first-order part V1 (clipped to [0, V_J]) and the
    corrected variance V = (V_J + V1) / 2 (see the module docstring). Without cross-fit rows,
    or where the statistic is undefined (NaN) on one of them, V = V_J (conservative)."""
    values = np.asarray(values, dtype=np.float64)
    g = plan.n_groups
    v_j = jackknife_se(values[1 : g + 1]) ** 2
    if not len(plan.crossfit) or not np.isfinite(v_j) or not np.isfinite(values[g + 1 :]).all():
        return v_j, v_j, float("nan")
    grp, h1g, h1, h2g, h2 = plan.crossfit.T
    size = plan.keep.sum(axis=1).astype(np.float64)
    weight = size[h1g] * size[h2g] / np.bincount(plan.groups, minlength=g)[grp]
    v1 = float(np.mean(weight * (values[h1g] - values[h1]) * (values[h2g] - values[h2])))
    v1 = min(max(v1 / plan.n_pairs, 0.0), v_j)
    return 0.5 * (v_j + v1), v_j, v1


def plan_interval(
    values: np.ndarray, plan: ResamplingPlan, level: float
) -> tuple[float, float, float]:
    """(se, low, high): values[0] -+ t_{G-1} sqrt(V) with V from `corrected_variance`."""
    se = math.sqrt(corrected_variance(values, plan)[0])
    lo, hi = jackknife_interval(float(values[0]), se, level, plan.n_groups)
    return se, lo, hi


def flip_test(
    values: np.ndarray,
    plan: ResamplingPlan,
    n_flip: int,
    rng: np.random.Generator,
    null: float = 0.0,
) -> tuple[float, bool]:
    """Two-sided face-group sign-flip (swap) test of "E[statistic] = ``null``" for a statistic
    given by its ``values`` on the plan's rows, where it is linear in the cells' S (e.g. a
    delta-method linearisation). Each jackknife group's pseudo-value
    ps_g = G (T - null) - (G - 1) (T_-g - null) is its face group's contribution; under the null
    they are centred at 0, so flipping the sign of each group's contribution (the analogue of
    swapping a pair's members) leaves their law unchanged when it is symmetric. Statistic: the
    studentised mean t = mean(ps) / (sd(ps) / sqrt(G)) (the jackknife bias-corrected estimate
    over the plain jackknife SE), against ``n_flip`` random sign patterns of the same
    studentised mean. Returns (p, is_bound): p = (1 + #{|t*| >= |t|}) / (1 + n_flip) is never
    below the resolution 1 / (1 + n_flip); ``is_bound`` when no flip reached |t|. NaN p where a
    jackknife value is not finite."""
    values = np.asarray(values, dtype=np.float64) - float(null)
    n_flip = check_count(n_flip, "sign flips")
    g = plan.n_groups
    if not np.isfinite(values[: g + 1]).all():
        return float("nan"), False
    ps = g * values[0] - (g - 1) * values[1 : g + 1]

    def studentised(x: np.ndarray) -> np.ndarray:
        sd = x.std(axis=-1, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            t: np.ndarray = np.abs(x.mean(axis=-1)) * np.sqrt(g) / sd
        return np.where(sd > 0, t, 0.0)

    observed = float(studentised(ps))
    flips = rng.integers(0, 2, size=(n_flip, g)) * 2.0 - 1.0
    return permutation_p(observed, studentised(flips * ps))


@dataclass(frozen=True)
class Settings:
    """Resampling settings of the face-level inference (recorded in every result table).

    ``n_perm`` None: chosen by `resamples_for` from the family size and ``alpha``.
    ``swaps``: fixed swap patterns for the trace-term part of the delta = 0 floor.
    ``groups``: jackknife groups of faces (None: leave one face out at a time).
    ``splits``: cross-fit halvings for the first-order variance (0: plain jackknife).
    ``fd_inf_reps``: random subsets per set size for FD-infinity (0: not computed).
    """

    n_perm: int | None = None
    swaps: int = 4
    groups: int | None = 40
    splits: int = 4
    ci: float = 0.95
    alpha: float = 0.05
    fd_inf_reps: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        check_count(self.swaps, "swaps")
        if self.groups is not None:
            check_count(self.groups, "jackknife groups", minimum=3)
        if self.splits:
            check_count(self.splits, "cross-fit splits")
        if self.fd_inf_reps:
            check_count(self.fd_inf_reps, "FD-infinity repetitions")
        if self.n_perm is not None:
            check_count(self.n_perm, "n_perm")
        check_level(self.ci)
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must lie in (0, 1), got {self.alpha}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CellInference:
    """Everything the face-level inference says about one attribute x space cell."""

    n_pairs: int
    dim: int
    fd1: float  # FD(base set, twin set), raw
    mean_term1: float
    trace_term1: float
    fd0: float  # E_swap FD (the delta = 0 floor), raw
    sensitivity: float  # fd1 - fd0
    mean_part: float
    trace_part: float
    values: np.ndarray  # [R] sensitivity on the resampling plan's rows (0: all faces)
    se: float  # corrected jackknife standard error
    se_jackknife: float  # plain jackknife standard error (conservative)
    ci_low: float
    ci_high: float
    p_value: float  # NaN when the cell is not tested
    p_is_bound: bool
    n_perm: int
    mean_term_unbiased: float  # paired U-statistic at delta = 1
    fd_inf1: float  # FD-infinity at delta = 1
    fd_inf0: float  # FD-infinity at delta = 0 (swapped sets)
    distance: str = "fd"  # another distance (`infer_pooled`): fd1/fd0 hold d(1)/d(0)
    lower_is_better: bool = True


def face_groups(n_pairs: int, groups: int | None, seed: int) -> np.ndarray:
    """Group label [N] of each face for the jackknife: a seeded random partition into
    ``groups`` groups of (nearly) equal size; None or >= N: every face its own group."""
    n_pairs = check_count(n_pairs, "number of pairs", minimum=3)
    g = n_pairs if groups is None or groups >= n_pairs else check_count(groups, "groups", minimum=3)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 0x1AC4]))
    return rng.permutation(np.arange(n_pairs) % g)


def _plan_values(
    pool: PairPool, diff: np.ndarray, patterns: np.ndarray, keep: np.ndarray
) -> np.ndarray:
    """[R, 3]: (sensitivity, mean part, trace part) on each face subset ``keep`` [R, N], with
    the same swap ``patterns`` [K, N] throughout."""
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


def cell_plan(n_pairs: int, settings: Settings, groups: np.ndarray | None = None) -> ResamplingPlan:
    """The resampling plan of ``settings`` for N pairs (``groups`` default: `face_groups`)."""
    groups = (
        face_groups(n_pairs, settings.groups, settings.seed)
        if groups is None
        else np.asarray(groups)
    )
    if groups.shape != (n_pairs,):
        raise ValueError(
            f"jackknife groups must label each of the {n_pairs} pairs, got {groups.shape}"
        )
    return resampling_plan(groups, settings.splits, settings.seed)


def infer_cell(
    base: np.ndarray,
    twin: np.ndarray,
    settings: Settings,
    rng: np.random.Generator,
    n_perm: int | None,
    plan: ResamplingPlan | np.ndarray | None = None,
) -> CellInference:
    """Sensitivity with its corrected jackknife interval and, with ``n_perm``, the permutation
    test of one cell. ``rng`` draws the swap patterns and subsets (seed it per cell); ``plan``
    (shared by cells that are compared; group labels are also accepted) defaults to
    ``cell_plan(N, settings)``."""
    pool = PairPool(base, twin)
    n = pool.n_pairs
    if not isinstance(plan, ResamplingPlan):
        plan = cell_plan(n, settings, plan)
    if plan.n_pairs != n:
        raise ValueError(f"the resampling plan covers {plan.n_pairs} pairs, the cell has {n}")
    patterns = rng.integers(0, 2, size=(settings.swaps, n))
    values = _plan_values(pool, pool.pool[n:] - pool.pool[:n], patterns, plan.keep)
    sens, mean_part, trace_part = values[0]
    var, var_jack, _ = corrected_variance(values[:, 0], plan)
    se, se_jack = math.sqrt(var), math.sqrt(var_jack)
    lo, hi = jackknife_interval(float(sens), se, settings.ci, plan.n_groups)
    obs = pool.separated()
    if n_perm:
        null = pool.evaluate(np.ones((n_perm, n), np.int64), rng.integers(0, 2, size=(n_perm, n)))
        p, bound = permutation_p(float(obs.fd[0]), null.fd)
    else:
        p, bound = float("nan"), False

    def fd_at(size: int, r: np.random.Generator, swapped: bool) -> float:
        sub = np.zeros((1, n), np.int64)
        sub[0, r.choice(n, size=size, replace=False)] = 1
        k = r.integers(0, 2, size=sub.shape) * sub if swapped else np.zeros_like(sub)
        return float(pool.evaluate(sub, k).fd[0])

    inf1 = inf0 = float("nan")
    if settings.fd_inf_reps:
        sizes = default_sizes(n)
        inf1 = fd_infinity(
            lambda s, r: fd_at(s, r, False),
            n,
            sizes,
            settings.fd_inf_reps,
            seed=int(rng.integers(2**63)),
        ).value
        inf0 = fd_infinity(
            lambda s, r: fd_at(s, r, True),
            n,
            sizes,
            settings.fd_inf_reps,
            seed=int(rng.integers(2**63)),
        ).value
    return CellInference(
        n_pairs=n,
        dim=pool.dim,
        fd1=float(obs.fd[0]),
        mean_term1=float(obs.mean_term[0]),
        trace_term1=float(obs.trace_term[0]),
        fd0=float(obs.fd[0] - sens),
        sensitivity=float(sens),
        mean_part=float(mean_part),
        trace_part=float(trace_part),
        values=values[:, 0],
        se=se,
        se_jackknife=se_jack,
        ci_low=lo,
        ci_high=hi,
        p_value=float(p),
        p_is_bound=bound,
        n_perm=int(n_perm or 0),
        mean_term_unbiased=unbiased_mean_term(base, twin, paired=True),
        fd_inf1=inf1,
        fd_inf0=inf0,
    )


def infer_pooled(
    evaluate: Callable[[np.ndarray, np.ndarray], np.ndarray],
    n_pairs: int,
    distances: Sequence[str],
    lower_is_better: Sequence[bool],
    settings: Settings,
    rng: np.random.Generator,
    n_perm: int | None,
    plan: ResamplingPlan | np.ndarray | None = None,
    dim: int = 0,
) -> list[CellInference]:
    """`infer_cell` for any distance d: S_d = d(base set, twin set) - mean d over the
    ``settings.swaps`` swap patterns, on every row of the resampling plan (the same patterns
    restricted to the kept faces), its corrected jackknife interval and, with ``n_perm``, the
    swap permutation test of d (oriented: large d is evidence where lower is better, small d
    otherwise; exact at any n_perm). ``evaluate(keep [N] bool, swaps [K, N]) -> [K, len(distances)]``
    (see `counterfactual.analysis.distances`); one result per distance, FD-only fields NaN."""
    n = check_count(n_pairs, "number of pairs", minimum=3)
    if not isinstance(plan, ResamplingPlan):
        plan = cell_plan(n, settings, plan)
    if plan.n_pairs != n:
        raise ValueError(f"the resampling plan covers {plan.n_pairs} pairs, the cell has {n}")
    patterns = rng.integers(0, 2, size=(settings.swaps, n))
    swaps = np.vstack([np.zeros((1, n), np.int64), patterns])
    vals = np.stack(
        [np.asarray(evaluate(keep.astype(bool), swaps), np.float64) for keep in plan.keep]
    )  # [R, 1 + K, D]
    sens = vals[:, 0] - vals[:, 1:].mean(axis=1)  # [R, D]
    obs = vals[0, 0]
    sign = np.where(np.asarray(lower_is_better, bool), 1.0, -1.0)
    null = (
        evaluate(np.ones(n, bool), rng.integers(0, 2, size=(n_perm, n))) * sign if n_perm else None
    )
    nan = float("nan")
    out = []
    for j, name in enumerate(distances):
        var, var_jack, _ = corrected_variance(sens[:, j], plan)
        se, se_jack = math.sqrt(var), math.sqrt(var_jack)
        lo, hi = jackknife_interval(float(sens[0, j]), se, settings.ci, plan.n_groups)
        p, bound = (
            permutation_p(float(obs[j] * sign[j]), null[:, j]) if null is not None else (nan, False)
        )
        out.append(
            CellInference(
                n_pairs=n,
                dim=int(dim),
                fd1=float(obs[j]),
                mean_term1=nan,
                trace_term1=nan,
                fd0=float(obs[j] - sens[0, j]),
                sensitivity=float(sens[0, j]),
                mean_part=nan,
                trace_part=nan,
                values=sens[:, j].copy(),
                se=se,
                se_jackknife=se_jack,
                ci_low=lo,
                ci_high=hi,
                p_value=float(p),
                p_is_bound=bool(bound),
                n_perm=int(n_perm or 0),
                mean_term_unbiased=nan,
                fd_inf1=nan,
                fd_inf0=nan,
                distance=str(name),
                lower_is_better=bool(lower_is_better[j]),
            )
        )
    return out


__all__ = [
    "CellInference",
    "ResamplingPlan",
    "Settings",
    "cell_plan",
    "corrected_variance",
    "face_groups",
    "flip_test",
    "holm_bounds",
    "infer_cell",
    "infer_pooled",
    "jackknife_interval",
    "jackknife_se",
    "permutation_p",
    "plan_interval",
    "resamples_for",
    "resampling_plan",
]
