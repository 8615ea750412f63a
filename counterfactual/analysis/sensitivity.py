"""The sensitivity of a feature space to an attribute, and the cross-space comparison.

One definition, used by every table, plot and verdict (``DEFINITION``), and generalised to
the other distances of `counterfactual.analysis.distances` (S_d = d(base set, twin set) -
E_swap d(swapped sets); the effects table has a row per attribute x space x distance, each
distance its own Holm family; the cross-space comparison is FD's):

    sensitivity S = FD(base set, twin set) - E_swap FD(swapped sets)

on the same N matched pairs (each twin differs from its base face in one attribute): the FD
change from prevalence gap 0 (each pair's members swapped with probability 1/2) to gap 1, with
FD's finite-sample floor removed. S is 0 in expectation when the attribute does not move the
feature distribution, whatever the dimension; it is in the space's own FD units. Its estimand
is E[S] for sets of N faces from the generator (a finite-N quantity: compare spaces at the same
N on the same faces). Intervals (``INTERVAL``): face-level grouped jackknife with a cross-fitted
second-order correction; tests: within-pair swap permutation test
(`counterfactual.analysis.inference`). ``EFFECT_DESCRIPTIONS`` words each shown column once; the
report's effects caption is built from it.

Cross-space comparison (scale-free, decided by trained spaces only). Each space's *profile*
divides S by a yardstick measured in the same space on the same faces (``NORMALISERS``):
"reference" = S of a reference distortion (the full-image blur, ``blur:all``), or "attributes"
= the mean S over the run's attributes. A trained space's *relative reaction* to an attribute is
its profile divided by the mean profile of the OTHER trained spaces (never itself, never an
untrained space). Untrained spaces are shown beside it, relative to the mean of all trained
spaces, without a verdict. A ratio is judged where this space's yardstick and the other spaces'
mean profile are clearly above 0 (raw-scale intervals above 0). Its interval is the delta
method on the log scale with the corrected jackknife (`RATIO_INTERVALS["linearised"]`: on each
row of the shared resampling plan, the first-order change of log ratio along that row's change
of every cell's S; calibrated by experiments/calibration.py --cross) at the simultaneous level
1 - alpha / m (Bonferroni over the m verdicts). Each judged ratio also gets a face-group
sign-flip test of "relative reaction = 1" (`ratio_test`, `inference.flip_test`: the
studentised jackknife pseudo-values of the linearised log ratio, their signs flipped at random;
p never below 1/(B + 1)), and the verdict needs both (``VERDICT_RULES["both"]``, the default:
in the calibration the interval alone gave false verdicts in 8% of seed 0's null studies,
because the corrected variance can underestimate a ratio's variance; with the test, scaled by
the plain jackknife, 0.7-2% at seeds 0-2: README "Power of the cross-space verdicts"):
- **over-reacts**: the interval lies above 1 and p <= alpha / m - relative to its own reaction
  to the yardstick, the space's FD moves more with the attribute than the other trained
  spaces' FDs do;
- **under-reacts**: the interval lies below 1 and p <= alpha / m;
- **in line**: otherwise (no detectable difference).
With two trained spaces the one comparison is shown from both sides (one over, the other under).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from counterfactual.metrics import RankDeficientCovarianceWarning

from ._common import frame, group_rng
from .distances import DEFAULT_DISTANCES, DISTANCES, FAMILIES, check_distances, families_of
from .inference import (
    CellInference,
    ResamplingPlan,
    Settings,
    cell_plan,
    flip_test,
    holm_bounds,
    infer_cell,
    infer_pooled,
    plan_interval,
    resamples_for,
)
from .multiple import adjust_pvalues
from .pairs import PairFeatures

DEFINITION = (
    "sensitivity = FD(base set, twin set) - mean FD over within-pair swaps, on the "
    "same faces: the FD change from prevalence gap 0 to 1 with the finite-sample "
    "floor removed (0 in expectation when the attribute does not move the features)"
)

INTERVAL = "grouped jackknife over faces with a cross-fitted second-order correction"
#: What the effects table's shown columns hold, worded once: the report's caption of the
#: effects table is built from these (for the columns it shows) and from ``DEFINITION``.
EFFECT_DESCRIPTIONS: dict[str, str] = {
    "fd0": "FD(0): the mean FD over within-pair swaps of the same faces (the swap floor, "
    "FD at prevalence gap 0)",
    "fd1": "FD(1): base set against twin set (gap 1)",
    "sensitivity": DEFINITION,
    "sensitivity_ci_low": "its interval: " + INTERVAL,
    "mean_term_share": "mean-term share: the mean term ‖μ_A−μ_B‖² over FD at gap 1 (means "
    "over the sweep's draws)",
    "detected": "detected: 'yes' when the Holm-corrected swap permutation test rejects and the "
    "interval excludes 0, 'no' when neither, 'borderline' when they disagree",
}

EFFECT_COLUMNS: tuple[str, ...] = (
    "intervention",
    "space",
    "space_label",
    "trained",
    "distance",
    "lower_is_better",
    "n_pairs",
    "dim",
    "d1",
    "d0",
    "fd1",
    "fd0",
    "sensitivity",
    "sensitivity_se",
    "sensitivity_ci_low",
    "sensitivity_ci_high",
    "mean_part",
    "trace_part",
    "mean_term_unbiased",
    "fd_inf1",
    "fd_inf0",
    "fd_inf_change",
    "p_value",
    "p_is_bound",
    "p_resolution",
    "p_holm",
    "p_holm_is_bound",
    "reject_holm",
    "detected",
    "family_size",
    "n_perm",
    "ci_level",
    "alpha",
    "jackknife_groups",
    "crossfit_splits",
    "sensitivity_se_jackknife",
    "swaps",
    "seed",
)

CROSS_COLUMNS: tuple[str, ...] = (
    "intervention",
    "space",
    "space_label",
    "trained",
    "normaliser",
    "profile",
    "compared_with",
    "relative",
    "relative_ci_low",
    "relative_ci_high",
    "ci_level",
    "n_verdicts",
    "p_value",
    "p_is_bound",
    "n_flip",
    "verdict_rule",
    "reaction",
    "note",
)


@dataclass
class FaceInference:
    """Effects (one row per attribute x space), the reference distortion's effects, the
    cross-space comparison, and notes on what could not be computed."""

    effects: pd.DataFrame
    reference: pd.DataFrame | None
    cross_space: pd.DataFrame | None
    notes: list[str] = field(default_factory=list)


Cells = dict[Any, np.ndarray]  # {(attribute, space) or space: values [R] on the plan's rows}


def _profile_reference(s: Cells, ref: Cells, attrs: list[str], space: str) -> Cells:
    return {a: s[a, space] / ref[space] for a in attrs}


def _profile_attributes(s: Cells, ref: Cells, attrs: list[str], space: str) -> Cells:
    mean = np.mean([s[a, space] for a in attrs], axis=0)
    return {a: s[a, space] / mean for a in attrs}


# name -> (sensitivities {(attribute, space): array}, reference {space: array}, attributes,
# space) -> {attribute: profile array}; arrays hold [point, leave-out values...].
NORMALISERS: dict[str, Callable[[Cells, Cells, list[str], str], Cells]] = {
    "reference": _profile_reference,
    "attributes": _profile_attributes,
}


def _effect_rows(
    pairs: Sequence[PairFeatures],
    cells: list[CellInference],
    settings: Settings,
    family: int,
    n_perm: int | None,
    plan: ResamplingPlan,
) -> pd.DataFrame:
    """Rows of one distance (its own Holm family)."""
    fd = [c.distance == "fd" for c in cells]
    rows = [
        {
            **pf.labels(),
            "distance": c.distance,
            "lower_is_better": c.lower_is_better,
            "n_pairs": c.n_pairs,
            "dim": c.dim,
            "d1": c.fd1,
            "d0": c.fd0,
            "fd1": c.fd1 if is_fd else np.nan,
            "fd0": c.fd0 if is_fd else np.nan,
            "sensitivity": c.sensitivity,
            "sensitivity_se": c.se,
            "sensitivity_ci_low": c.ci_low,
            "sensitivity_ci_high": c.ci_high,
            "mean_part": c.mean_part,
            "trace_part": c.trace_part,
            "mean_term_unbiased": c.mean_term_unbiased,
            "fd_inf1": c.fd_inf1,
            "fd_inf0": c.fd_inf0,
            "fd_inf_change": c.fd_inf1 - c.fd_inf0,
            "p_value": c.p_value,
            "p_is_bound": c.p_is_bound,
            "p_resolution": 1.0 / (c.n_perm + 1) if c.n_perm else np.nan,
            "family_size": family,
            "n_perm": c.n_perm,
            "ci_level": settings.ci,
            "alpha": settings.alpha,
            "jackknife_groups": plan.n_groups,
            "crossfit_splits": plan.splits,
            "sensitivity_se_jackknife": c.se_jackknife,
            "swaps": settings.swaps,
            "seed": settings.seed,
        }
        for pf, c, is_fd in zip(pairs, cells, fd)
    ]
    df = frame(
        rows,
        [
            c
            for c in EFFECT_COLUMNS
            if c not in ("p_holm", "p_holm_is_bound", "reject_holm", "detected")
        ],
    )
    if n_perm:
        p = df["p_value"].to_numpy(np.float64)
        df["p_holm"] = adjust_pvalues(p, "holm")
        df["p_holm_is_bound"] = holm_bounds(p, df["p_is_bound"].to_numpy(bool))
        df["reject_holm"] = (
            np.nan_to_num(df["p_holm"].to_numpy(np.float64), nan=1.0) <= settings.alpha
        )
    else:
        df["p_holm"], df["p_holm_is_bound"], df["reject_holm"] = np.nan, False, False
    lower = df["lower_is_better"].to_numpy(bool)
    beyond = np.where(
        lower,
        df["sensitivity_ci_low"].to_numpy(np.float64) > 0,
        df["sensitivity_ci_high"].to_numpy(np.float64) < 0,
    )
    df["detected"] = detected(df["reject_holm"].to_numpy(bool), beyond) if n_perm else "not tested"
    return df[list(EFFECT_COLUMNS)].sort_values(["intervention", "space"]).reset_index(drop=True)


def detected(rejected: np.ndarray, interval_above_zero: np.ndarray) -> np.ndarray:
    """ "yes" when the Holm-corrected test rejects and the interval of S lies beyond 0 (above
    for a distance where lower is better, below for precision/recall/density/coverage), "no" when
    neither, "borderline" when they disagree (the test and the interval answer different
    questions: any change of distribution vs the size of S)."""
    both, either = rejected & interval_above_zero, rejected | interval_above_zero
    return np.where(both, "yes", np.where(either, "borderline", "no"))


def _interval(values: np.ndarray, plan: ResamplingPlan, level: float) -> tuple[float, float]:
    """Interval of a ratio from its values on the plan's rows: on the log scale (ratios are
    skewed) when it and its leave-one-group-out values are positive, else on the raw scale. A
    half-sample row where the ratio is not positive has no log: the interval then falls back to
    the plain (conservative) jackknife variance."""
    if np.all(values[: plan.n_groups + 1] > 0):
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.where(values > 0, np.log(np.where(values > 0, values, 1.0)), np.nan)
        _, lo, hi = plan_interval(logs, plan, level)
        return float(np.exp(lo)), float(np.exp(hi))
    return plan_interval(values, plan, level)[1:]


# Step of the directional derivative in `_linearised` (relative to each row's departure from
# the all-faces values; the statistic is smooth there, so the result does not depend on it).
_STEP = 1e-6


def _values_interval(
    fn: Callable[[Cells, Cells], np.ndarray],
    vals: Cells,
    ref: Cells,
    plan: ResamplingPlan,
    level: float,
) -> tuple[float, float]:
    """The ratio's own values on the plan's rows (`_interval`)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return _interval(fn(vals, ref), plan, level)


