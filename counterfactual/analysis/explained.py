"""Explained FD: how much of a generator's FD to a reference set each attribute's prevalence gap
explains, per feature space.

For an attribute with per-image scores in both sets, an image *has* the attribute when its
score >= the attribute's threshold (scores are thresholded, not used as probabilities). With
prevalences p_gen and p_ref, the generated set is importance-resampled to the reference
prevalence: every generated image with the attribute gets weight p_ref / p_gen and every one
without it (1 - p_ref) / (1 - p_gen). Then

    fd_drop = FD(generated, reference) - FD(generated matched to p_ref, reference)
    explained_fraction = fd_drop / FD(generated, reference)

Methods (``RESAMPLERS``): "weighted" (default) uses the weighted mean and covariance, the
expectation of importance resampling without its resampling noise; "resample" draws a
stratified resample of the generated set (round(p_ref * n) images with the attribute, the rest
without, with replacement), averaged over ``n_resample`` resamples for the point estimate.

Assumptions: the attribute is binary after thresholding and the scorer is equally accurate on
both sets; resampling keeps the within-group feature distributions of the generated set, so
only the between-group mix changes (what remains is the within-group difference plus any
other attribute's gap); the generated set must contain images with and without the attribute
whenever the prevalences differ (otherwise the row is NaN with the reason in ``status``); the
explained parts of different attributes are not additive when the attributes are correlated.
CIs are percentile intervals from ``n_boot`` bootstrap replicates that resample both sets (rows
with their scores) and recompute the prevalences, weights and both FDs; the same resampled
rows are used in every space of an attribute. Streams are seeded by ``(seed, attribute)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from counterfactual.metrics import as_features
from counterfactual.metrics.fd_factors import RowFactor, fd_factors, row_factor
from counterfactual.run.schemas import EXPLAINED_COLUMNS

from ._common import (
    check_count,
    check_level,
    frame,
    group_rng,
    percentile_interval,
)


def binarise(scores: np.ndarray, threshold: float, what: str = "scores") -> np.ndarray:
    """Boolean presence (score >= threshold) of a finite 1-D score array."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or not np.isfinite(s).all():
        bad = int(s.size - np.count_nonzero(np.isfinite(s)))
        raise ValueError(
            f"{what}: expected finite 1-D scores, got shape {s.shape} with {bad} non-finite "
            "(NaN: images the scorer could not score)"
        )
    return s >= float(threshold)


# What explained FD assumes (shown next to every explained-FD table).
ASSUMPTIONS: tuple[str, ...] = (
    "Each attribute is binary after thresholding its score (score >= threshold), and the "
    "scorer is equally accurate on generated and reference images: scorer errors move the "
    "measured prevalences and therefore the estimate.",
    "Matching the prevalence reweights the generated images with and without the attribute "
    "(importance weights p_ref/p_gen and (1-p_ref)/(1-p_gen)); it assumes the within-group "
    "feature distributions stay as they are, so only the mix of the two groups changes.",
    "Attributes are treated one at a time: the shares of different attributes are not "
    "additive (correlated attributes explain overlapping parts of the FD) and need not sum to 1.",
    "It is an association under these assumptions, not a causal decomposition: an attribute's "
    "share can also carry any correlated attribute that was not scored.",
)


def importance_weights(present: np.ndarray, p_ref: float) -> np.ndarray:
    """Weights that move the prevalence of ``present`` to ``p_ref`` (error if impossible)."""
    present = np.asarray(present, dtype=bool)
    p_gen = float(present.mean())
    if p_gen == p_ref:
        return np.ones(present.size)
    if p_gen in (0.0, 1.0):
        side = "with" if p_gen == 0.0 else "without"
        raise ValueError(
            f"cannot reweight: the generated set has no image {side} the attribute "
            f"(prevalence {p_gen:g}, reference {p_ref:g})"
        )
    return np.where(present, p_ref / p_gen, (1.0 - p_ref) / (1.0 - p_gen))


def _matched_weighted(
    x: np.ndarray,
    present: np.ndarray,
    p_ref: float,
    ref: RowFactor,
    rng: np.random.Generator,
    n_resample: int,
) -> float:
    return fd_factors(row_factor(x, importance_weights(present, p_ref)), ref).value


