"""Linear probes: how well each space's base features let a linear classifier read an attribute.

Label: a verification scorer's score on the base faces split at its median (1 above the
median, 0 at or below; faces the scorer could not score are left out). The median split is
defined for every scorer (hair length and hat areas have no natural threshold) and makes the
classes as balanced as ties allow, so chance is 0.5 for every attribute. Classifier:
scikit-learn `LogisticRegression` (L2, C = 1) on features standardised inside each training
fold. Estimate: balanced accuracy (and ROC AUC) on held-out faces of a stratified k-fold split
over faces (each face is held out once), averaged over folds; interval: mean ± t(k−1) · SD/√k
over the k folds, clipped to [0, 1] (approximate: the folds share training faces). Chance reference: the same
cross-validation with the labels shuffled over faces (`n_shuffles` times, default 9 to keep
the report fast): its mean and maximum and ``p_shuffle`` = (1 + shuffles reaching the observed
balanced accuracy) / (n_shuffles + 1), whose resolution is 1/(n_shuffles + 1). Metrics are
computed in numpy (closed forms below); BLAS runs on one thread (much faster for these small
fits than a shared multi-threaded pool).

"Readable" (a probe well above chance) and "moves FD" (the sensitivity) are different
questions: a space can encode an attribute linearly yet weight it little in its FD.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from threadpoolctl import threadpool_limits

from counterfactual.metrics import as_features

from ._common import check_count, check_level, frame, group_rng

PROBE_COLUMNS: tuple[str, ...] = (
    "attribute",
    "space",
    "space_label",
    "trained",
    "n",
    "n_positive",
    "label_rule",
    "threshold",
    "folds",
    "balanced_accuracy",
    "ba_lo",
    "ba_hi",
    "auc",
    "auc_lo",
    "auc_hi",
    "chance_ba",
    "chance_ba_max",
    "p_shuffle",
    "n_shuffles",
    "ci_level",
    "interval",
    "status",
)
LABEL_RULE = "score > median of the base faces"
INTERVAL = "mean ± t·SD/√k over the k folds, clipped to [0, 1]"
FOLDS = 5
N_SHUFFLES = 9
MIN_PER_CLASS = 2


@dataclass(frozen=True)
class SpaceFeatures:
    """The base faces' cached features in one space (row i: face i, as in the scores)."""

    space: str
    features: np.ndarray
    trained: bool = True
    space_label: str = ""

    @property
    def label(self) -> str:
        return self.space_label or (self.space if self.trained else f"{self.space} (untrained)")