def _linear_rows(
    fn: Callable[[Cells, Cells], np.ndarray], vals: Cells, ref: Cells, log: bool = True
) -> tuple[np.ndarray, bool] | None:
    """The first-order values of a smooth function of the cells' sensitivities on each plan
    row: log q0 + d log q / d step (``log`` and q0 > 0; returned with True) or q0 + d q / d step
    (raw scale, False), the derivative taken along that row's change of every cell; None where
    the function is not finite."""

    def blend(cells: Cells) -> Cells:
        return {k: v[0] + _STEP * (v - v[0]) for k, v in cells.items()}

    with np.errstate(divide="ignore", invalid="ignore"):
        q0 = float(fn(vals, ref)[0])
        q = fn(blend(vals), blend(ref))
    if not np.isfinite(q).all():
        return None
    if log and q0 > 0:
        return np.log(q0) + (np.log(q) - np.log(q0)) / _STEP, True
    return q0 + (q - q0) / _STEP, False


def _linearised(
    fn: Callable[[Cells, Cells], np.ndarray],
    vals: Cells,
    ref: Cells,
    plan: ResamplingPlan,
    level: float,
    log: bool = True,
) -> tuple[float, float]:
    """Delta-method interval of a smooth function of the cells' sensitivities (its values by
    `_linear_rows`: on the log scale when ``log`` and q0 > 0, exponentiated back). The row
    values are linear combinations of the cells' S, quadratic statistics for which the
    corrected jackknife is exact; no half-sample ratio (which can be 0 or negative when a
    yardstick is noisy on half the faces) enters, so nothing falls back to the plain
    jackknife."""
    lin = _linear_rows(fn, vals, ref, log)
    if lin is None:
        return float("nan"), float("nan")
    rows, on_log = lin
    _, lo, hi = plan_interval(rows, plan, level)
    return (float(np.exp(lo)), float(np.exp(hi))) if on_log else (lo, hi)