def _matched_resample(
    x: np.ndarray,
    present: np.ndarray,
    p_ref: float,
    ref: RowFactor,
    rng: np.random.Generator,
    n_resample: int,
) -> float:
    importance_weights(present, p_ref)  # same feasibility check
    n = present.size
    n1 = int(np.floor(p_ref * n + 0.5))
    yes, no = np.flatnonzero(present), np.flatnonzero(~present)
    vals = []
    for _ in range(n_resample):
        idx = np.concatenate(
            [rng.choice(yes, n1) if n1 else yes[:0], rng.choice(no, n - n1) if n - n1 else no[:0]]
        )
        vals.append(fd_factors(row_factor(x[idx]), ref).value)
    return float(np.mean(vals))


# method -> (gen features, presence, p_ref, reference moments, rng, n_resample) -> matched FD.
RESAMPLERS: dict[str, Callable[..., float]] = {
    "weighted": _matched_weighted,
    "resample": _matched_resample,
}

PREVALENCE_COLUMNS: tuple[str, ...] = (
    "attribute",
    "threshold",
    "n_gen",
    "n_ref",
    "prevalence_gen",
    "prevalence_ref",
    "prevalence_gap",
)


def attribute_prevalence(
    gen_scores: Mapping[str, np.ndarray],
    ref_scores: Mapping[str, np.ndarray],
    thresholds: Mapping[str, float] | float = 0.5,
) -> pd.DataFrame:
    """Prevalence of each attribute in both sets (columns ``PREVALENCE_COLUMNS``;
    ``prevalence_gap`` = gen - ref)."""
    rows = []
    for attr in sorted(gen_scores):
        thr = _threshold(thresholds, attr)
        g, r = _scores_pair(gen_scores, ref_scores, attr, thr)
        rows.append(
            {
                "attribute": attr,
                "threshold": thr,
                "n_gen": g.size,
                "n_ref": r.size,
                "prevalence_gen": g.mean(),
                "prevalence_ref": r.mean(),
                "prevalence_gap": g.mean() - r.mean(),
            }
        )
    return frame(rows, PREVALENCE_COLUMNS)