def median_split(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(mask of scored faces, 0/1 labels of those faces, the median)."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    ok = np.isfinite(s)
    if not ok.any():
        return ok, np.zeros(0, dtype=int), float("nan")
    median = float(np.median(s[ok]))
    return ok, (s[ok] > median).astype(int), median


def standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both standardised by the training rows' mean and SD (ddof 0; constant columns: SD 1),
    as scikit-learn's StandardScaler fitted on the training rows."""
    mean, sd = train.mean(axis=0), train.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return (train - mean) / sd, (test - mean) / sd


def balanced_accuracy(y: np.ndarray, predicted: np.ndarray) -> float:
    """Mean over the two classes of the share of that class predicted correctly."""
    return float(np.mean([np.mean(predicted[y == c] == c) for c in (0, 1)]))


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC = P(score of a positive > score of a negative) + P(tie)/2 (Mann-Whitney)."""
    ranks = stats.rankdata(score)
    n1 = int(y.sum())
    n0 = y.size - n1
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def _fold_scores(x: np.ndarray, y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """[k, 2]: balanced accuracy and AUC of the standardised logistic regression per fold."""
    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    out = np.empty((folds, 2), dtype=np.float64)
    split = StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y)
    with (
        sklearn.config_context(assume_finite=True, skip_parameter_validation=True),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", ConvergenceWarning)
        for i, (train, test) in enumerate(split):
            x_train, x_test = standardise(x[train], x[test])
            model = LogisticRegression(C=1.0, max_iter=2000).fit(x_train, y[train])
            score = x_test @ model.coef_[0] + model.intercept_[0]
            out[i] = balanced_accuracy(y[test], (score > 0).astype(int)), auc(y[test], score)
    return out


def _mean_interval(values: np.ndarray, level: float) -> tuple[float, float, float]:
    """Mean over folds and mean ± t(k−1)·SD/√k, clipped to the metric's range [0, 1]."""
    k = values.size
    mean = float(values.mean())
    half = float(stats.t.ppf(0.5 + level / 2.0, k - 1) * values.std(ddof=1) / np.sqrt(k))
    return mean, max(0.0, mean - half), min(1.0, mean + half)


def linear_probe(
    features: np.ndarray,
    labels: np.ndarray,
    folds: int = FOLDS,
    n_shuffles: int = N_SHUFFLES,
    ci: float = 0.95,
    rng: np.random.Generator | None = None,
) -> dict[str, float]:
    """Cross-validated probe of 0/1 `labels` from `features` with its shuffle reference."""
    x = as_features(features, "probe features", min_rows=2)
    y = np.asarray(labels).astype(int).reshape(-1)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"probe: {x.shape[0]} feature rows but {y.shape[0]} labels")
    if set(np.unique(y)) - {0, 1}:
        raise ValueError("probe labels must be 0 or 1")
    level = check_level(ci)
    folds, n_shuffles = check_count(folds, "folds", 2), check_count(n_shuffles, "n_shuffles", 0)
    rng = rng or np.random.default_rng(0)
    minority = int(min(y.sum(), y.size - y.sum()))
    k = min(folds, minority)
    if k < MIN_PER_CLASS:
        raise ValueError(
            f"probe needs at least {MIN_PER_CLASS} faces in each class, got "
            f"{minority} in the smaller one"
        )
    seeds = rng.integers(0, 2**31 - 1, size=n_shuffles + 1)
    with threadpool_limits(1):
        observed = _fold_scores(x, y, k, int(seeds[0]))
        shuffled = np.array(
            [_fold_scores(x, rng.permutation(y), k, int(s))[:, 0].mean() for s in seeds[1:]],
            dtype=np.float64,
        )
    ba, ba_lo, ba_hi = _mean_interval(observed[:, 0], level)
    auc_mean, auc_lo, auc_hi = _mean_interval(observed[:, 1], level)
    return {
        "n": int(y.size),
        "n_positive": int(y.sum()),
        "folds": k,
        "balanced_accuracy": ba,
        "ba_lo": ba_lo,
        "ba_hi": ba_hi,
        "auc": auc_mean,
        "auc_lo": auc_lo,
        "auc_hi": auc_hi,
        "chance_ba": float(shuffled.mean()) if n_shuffles else float("nan"),
        "chance_ba_max": float(shuffled.max()) if n_shuffles else float("nan"),
        "p_shuffle": float((1 + (shuffled >= ba - 1e-12).sum()) / (n_shuffles + 1)),
        "n_shuffles": n_shuffles,
        "ci_level": level,
    }


def linear_probes(
    spaces: Sequence[SpaceFeatures],
    scores: Mapping[str, np.ndarray],
    folds: int = FOLDS,
    n_shuffles: int = N_SHUFFLES,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per scorer (attribute) x space (columns `PROBE_COLUMNS`); a cell that cannot be
    probed (too few faces on one side of the median) keeps its row with a status and NaNs.
    Each cell has its own random stream (seed, attribute, space), so results do not depend on
    the order of the inputs. Cells run one after the other: the fits are small, and threads
    only contend for the interpreter."""

    def run(name: str, sp: SpaceFeatures) -> dict[str, Any]:
        mask, y, median = median_split(scores[name])
        row = {
            "attribute": name,
            "space": sp.space,
            "space_label": sp.label,
            "trained": bool(sp.trained),
            "label_rule": LABEL_RULE,
            "threshold": median,
            "interval": INTERVAL,
            "status": "ok",
        }
        feats = np.asarray(sp.features)
        if feats.shape[0] != mask.size:
            raise ValueError(
                f"probe {name!r} in {sp.space!r}: {feats.shape[0]} base faces but "
                f"{mask.size} scores"
            )
        try:
            row.update(
                linear_probe(feats[mask], y, folds, n_shuffles, ci, group_rng(seed, name, sp.space))
            )
        except ValueError as exc:
            row.update({"n": int(y.size), "n_positive": int(y.sum()), "status": str(exc)})
        return row

    return frame([run(name, sp) for name in scores for sp in spaces], PROBE_COLUMNS)


__all__ = [
    "INTERVAL",
    "LABEL_RULE",
    "PROBE_COLUMNS",
    "SpaceFeatures",
    "auc",
    "balanced_accuracy",
    "linear_probe",
    "linear_probes",
    "median_split",
    "standardise",
]
