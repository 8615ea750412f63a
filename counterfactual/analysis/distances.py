"""The distances of the counterfactual analysis (``DISTANCES``: name -> `Distance`).

Every distance gets the one sensitivity definition of `counterfactual.analysis.sensitivity`,
generalised: S_d = d(base set, twin set) - E_swap d(swapped sets), the same swap permutation
test and the same corrected face-level jackknife (`inference.infer_pooled`), all from the
cell's cached features. A distance belongs to a *family* (``FAMILIES``) whose evaluator gives
all its members from one pass: precision, recall, density and coverage share their k-NN
distances.

An evaluator is built once per cell from the matched sets (row i of ``twin`` pairs with row i
of ``base``) and answers ``evaluate(keep [N] bool, swaps [K, N] 0/1) -> [K, members]``: the
distances between the two sets of the kept faces, set A holding each kept pair's base (twin
where the swap bit is 1), set B the other member. Kernel and distance matrices are computed
once per cell over the 2N pooled rows, so a subset or swap pattern costs index arithmetic.

FD is evaluated by `inference.infer_cell` (exact mean-term part of the floor); the others by
the evaluators below, which equal the metrics' own functions (`counterfactual.metrics`) on
the same sets: KID = `mmd2_unbiased` (cubic kernel), CMMD and the median-heuristic MMD =
`rbf_mmd2`, precision/recall (k = 3) and density/coverage (k = 5) = `manifold_metrics` with
the base side as "real".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from counterfactual.metrics import frechet_distance_features, manifold_metrics, mmd2_unbiased
from counterfactual.metrics.kid import polynomial_kernel
from counterfactual.metrics.mmd import (
    CMMD_SCALE,
    CMMD_SIGMA,
    cmmd,
    median_bandwidth,
    mmd_median,
    squared_distances,
)

PR_K = 3
DC_K = 5

Evaluator = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Distance:
    """One distance: ``metric(x, y)`` is the metric's own value on two feature sets (x the
    base side), ``lower_is_better`` its direction (the test and "detected" follow it)."""

    name: str
    label: str
    family: str
    lower_is_better: bool
    metric: Callable[[np.ndarray, np.ndarray], float]
    description: str


@dataclass(frozen=True)
class Family:
    """Distances computed together: ``prepare(base, twin)`` -> evaluator (None: FD, which
    `inference.infer_cell` evaluates)."""

    name: str
    members: tuple[str, ...]
    prepare: Callable[[np.ndarray, np.ndarray], Evaluator] | None


def _sides(keep: np.ndarray, swaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices into the pooled [base; twin] rows of sets A and B, [K, m] each."""
    idx = np.flatnonzero(keep)
    n = keep.size
    s = np.asarray(swaps, np.int64)[:, idx]
    return idx + n * s, idx + n * (1 - s)


def _kernel_values(k: np.ndarray, swaps: np.ndarray, unbiased: bool, scale: float) -> np.ndarray:
    """[K] MMD^2 from the kernel matrix ``k`` [2m, 2m] of the kept pairs ([base; twin] order)
    for each swap pattern of the kept faces [K, m]."""
    s = np.asarray(swaps, np.float64)
    ind_a = np.hstack([1.0 - s, s])
    ind_b = 1.0 - ind_a
    m = s.shape[1]
    ka = ind_a @ k
    kb = ind_b @ k
    aa, bb, ab = (
        np.einsum("ij,ij->i", ka, ind_a),
        np.einsum("ij,ij->i", kb, ind_b),
        np.einsum("ij,ij->i", ka, ind_b),
    )
    if unbiased:
        diag = np.diag(k)
        aa, bb = aa - ind_a @ diag, bb - ind_b @ diag
        within = (aa + bb) / (m * (m - 1.0))
    else:
        within = (aa + bb) / (m * m)
    value: np.ndarray = scale * (within - 2.0 * ab / (m * m))
    return value


def _kernel_family(
    kernel: Callable[[np.ndarray], np.ndarray], unbiased: bool, scale: float
) -> Callable[[np.ndarray, np.ndarray], Evaluator]:
    """A fixed kernel computed once on the pooled rows."""

    def prepare(base: np.ndarray, twin: np.ndarray) -> Evaluator:
        n = base.shape[0]
        full = kernel(np.vstack([base, twin]))

        def evaluate(keep: np.ndarray, swaps: np.ndarray) -> np.ndarray:
            idx = np.flatnonzero(keep)
            u = np.concatenate([idx, idx + n])
            return _kernel_values(full[np.ix_(u, u)], np.asarray(swaps)[:, idx], unbiased, scale)[
                :, None
            ]

        return evaluate

    return prepare


def _prepare_median(base: np.ndarray, twin: np.ndarray) -> Evaluator:
    """Gaussian kernel at the median-heuristic bandwidth of the kept pairs' pooled rows (the
    pooled set does not change under swaps, so neither does the bandwidth)."""
    n = base.shape[0]
    pool = np.vstack([base, twin])
    sq = squared_distances(pool, pool)

    def evaluate(keep: np.ndarray, swaps: np.ndarray) -> np.ndarray:
        idx = np.flatnonzero(keep)
        u = np.concatenate([idx, idx + n])
        d = sq[np.ix_(u, u)]
        sigma = median_bandwidth(d)
        return _kernel_values(
            np.exp(-d / (2.0 * sigma * sigma)), np.asarray(swaps)[:, idx], True, 1.0
        )[:, None]

    return evaluate


def _kth(d: np.ndarray, k: int) -> np.ndarray:
    """Squared distance of each row to its k-th nearest other row (the diagonal is inf)."""
    return np.partition(d, k - 1, axis=1)[:, k - 1]