def explained_fd(
    gen_features: Mapping[str, np.ndarray],
    ref_features: Mapping[str, np.ndarray],
    gen_scores: Mapping[str, np.ndarray],
    ref_scores: Mapping[str, np.ndarray],
    thresholds: Mapping[str, float] | float = 0.5,
    n_boot: int = 200,
    ci: float = 0.95,
    seed: int = 0,
    method: str = "weighted",
    n_resample: int = 20,
    trained: Mapping[str, bool] | None = None,
    space_labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """FD explained by each attribute's prevalence gap, per attribute x space.

    ``gen_features``/``ref_features`` map a space name to features [N, dim] (row i is image i
    in every space); ``gen_scores``/``ref_scores`` map an attribute to per-image scores [N].
    ``trained`` marks random-weight spaces (label "<space> (untrained)" unless
    ``space_labels`` gives one). Returns columns ``EXPLAINED_COLUMNS``; ``status`` is "ok" or
    why the row is NaN.
    """
    if method not in RESAMPLERS:
        raise ValueError(f"unknown method {method!r}; choose from {sorted(RESAMPLERS)}")
    n_boot, ci = check_count(n_boot, "n_boot", minimum=0), check_level(ci)
    n_resample = check_count(n_resample, "n_resample")
    if set(gen_features) != set(ref_features):
        raise ValueError(
            f"spaces differ: generated {sorted(gen_features)} vs reference {sorted(ref_features)}"
        )
    gen = {
        s: as_features(gen_features[s], f"generated features in space {s!r}", min_rows=2)
        for s in sorted(gen_features)
    }
    ref = {
        s: as_features(ref_features[s], f"reference features in space {s!r}", min_rows=2)
        for s in sorted(ref_features)
    }
    n_gen, n_ref = _common_length(gen, "generated"), _common_length(ref, "reference")
    matcher = RESAMPLERS[method]
    rows = []
    for attr in sorted(gen_scores):
        thr = _threshold(thresholds, attr)
        pg, pr = _scores_pair(gen_scores, ref_scores, attr, thr)
        if pg.size != n_gen or pr.size != n_ref:
            raise ValueError(
                f"attribute {attr!r}: {pg.size}/{pr.size} scores for "
                f"{n_gen}/{n_ref} generated/reference images"
            )
        rng = group_rng(seed, attr)
        boot_idx = [
            (rng.integers(0, n_gen, n_gen), rng.integers(0, n_ref, n_ref)) for _ in range(n_boot)
        ]
        for space in gen:
            is_trained = True if trained is None else bool(trained.get(space, True))
            label = (space_labels or {}).get(space) or (
                space if is_trained else f"{space} (untrained)"
            )
            row = {
                "attribute": attr,
                "space": space,
                "space_label": label,
                "trained": is_trained,
                "threshold": thr,
                "n_gen": n_gen,
                "n_ref": n_ref,
                "prevalence_gen": pg.mean(),
                "prevalence_ref": pr.mean(),
                "prevalence_gap": pg.mean() - pr.mean(),
                "method": method,
                "n_boot": n_boot,
                "ci_level": ci,
                "seed": int(seed),
            }
            srng = group_rng(seed, attr, space, "resample")
            try:
                fd, matched = _fd_pair(gen[space], ref[space], pg, pr, matcher, srng, n_resample)
            except ValueError as exc:
                rows.append({**row, "status": str(exc)})
                continue
            drops, fracs = np.full(n_boot, np.nan), np.full(n_boot, np.nan)
            for b, (ig, ir) in enumerate(boot_idx):
                try:
                    fb, mb = _fd_pair(
                        gen[space][ig], ref[space][ir], pg[ig], pr[ir], matcher, srng, 1
                    )
                except ValueError:
                    continue  # a replicate without one of the groups: left out of the CI
                drops[b] = fb - mb
                fracs[b] = (fb - mb) / fb if fb > 0 else np.nan
            (d_lo, d_hi), (f_lo, f_hi) = (
                percentile_interval(drops, ci),
                percentile_interval(fracs, ci),
            )
            rows.append(
                {
                    **row,
                    "fd": fd,
                    "fd_matched": matched,
                    "fd_drop": fd - matched,
                    "fd_drop_ci_low": float(d_lo),
                    "fd_drop_ci_high": float(d_hi),
                    "explained_fraction": (fd - matched) / fd if fd > 0 else np.nan,
                    "explained_ci_low": float(f_lo),
                    "explained_ci_high": float(f_hi),
                    "status": "ok",
                }
            )
    return frame(rows, EXPLAINED_COLUMNS)


def _fd_pair(
    x: np.ndarray,
    y: np.ndarray,
    present_gen: np.ndarray,
    present_ref: np.ndarray,
    matcher: Callable[..., float],
    rng: np.random.Generator,
    n_resample: int,
) -> tuple[float, float]:
    """FD(generated, reference) and FD(generated matched to the reference prevalence, reference)."""
    ref = row_factor(y)
    fd = fd_factors(row_factor(x), ref).value
    return fd, matcher(x, present_gen, float(present_ref.mean()), ref, rng, n_resample)


def _threshold(thresholds: Mapping[str, float] | float, attr: str) -> float:
    if isinstance(thresholds, Mapping):
        if attr not in thresholds:
            raise ValueError(f"no threshold for attribute {attr!r} (have {sorted(thresholds)})")
        return float(thresholds[attr])
    return float(thresholds)


def _scores_pair(
    gen_scores: Mapping[str, Any], ref_scores: Mapping[str, Any], attr: str, thr: float
) -> tuple[np.ndarray, np.ndarray]:
    if attr not in ref_scores:
        raise ValueError(f"attribute {attr!r} has generated scores but no reference scores")
    return (
        binarise(gen_scores[attr], thr, f"generated scores of {attr!r}"),
        binarise(ref_scores[attr], thr, f"reference scores of {attr!r}"),
    )


def _common_length(features: Mapping[str, np.ndarray], what: str) -> int:
    lengths = {s: f.shape[0] for s, f in features.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{what} features have different row counts per space: {lengths}")
    return int(next(iter(lengths.values())))