def ratio_test(
    fn: Callable[[Cells, Cells], np.ndarray],
    vals: Cells,
    ref: Cells,
    plan: ResamplingPlan,
    n_flip: int,
    rng: np.random.Generator,
) -> tuple[float, bool]:
    """(p, is_bound) of the face-group sign-flip test (`inference.flip_test`) of "the ratio
    is 1", on its linearised values (log scale where the ratio is positive: log 1 = 0)."""
    lin = _linear_rows(fn, vals, ref)
    if lin is None:
        return float("nan"), False
    rows, on_log = lin
    return flip_test(rows, plan, n_flip, rng, null=0.0 if on_log else 1.0)


# How a ratio of sensitivities gets its interval: "linearised" (default, calibrated in
# experiments/calibration.py --cross) or "values" (its values on the plan rows, log scale,
# plain-jackknife fallback: the method before the calibration).
RATIO_INTERVALS: dict[str, Callable[..., tuple[float, float]]] = {
    "linearised": _linearised,
    "values": _values_interval,
}


def _by_interval(q: float, lo: float, hi: float, p: float, alpha: float) -> str:
    return "over" if lo > 1 else "under" if hi < 1 else "in line"


def _by_test(q: float, lo: float, hi: float, p: float, alpha: float) -> str:
    return "in line" if not p <= alpha else "over" if q > 1 else "under"