def _prepare_prdc(base: np.ndarray, twin: np.ndarray) -> Evaluator:
    """(precision, recall, density, coverage) with the base side (A) as "real"; NaN on a
    subset of at most k faces (a cross-fit half of a small cell: its variance then falls back to
    the plain jackknife)."""
    pool = np.vstack([base, twin])
    sq = squared_distances(pool, pool)
    np.fill_diagonal(sq, np.inf)

    def evaluate(keep: np.ndarray, swaps: np.ndarray) -> np.ndarray:
        ia, ib = _sides(keep, swaps)
        m = ia.shape[1]
        out = np.full((ia.shape[0], 4), np.nan)
        if m <= max(PR_K, DC_K):  # too few faces for the k-NN balls: undefined (NaN)
            return out
        for j, (a, b) in enumerate(zip(ia, ib)):
            daa, dbb, dab = sq[np.ix_(a, a)], sq[np.ix_(b, b)], sq[np.ix_(a, b)]
            ra_pr, ra_dc, rb_pr = _kth(daa, PR_K), _kth(daa, DC_K), _kth(dbb, PR_K)
            out[j] = (
                (dab <= ra_pr[:, None]).any(axis=0).mean(),
                (dab <= rb_pr[None, :]).any(axis=1).mean(),
                (dab <= ra_dc[:, None]).sum() / (DC_K * m),
                (dab.min(axis=1) <= ra_dc).mean(),
            )
        return out

    return evaluate


def _fd(x: np.ndarray, y: np.ndarray) -> float:
    return float(frechet_distance_features(x, y).value)


def _kid(x: np.ndarray, y: np.ndarray) -> float:
    return mmd2_unbiased(np.asarray(x, np.float64), np.asarray(y, np.float64))


def _prdc_metric(field: str) -> Callable[[np.ndarray, np.ndarray], float]:
    def metric(x: np.ndarray, y: np.ndarray) -> float:
        pr, dc = manifold_metrics(x, y, pr_k=PR_K, dc_k=DC_K)
        return float(getattr(pr if field in ("precision", "recall") else dc, field))

    return metric


FAMILIES: dict[str, Family] = {
    "fd": Family("fd", ("fd",), None),
    "kid": Family("kid", ("kid",), _kernel_family(lambda p: polynomial_kernel(p, p), True, 1.0)),
    "cmmd": Family(
        "cmmd",
        ("cmmd",),
        _kernel_family(
            lambda p: np.exp(-squared_distances(p, p) / (2.0 * CMMD_SIGMA**2)), False, CMMD_SCALE
        ),
    ),
    "mmd": Family("mmd", ("mmd",), _prepare_median),
    "prdc": Family("prdc", ("precision", "recall", "density", "coverage"), _prepare_prdc),
}

DISTANCES: dict[str, Distance] = {
    d.name: d
    for d in (
        Distance("fd", "FD", "fd", True, _fd, "Fréchet distance of the fitted Gaussians (default)"),
        Distance(
            "kid",
            "KID",
            "kid",
            True,
            _kid,
            "unbiased MMD^2 with the cubic polynomial kernel (Bińkowski et al. 2018), all faces",
        ),
        Distance(
            "cmmd",
            "CMMD",
            "cmmd",
            True,
            cmmd,
            "1000 x MMD^2 with a Gaussian kernel, sigma 10 (CMMD's settings, Jayasumana et al. 2024)",
        ),
        Distance(
            "mmd",
            "MMD (median)",
            "mmd",
            True,
            mmd_median,
            "unbiased MMD^2 with a Gaussian kernel at the median-heuristic bandwidth",
        ),
        Distance(
            "precision",
            "precision",
            "prdc",
            False,
            _prdc_metric("precision"),
            f"share of twin-side rows inside a base-side {PR_K}-NN ball (Kynkäänniemi et al. 2019)",
        ),
        Distance(
            "recall",
            "recall",
            "prdc",
            False,
            _prdc_metric("recall"),
            f"share of base-side rows inside a twin-side {PR_K}-NN ball",
        ),
        Distance(
            "density",
            "density",
            "prdc",
            False,
            _prdc_metric("density"),
            f"mean count of base-side {DC_K}-NN balls holding a twin-side row / {DC_K} "
            "(Naeem et al. 2020)",
        ),
        Distance(
            "coverage",
            "coverage",
            "prdc",
            False,
            _prdc_metric("coverage"),
            f"share of base-side {DC_K}-NN balls holding a twin-side row",
        ),
    )
}

# The distances a report runs unless told otherwise.
DEFAULT_DISTANCES: tuple[str, ...] = ("fd",)


def check_distances(names: Sequence[str]) -> tuple[str, ...]:
    """The requested distances in registry order, FD always first (it carries the cross-space
    verdicts); one clear error naming the allowed names for an unknown one."""
    names = [str(n).strip().lower() for n in names if str(n).strip()]
    unknown = [n for n in names if n not in DISTANCES]
    if unknown:
        raise ValueError(f"unknown distance(s) {unknown}; choose from {list(DISTANCES)}")
    return tuple(d for d in DISTANCES if d == "fd" or d in names)


def families_of(names: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """family -> the requested members, in registry order."""
    out: dict[str, list[str]] = {}
    for n in check_distances(names):
        out.setdefault(DISTANCES[n].family, []).append(n)
    return {f: tuple(m) for f, m in out.items()}


__all__ = [
    "DEFAULT_DISTANCES",
    "DISTANCES",
    "FAMILIES",
    "Distance",
    "Evaluator",
    "Family",
    "check_distances",
    "families_of",
]
