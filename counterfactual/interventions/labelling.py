"""How scored samples become two classes for learning a latent direction (one rule per scorer).

A rule turns float64 scores [N] (NaN: unscored) into `Labels`: the indices of the negative
(0) and positive (1) samples it keeps and what it did (recorded in the direction's provenance).
Rules live in a registry (`register_labelling(name, rule)`); a scorer declares its rule with a
class attribute ``labelling = {"rule": name, **options}`` (read by
`extractors.scorers.scorer_labelling` without loading weights); scorers that declare none use
``quantile``.

- ``quantile`` (InterFaceGAN, continuous attributes): the bottom and top ``quantile`` of the
  scores are negatives and positives (equal counts); fails when they overlap.
- ``threshold`` (rare or binary attributes: hats, eyeglasses): positives score above
  ``threshold``, negatives at or below ``negative_max`` (default: the threshold); the samples
  in between are left out. The classes are unequal (a rare attribute has few positives), so
  the classifier weights them inversely to their counts ("class-balanced") and its quality is
  balanced accuracy and AUC on held-out samples, never plain accuracy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from counterfactual.errors import UserError
from counterfactual.foundation.registry import Registry

MIN_PER_CLASS = 5


@dataclass(frozen=True)
class Labels:
    """Indices (into the scores) of the negatives and positives, and the rule's record."""

    negatives: np.ndarray
    positives: np.ndarray
    record: dict[str, Any] = field(default_factory=dict)


LabellingRule = Callable[..., Labels]
LABELLING = Registry("labelling rule")


def register_labelling(name: str, rule: LabellingRule | str) -> None:
    """Register a rule: scores [N] float64, **options -> Labels."""
    LABELLING.register(name, rule)


def available_labellings() -> list[str]:
    return LABELLING.names()


def _finite(scores: np.ndarray) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    return np.flatnonzero(np.isfinite(s))


def quantile_labels(scores: np.ndarray, quantile: float = 0.2) -> Labels:
    """Bottom / top `quantile` of the finite scores (InterFaceGAN)."""
    if not 0 < quantile <= 0.5:
        raise UserError(f"quantile must be in (0, 0.5], got {quantile}")
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    ok = _finite(s)
    k = int(np.floor(quantile * ok.size))
    if k < MIN_PER_CLASS:
        raise UserError(
            f"only {ok.size} scored samples: quantile {quantile} gives {k} per class "
            f"(need at least {MIN_PER_CLASS}); raise n_samples"
        )
    order = ok[np.argsort(s[ok], kind="stable")]
    low, high = order[:k], order[-k:]
    if s[low].max() >= s[high].min():
        raise UserError(
            "the scorer does not separate the quantiles (top and bottom scores overlap: "
            f"{np.mean(s[ok] == s[low].max()):.0%} of the scores equal "
            f"{s[low].max():g}); is the attribute rare or binary? Declare a threshold "
            "rule for its scorer (labelling = {'rule': 'threshold', ...})"
        )
    return Labels(
        low,
        high,
        {
            "rule": "quantile",
            "quantile": quantile,
            "score_low_max": float(s[low].max()),
            "score_high_min": float(s[high].min()),
        },
    )


def threshold_labels(
    scores: np.ndarray, threshold: float, negative_max: float | None = None
) -> Labels:
    """Positives: score > threshold; negatives: score <= negative_max (default threshold)."""
    neg_max = float(threshold) if negative_max is None else float(negative_max)
    if neg_max > threshold:
        raise UserError(f"negative_max ({neg_max:g}) must not exceed the threshold ({threshold:g})")
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    ok = _finite(s)
    pos, neg = ok[s[ok] > threshold], ok[s[ok] <= neg_max]
    if pos.size < MIN_PER_CLASS or neg.size < MIN_PER_CLASS:
        raise UserError(
            f"threshold rule: {pos.size} samples score above {threshold:g} and "
            f"{neg.size} at or below {neg_max:g} (of {ok.size} scored); need at least "
            f"{MIN_PER_CLASS} of each: raise n_samples"
        )
    return Labels(
        neg,
        pos,
        {
            "rule": "threshold",
            "threshold": float(threshold),
            "negative_max": neg_max,
            "n_between": int(ok.size - pos.size - neg.size),
            "positive_rate": float(pos.size / ok.size),
        },
    )


register_labelling("quantile", quantile_labels)
register_labelling("threshold", threshold_labels)


def make_labels(scores: np.ndarray, labelling: Mapping[str, Any]) -> Labels:
    """Apply the rule named by labelling["rule"] with the other entries as its options."""
    options = dict(labelling)
    rule = options.pop("rule", "quantile")
    if rule not in LABELLING:
        raise UserError(f"unknown labelling rule {rule!r}; allowed: {LABELLING.allowed()}")
    entry, _ = LABELLING.lookup(rule)
    try:
        return entry.resolve()(scores, **options)
    except TypeError as exc:
        raise UserError(f"labelling rule {rule!r}: bad options {sorted(options)} ({exc})") from exc


def balanced_accuracy(y: np.ndarray, predicted: np.ndarray) -> float:
    """Mean of the per-class recalls (0.5 for chance whatever the class sizes)."""
    y, predicted = np.asarray(y), np.asarray(predicted)
    return float(np.mean([np.mean(predicted[y == c] == c) for c in (0, 1)]))


def auc(y: np.ndarray, decision: np.ndarray) -> float:
    """Area under the ROC curve: P(decision of a positive > that of a negative), ties 1/2."""
    y, d = np.asarray(y), np.asarray(decision, dtype=np.float64)
    pos, neg = d[y == 1], d[y == 0]
    if not pos.size or not neg.size:
        return float("nan")
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([pos, neg]))
    return float((ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


__all__ = [
    "Labels",
    "LABELLING",
    "register_labelling",
    "available_labellings",
    "make_labels",
    "quantile_labels",
    "threshold_labels",
    "balanced_accuracy",
    "auc",
    "MIN_PER_CLASS",
]