def _by_both(q: float, lo: float, hi: float, p: float, alpha: float) -> str:
    by_interval = _by_interval(q, lo, hi, p, alpha)
    return by_interval if _by_test(q, lo, hi, p, alpha) == by_interval else "in line"


# How a judged ratio q gets its verdict from its interval (lo, hi) at level 1 - alpha/m and
# its sign-flip p-value against alpha/m: "interval" (the interval alone), "test" (the test
# alone, direction from q), "both" (over/under only where both say so). Chosen by
# experiments/calibration.py --cross (see DEFAULT_RULE).
VERDICT_RULES: dict[str, Callable[[float, float, float, float, float], str]] = {
    "interval": _by_interval,
    "test": _by_test,
    "both": _by_both,
}
DEFAULT_RULE = "both"
# Sign flips of the ratio test: at least this many, and at least enough that 1/(B + 1) is
# below alpha / (2 m) (`resamples_for`).
MIN_FLIPS = 999


def cross_space(
    effects: dict[tuple[str, str], CellInference],
    reference: dict[str, CellInference],
    spaces: dict[str, PairFeatures],
    attributes: list[str],
    settings: Settings,
    normaliser: str,
    plan: ResamplingPlan,
    method: str = "linearised",
    rule: str = DEFAULT_RULE,
    n_flip: int | None = None,
) -> tuple[pd.DataFrame | None, list[str]]:
    """The cross-space table (columns ``CROSS_COLUMNS``); see the module docstring.
    ``method``: how the ratios get their intervals (``RATIO_INTERVALS``); ``rule``: how they
    get their verdicts (``VERDICT_RULES``); ``n_flip``: sign flips of each ratio's test
    (default: `MIN_FLIPS` or more). Each ratio's test draws from its own stream seeded by
    (seed, attribute, space)."""
    if rule not in VERDICT_RULES:
        raise ValueError(f"unknown verdict rule {rule!r}; known: {sorted(VERDICT_RULES)}")
    notes: list[str] = []
    trained = [sp for sp, pf in spaces.items() if pf.trained]
    if len(trained) < 2:
        return None, [f"cross-space comparison needs at least two trained spaces, got {trained}"]
    interval = RATIO_INTERVALS[method]
    vals = {k: c.values for k, c in effects.items()}
    ref = {sp: c.values for sp, c in reference.items()}
    n_verdicts = len(attributes) * len(trained)
    level = 1.0 - settings.alpha / n_verdicts
    n_flip = n_flip or max(MIN_FLIPS, resamples_for(n_verdicts, settings.alpha))
    what = {"reference": "the reference distortion", "attributes": "its mean over attributes"}

    def profile(v: Cells, r: Cells, a: str, sp: str) -> np.ndarray:
        return NORMALISERS[normaliser](v, r, attributes, sp)[a]

    def yardstick(v: Cells, r: Cells, sp: str) -> np.ndarray:
        return (
            r[sp] if normaliser == "reference" else np.mean([v[b, sp] for b in attributes], axis=0)
        )

    rows = []
    for a in attributes:
        for sp, pf in spaces.items():
            others = [t for t in trained if t != sp]

            def denom(v: Cells, r: Cells, others: list[str] = others, a: str = a) -> np.ndarray:
                mean: np.ndarray = np.mean([profile(v, r, a, t) for t in others], axis=0)
                return mean

            def relative(
                v: Cells,
                r: Cells,
                sp: str = sp,
                a: str = a,
                denom: Callable[[Cells, Cells], np.ndarray] = denom,
            ) -> np.ndarray:
                ratio: np.ndarray = profile(v, r, a, sp) / denom(v, r)
                return ratio

            with np.errstate(divide="ignore", invalid="ignore"):
                prof = profile(vals, ref, a, sp)
                den = denom(vals, ref)
            row = {
                **pf.labels(),
                "intervention": a,
                "normaliser": normaliser,
                "profile": float(prof[0]),
                "compared_with": ", ".join(spaces[t].space_label for t in others),
                "ci_level": level,
                "n_verdicts": n_verdicts,
                "p_value": np.nan,
                "p_is_bound": False,
                "n_flip": n_flip,
                "verdict_rule": rule,
                "note": "",
            }
            # comparable when the yardstick and the others' mean profile are clearly above 0:
            # on the raw scale (linearised), or as before the calibration ("values")
            yard = yardstick(vals, ref, sp) if normaliser != "reference" or sp in ref else None
            if method == "linearised":
                yard_lo = plan_interval(yard, plan, level)[1] if yard is not None else np.nan
                den_lo = (
                    _linearised(denom, vals, ref, plan, level, log=False)[0]
                    if np.isfinite(den).all()
                    else np.nan
                )
            else:
                yard_lo = _interval(yard, plan, level)[0] if yard is not None else np.nan
                den_lo = _interval(den, plan, level)[0] if np.isfinite(den).all() else np.nan
            if not yard_lo > 0 or not den_lo > 0:
                row.update(
                    relative=np.nan,
                    relative_ci_low=np.nan,
                    relative_ci_high=np.nan,
                    reaction="not comparable",
                    note=(
                        "this space's yardstick"
                        if not yard_lo > 0
                        else "the other trained spaces' profile"
                    )
                    + f" ({what[normaliser]}) is not clearly above 0",
                )
            else:
                lo, hi = interval(relative, vals, ref, plan, level)
                p, bound = ratio_test(
                    relative,
                    vals,
                    ref,
                    plan,
                    n_flip,
                    group_rng(settings.seed, a, sp, "relative"),
                )
                q = float(prof[0] / den[0])
                reaction = (
                    VERDICT_RULES[rule](q, lo, hi, p, settings.alpha / n_verdicts)
                    if pf.trained
                    else "not judged (untrained)"
                )
                row.update(
                    relative=q,
                    relative_ci_low=lo,
                    relative_ci_high=hi,
                    p_value=p,
                    p_is_bound=bound,
                    reaction=reaction,
                )
            rows.append(row)
    df = frame(rows, CROSS_COLUMNS)
    return df.sort_values(["intervention", "space"]).reset_index(drop=True), notes


def _infer_family(
    family: str,
    members: tuple[str, ...],
    pf: PairFeatures,
    settings: Settings,
    n_perm: int | None,
    plan: ResamplingPlan,
) -> list[CellInference]:
    """The cells of one distance family for one attribute x space (its own seeded stream:
    FD's is the (seed, intervention, space) stream it always had)."""
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
        prepare = FAMILIES[family].prepare
        if prepare is None:
            return [
                infer_cell(
                    pf.base,
                    pf.twin,
                    settings,
                    group_rng(settings.seed, pf.intervention, pf.space),
                    n_perm,
                    plan,
                )
            ]
        rng = group_rng(settings.seed, pf.intervention, pf.space, family)
        evaluate = prepare(pf.base, pf.twin)
        cols = [FAMILIES[family].members.index(m) for m in members]
        cells = infer_pooled(
            lambda keep, swaps: evaluate(keep, swaps)[:, cols],
            pf.n_pairs,
            members,
            [DISTANCES[m].lower_is_better for m in members],
            settings,
            rng,
            n_perm,
            plan,
            dim=pf.dim,
        )
        return cells


def _distance_rows(
    pairs: list[PairFeatures],
    cells: list[dict[str, CellInference]],
    distances: tuple[str, ...],
    settings: Settings,
    family_size: int,
    n_perm: int | None,
    plan: ResamplingPlan,
) -> pd.DataFrame:
    """Effect rows of every distance (each distance its own Holm family), FD first; with FD
    alone exactly the FD table."""
    frames = [
        _effect_rows(pairs, [c[d] for c in cells], settings, family_size, n_perm, plan)
        for d in distances
    ]
    if len(frames) == 1:
        return frames[0]
    df = pd.concat(frames, ignore_index=True)
    order = df["distance"].map({d: i for i, d in enumerate(distances)})
    df = df.assign(_order=order).sort_values(["intervention", "space", "_order"], kind="stable")
    return df.drop(columns="_order").reset_index(drop=True)


def face_inference(
    pairs: Sequence[PairFeatures],
    reference: Sequence[PairFeatures] = (),
    settings: Settings = Settings(),  # noqa: B008 (a frozen dataclass)
    workers: int = 1,
    distances: Sequence[str] = DEFAULT_DISTANCES,
) -> FaceInference:
    """Effects, tests and the cross-space comparison of every attribute x space in ``pairs``.

    ``reference``: the reference distortion's pairs, one per space (e.g. ``blur:all``); without
    them the cross-space profiles are normalised by each space's mean over attributes. The
    Holm family of a distance is every cell of ``pairs`` (its size is recorded in
    ``family_size``) and ``n_perm`` defaults to `resamples_for` that family. Every cell has its
    own stream seeded by (seed, intervention, space[, distance family]) and all cells share the
    resampling plan, so the result does not depend on the order of ``pairs`` or on ``workers``
    (threads). ``distances``: names of `distances.DISTANCES` (FD always runs first, and the
    cross-space comparison is FD's); the effects table has a row per attribute x space x
    distance.
    """
    pairs, reference = list(pairs), list(reference)
    if not pairs:
        raise ValueError("face inference: no attribute x space pairs given")
    distances = check_distances(distances)
    families = families_of(distances)
    sizes = {pf.n_pairs for pf in pairs + reference}
    if len(sizes) != 1:
        raise ValueError(
            f"face inference compares cells on the same faces, but the pairs have "
            f"different sizes {sorted(sizes)}"
        )
    keys = [(pf.intervention, pf.space) for pf in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("face inference: an attribute x space cell is given twice")
    family = len(pairs)
    n_perm = settings.n_perm or resamples_for(family, settings.alpha)
    plan = cell_plan(sizes.pop(), settings)

    def run(job: tuple[PairFeatures, int | None]) -> dict[str, CellInference]:
        pf, perms = job
        out: dict[str, CellInference] = {}
        for fam, members in families.items():
            out.update(
                {c.distance: c for c in _infer_family(fam, members, pf, settings, perms, plan)}
            )
        return out

    jobs = [(pf, n_perm) for pf in pairs] + [(pf, None) for pf in reference]
    if workers > 1:
        with ThreadPoolExecutor(workers) as ex:
            cells = list(ex.map(run, jobs))
    else:
        cells = [run(j) for j in jobs]
    effects = _distance_rows(pairs, cells[:family], distances, settings, family, n_perm, plan)
    ref_df = (
        _distance_rows(reference, cells[family:], distances, settings, 0, None, plan)
        if reference
        else None
    )
    spaces = {pf.space: pf for pf in pairs}
    attributes = sorted({pf.intervention for pf in pairs})
    by_key = {k: c["fd"] for k, c in zip(keys, cells[:family])}
    ref_cells = {pf.space: c["fd"] for pf, c in zip(reference, cells[family:])}
    notes = []
    normaliser = "reference"
    if set(ref_cells) != set(spaces):
        normaliser = "attributes"
        if reference:
            notes.append(
                f"reference distortion missing in spaces {sorted(set(spaces) - set(ref_cells))}: "
                "profiles are normalised by each space's mean over attributes"
            )
    missing = [(a, sp) for a in attributes for sp in spaces if (a, sp) not in by_key]
    if missing:
        notes.append(
            f"cross-space comparison needs every attribute in every space; missing {missing}"
        )
        table = None
    else:
        table, more = cross_space(by_key, ref_cells, spaces, attributes, settings, normaliser, plan)
        notes += more
    return FaceInference(effects, ref_df, table, notes)


__all__ = [
    "CROSS_COLUMNS",
    "DEFINITION",
    "EFFECT_COLUMNS",
    "EFFECT_DESCRIPTIONS",
    "INTERVAL",
    "FaceInference",
    "NORMALISERS",
    "DEFAULT_RULE",
    "MIN_FLIPS",
    "RATIO_INTERVALS",
    "VERDICT_RULES",
    "cross_space",
    "face_inference",
]
