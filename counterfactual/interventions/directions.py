"""Latent directions: load, save, learn (InterFaceGAN-style), condition and calibrate.

File formats
- InterFaceGAN boundary: a `.npy` array of shape (1, dim) (or (dim,)), a unit normal.
  Its space is read from the file name ("..._w_boundary.npy" -> W, "..._z_boundary" -> Z),
  from the generator when only one space has that length, or from an explicit `space`.
- Ours: the same `.npy` (1, dim) plus a JSON sidecar (`<name>.json`) with the provenance:
  generator describe(), scorer, number of samples, quantile, held-out accuracy, ...

Learning (Shen et al., InterFaceGAN): sample M latents, score their images with an
attribute scorer, label them by the scorer's rule (`labelling`: the top and bottom `quantile`
of scores for continuous attributes, above a threshold against the rest for rare ones), fit
a class-balanced linear classifier on a training split stratified by class, report balanced
accuracy and AUC on the held-out split; the unit normal of the separating hyperplane is the
direction (pointing to higher scores).

Conditioning (InterFaceGAN's conditional manipulation, `condition_direction`): Gram-Schmidt on
the conditioning normals, the target normal minus its projection on their span, renormalised.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from counterfactual.errors import UserError
from counterfactual.foundation.files import atomic_write, write_text
from counterfactual.interventions.latent import edited_images, sample_latents, space_dim

if TYPE_CHECKING:
    import torch

FORMAT = "counterfactual-fd direction/1"
Scorer = Callable[["torch.Tensor"], Any]  # uint8 NCHW -> float [N]
# Images per scorer call in `score_images` (a multiple of every scorer's own chunk size).
SCORE_BATCH = 64


@dataclass
class Direction:
    """A unit direction in one latent space with where it came from."""

    vector: np.ndarray  # float64 [dim], unit norm
    space: str  # "z" or "w"
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        v = np.asarray(self.vector, dtype=np.float64).reshape(-1)
        norm = float(np.linalg.norm(v))
        if not np.all(np.isfinite(v)) or norm == 0.0:
            raise ValueError("a direction must be a finite, non-zero vector")
        self.vector = v if abs(norm - 1.0) <= 1e-12 else v / norm  # unit vectors stay bit-exact
        if self.space not in ("z", "w"):
            raise ValueError(f"direction space must be 'z' or 'w', got {self.space!r}")

    @property
    def dim(self) -> int:
        return int(self.vector.size)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.vector.astype("<f8").tobytes()).hexdigest()

    def describe(self) -> dict[str, Any]:
        return {
            "space": self.space,
            "dim": self.dim,
            "sha256": self.sha256,
            "provenance": self.provenance,
        }


def sidecar_path(path: str | Path) -> Path:
    return Path(path).with_suffix(".json")


def save_direction(direction: Direction, path: str | Path) -> Path:
    """Write `path` (.npy, shape (1, dim), InterFaceGAN-compatible) and its JSON provenance."""
    path = Path(path)
    if path.suffix != ".npy":
        raise ValueError(f"direction files end in .npy, got {path}")
    atomic_write(path, lambda fh: np.save(fh, direction.vector[None, :]), sync=False)
    meta = {
        "format": FORMAT,
        "space": direction.space,
        "dim": direction.dim,
        "sha256": direction.sha256,
        **direction.provenance,
    }
    write_text(sidecar_path(path), json.dumps(meta, indent=2, default=str), sync=False)
    return path


def _space_from_filename(stem: str) -> str | None:
    """InterFaceGAN names: "stylegan_ffhq_age_w_boundary" -> "w", "..._wp_..." -> "wp", "..._z_..." -> "z"."""
    tokens = set(re.split(r"[_\-.]", stem.lower()))
    for space in ("wp", "w", "z"):
        if space in tokens:
            return space
    return None


def load_direction(path: str | Path, space: str | None = None, generator: Any = None) -> Direction:
    """Read an InterFaceGAN boundary or one of our direction files (with JSON provenance)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"direction file not found: {path}")
    if space == "w+":
        space = "w"
    if space not in (None, "z", "w"):
        raise ValueError(f"direction space must be 'z', 'w' or 'w+', got {space!r}")
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - one clear message for any unreadable file
        raise ValueError(f"{path}: not a readable .npy array ({exc})") from exc
    if not (arr.ndim == 1 or (arr.ndim == 2 and arr.shape[0] == 1)) or arr.size < 2:
        raise ValueError(
            f"{path}: direction must have shape (1, dim) or (dim,), got {arr.shape} "
            "(InterFaceGAN W+ boundaries with one row per layer are not supported)"
        )
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"{path}: direction must be floating point, got dtype {arr.dtype}")
    vec = arr.reshape(-1).astype(np.float64)
    if not np.all(np.isfinite(vec)) or not np.any(vec):
        raise ValueError(f"{path}: direction must be finite and non-zero")
    sha_file = hashlib.sha256(path.read_bytes()).hexdigest()
    meta: dict[str, Any] = {}
    if sidecar_path(path).is_file():
        try:
            meta = json.loads(sidecar_path(path).read_text())
        except ValueError as exc:
            raise ValueError(f"{sidecar_path(path)}: unreadable provenance JSON ({exc})") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            meta = {}
    if meta.get("space") and space is not None and space != meta["space"]:
        raise ValueError(
            f"{path}: file is a {meta['space']!r}-space direction, but space={space!r} was asked"
        )
    file_space = meta.get("space") or _space_from_filename(path.stem)
    if file_space == "wp" and space is None:
        raise ValueError(f"{path}: a W+ ('wp') boundary is not supported; use a W boundary")
    resolved = space or file_space
    if resolved is None and generator is not None:
        fits = [
            s
            for s, d in (
                ("z", getattr(generator, "z_dim", None)),
                ("w", getattr(generator, "w_dim", None)),
            )
            if d == vec.size
        ]
        if len(fits) == 1:
            resolved = fits[0]
        elif not fits:
            raise ValueError(
                f"{path}: direction has {vec.size} entries; generator z_dim="
                f"{generator.z_dim}, w_dim={generator.w_dim}"
            )
    if resolved is None:
        raise ValueError(
            f"{path}: cannot tell whether this {vec.size}-d direction is in Z or W; "
            "pass space='z' or space='w'"
        )
    provenance = {k: v for k, v in meta.items() if k not in ("format", "space", "dim", "sha256")}
    if not meta:
        provenance = {
            "source": "file (InterFaceGAN-style boundary)",
            "original_norm": float(np.linalg.norm(vec)),
        }
    provenance.update(path=str(path), file_sha256=sha_file)
    if (
        meta.get("sha256")
        and meta["sha256"] != hashlib.sha256(vec.astype("<f8").tobytes()).hexdigest()
    ):
        raise ValueError(f"{path}: array does not match the sha256 in {sidecar_path(path).name}")
    direction = Direction(vec, resolved, provenance)
    if generator is not None:
        expected = space_dim(generator, direction.space)
        if expected != direction.dim:
            raise ValueError(
                f"{path}: {direction.space}-space direction has {direction.dim} entries, "
                f"generator {getattr(generator, 'spec', '')} has "
                f"{direction.space}_dim={expected}"
            )
    return direction


def score_images(
    scorer: Scorer,
    images: torch.Tensor,
    name: str = "scorer",
    set_id: str = "",
    batch: int = SCORE_BATCH,
) -> np.ndarray:
    """Scores [N] (float64) of uint8 NCHW images, NaN where the scorer could not score an image.

    The one way the project scores images (verification, learned directions, the rank run's
    explained FD). Images go to the scorer in chunks of `batch` (a multiple of the scorers' own
    fixed chunks), so scores do not depend on how the images were generated in batches.
    Consumers that need every score check for NaN themselves (`analysis.explained.binarise`).
    `name` and `set_id` only label errors.
    """
    import torch

    # A stand-in without item access (the Ray executor's set reference, whose scorer looks
    # the set's scores up by name) goes to the scorer whole.
    chunks = (
        [images[start : start + batch] for start in range(0, len(images), batch)]
        if hasattr(images, "__getitem__")
        else [images]
    )
    parts = []
    for chunk in chunks:
        s = scorer(chunk)
        s = s.detach().cpu().numpy() if isinstance(s, torch.Tensor) else np.asarray(s)
        s = s.astype(np.float64).reshape(-1)
        if s.size != len(chunk):
            where = f" of set {set_id!r}" if set_id else ""
            raise ValueError(
                f"scorer {name!r} returned {s.size} scores for {len(chunk)} images{where}"
            )
        parts.append(s)
    return np.concatenate(parts) if parts else np.zeros(0)


def scorer_name(scorer: Any, default: str = "custom") -> str:
    return str(getattr(scorer, "name", None) or default)


@dataclass(frozen=True)
class LearnSettings:
    """Everything that determines a learned direction besides generator and scorer.

    `labelling`: the labelling rule and its options ({"rule": "threshold", "threshold": 0.2});
    None takes the scorer's declared rule (`scorer_labelling`), else the quantile rule with
    `quantile`."""

    space: str = "z"
    n_samples: int = 2000
    quantile: float = 0.2
    seed_start: int = 2_000_000_000  # far from evaluation seeds (0, 1, 2, ...)
    holdout: float = 0.3
    classifier: str = "svm"  # "svm" (LinearSVC) or "logistic"
    split_seed: int = 0
    labelling: dict[str, Any] | None = None

    def check(self) -> None:
        if self.space not in ("z", "w"):
            raise ValueError(f"learning space must be 'z' or 'w', got {self.space!r}")
        if not 0 < self.quantile <= 0.5:
            raise ValueError(f"quantile must be in (0, 0.5], got {self.quantile}")
        if not 0 < self.holdout < 1:
            raise ValueError(f"holdout must be in (0, 1), got {self.holdout}")
        if self.classifier not in _CLASSIFIERS:
            raise ValueError(
                f"unknown classifier {self.classifier!r}; allowed: {', '.join(_CLASSIFIERS)}"
            )
        if self.n_samples < 20:
            raise ValueError(f"n_samples must be at least 20, got {self.n_samples}")
        if self.labelling is not None:
            from counterfactual.interventions.labelling import LABELLING

            rule = self.labelling.get("rule", "quantile")
            if rule not in LABELLING:
                raise ValueError(f"unknown labelling rule {rule!r}; allowed: {LABELLING.allowed()}")

    def rule(self) -> dict[str, Any]:
        """The labelling actually applied: `labelling`, else the quantile rule."""
        if self.labelling is None:
            return {"rule": "quantile", "quantile": self.quantile}
        if self.labelling.get("rule", "quantile") == "quantile":
            return {"quantile": self.quantile, **self.labelling, "rule": "quantile"}
        return dict(self.labelling)


def scorer_labelling(scorer: Any) -> dict[str, Any] | None:
    """The labelling rule a scorer declares: its ``labelling`` attribute, or for a registered
    name its class's (no weights loaded); None when it declares none."""
    if isinstance(scorer, str):
        from extractors.scorers import scorer_labelling as registered

        return registered(scorer)
    rule = getattr(scorer, "labelling", None)
    return dict(rule) if rule else None


def with_scorer_labelling(settings: LearnSettings, scorer: Any) -> LearnSettings:
    """`settings` with the scorer's declared labelling filled in where none was given."""
    if settings.labelling is not None:
        return settings
    declared = scorer_labelling(scorer)
    return settings if declared is None else replace(settings, labelling=declared)


def _svm() -> Any:
    from sklearn.svm import LinearSVC

    return LinearSVC(C=1.0, max_iter=20_000, random_state=0, class_weight="balanced")


def _logistic() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, max_iter=5_000, class_weight="balanced")


SVM_CV_GRID = (1.0, 0.1, 0.01, 0.001)


class _CrossValidatedSVM:
    """LinearSVC whose C is chosen by 5-fold stratified cross-validation (balanced accuracy)
    on the training split only: with 512-d codes and a few hundred samples per class, C = 1
    fits the training set perfectly and generalises worse."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> _CrossValidatedSVM:
        from sklearn.model_selection import GridSearchCV, StratifiedKFold
        from sklearn.svm import LinearSVC

        search = GridSearchCV(
            LinearSVC(max_iter=20_000, random_state=0, class_weight="balanced"),
            {"C": list(SVM_CV_GRID)},
            scoring="balanced_accuracy",
            cv=StratifiedKFold(5, shuffle=True, random_state=0),
        )
        search.fit(x, y)
        best = search.best_estimator_
        self.C = float(search.best_params_["C"])
        self.coef_, self.intercept_ = best.coef_, best.intercept_
        self.predict, self.decision_function = best.predict, best.decision_function
        return self


_CLASSIFIERS: dict[str, Callable[[], Any]] = {
    "svm": _svm,
    "logistic": _logistic,
    "svm-cv": _CrossValidatedSVM,
}
CLASSIFIER_DOC = {
    "svm": "sklearn LinearSVC(C=1, random_state=0, class_weight='balanced')",
    "logistic": "sklearn LogisticRegression(C=1, class_weight='balanced')",
    "svm-cv": "sklearn LinearSVC(class_weight='balanced'), C in "
    f"{list(SVM_CV_GRID)} by 5-fold stratified CV on the training split (balanced accuracy)",
}


def fit_boundary(
    codes: np.ndarray, scores: np.ndarray, settings: LearnSettings
) -> tuple[np.ndarray, float, dict[str, Any]]:
    """Label the samples by the settings' rule, fit the class-balanced classifier on a split
    stratified by class: (unit normal, offset, statistics). Quality is held-out balanced
    accuracy and AUC (chance 0.5 whatever the class sizes)."""
    from counterfactual.interventions.labelling import auc, balanced_accuracy, make_labels

    codes = np.asarray(codes, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = make_labels(scores, settings.rule())
    idx = np.concatenate([labels.negatives, labels.positives])
    ys = np.concatenate([np.zeros(labels.negatives.size, int), np.ones(labels.positives.size, int)])
    xs = codes[idx]
    rng = np.random.RandomState(settings.split_seed)
    test = np.zeros(ys.size, bool)
    for cls in (0, 1):  # stratified split: the held-out share of each class
        members = np.flatnonzero(ys == cls)
        n_test = min(members.size - 1, max(1, round(settings.holdout * members.size)))
        test[rng.choice(members, n_test, replace=False)] = True
    # Centred on the training mean: the normal is unchanged, liblinear converges quickly (an
    # uncentred intercept is penalised like a weight and can stall it for minutes).
    centre = xs[~test].mean(axis=0)
    xs = xs - centre
    clf = _CLASSIFIERS[settings.classifier]()
    clf.fit(xs[~test], ys[~test])
    coef = np.asarray(clf.coef_, dtype=np.float64).reshape(-1)
    norm = float(np.linalg.norm(coef))
    if norm == 0.0:
        raise ValueError("the classifier found no direction (zero normal)")
    normal = coef / norm
    projection = codes[np.isfinite(scores)] @ normal
    stats = {
        "labelling": labels.record,
        "n_scored": int(np.isfinite(scores).sum()),
        "n_negative": int(labels.negatives.size),
        "n_positive": int(labels.positives.size),
        "n_per_class": int(min(labels.negatives.size, labels.positives.size)),
        "n_train": int((~test).sum()),
        "n_held_out": int(test.sum()),
        "n_held_out_positive": int((test & (ys == 1)).sum()),
        "train_balanced_accuracy": balanced_accuracy(ys[~test], clf.predict(xs[~test])),
        "held_out_balanced_accuracy": balanced_accuracy(ys[test], clf.predict(xs[test])),
        "held_out_auc": auc(ys[test], clf.decision_function(xs[test])),
        "classifier_c": float(getattr(clf, "C", 1.0)),
        "projection_sd": float(projection.std(ddof=1)) if projection.size > 1 else float("nan"),
    }
    intercept = float(np.asarray(clf.intercept_).reshape(-1)[0]) - float(coef @ centre)
    return normal, intercept / norm, stats


def learn_direction(
    generator: Any,
    scorer: Scorer,
    settings: LearnSettings = LearnSettings(),
    batch_size: int = 16,
    progress: bool = False,
) -> Direction:
    """InterFaceGAN: learn the unit normal separating positive from negative samples in
    `settings.space` (labelled by the scorer's rule, see `labelling`)."""
    settings = with_scorer_labelling(settings, scorer)
    settings.check()
    z, codes = sample_latents(generator, settings.n_samples, settings.seed_start, settings.space)
    images = generator.images(z, space="z", batch_size=batch_size, progress=progress)
    scores = score_images(scorer, images)
    normal, offset, stats = fit_boundary(codes.double().numpy(), scores, settings)
    provenance = {
        "source": "learned (InterFaceGAN-style linear boundary)",
        "generator": generator.describe(),
        "scorer": scorer_name(scorer),
        "scorer_description": describe_or_none(scorer),
        "n_samples": settings.n_samples,
        "seed_start": settings.seed_start,
        "seeds": f"{settings.seed_start}..{settings.seed_start + settings.n_samples - 1}",
        "holdout_fraction": settings.holdout,
        "split_seed": settings.split_seed,
        "classifier": CLASSIFIER_DOC[settings.classifier],
        "offset": offset,
        **stats,
    }
    return Direction(normal, settings.space, provenance)


def describe_or_none(obj: Any) -> Any:
    """`obj.describe()` when it has one (scorers, generators), else None."""
    describe = getattr(obj, "describe", None)
    return describe() if callable(describe) else None


def condition_direction(direction: Direction, others: Sequence[Direction]) -> Direction:
    """InterFaceGAN conditional manipulation: orthonormalise the conditioning normals
    (Gram-Schmidt), remove their span from `direction`, renormalise.

    The provenance records, per conditioning normal n_k, the cosine of the raw and of the
    conditioned direction with it, and (when n_k was learned here, with the SD of the
    samples' projections on it) the linear leakage per unit of alpha in SD of that projection,
    cos / SD: what an edit of strength alpha moves the other attribute's linear score by,
    before (raw) and after (0) conditioning.
    """
    if not others:
        return direction
    for o in others:
        if o.space != direction.space or o.dim != direction.dim:
            raise ValueError(
                f"cannot condition a {direction.space}/{direction.dim}-d direction on a "
                f"{o.space}/{o.dim}-d one"
            )
    basis: list[np.ndarray] = []
    for o in others:
        v = o.vector.copy()
        for _ in range(2):  # twice: Gram-Schmidt with reorthogonalisation
            for q in basis:
                v -= (q @ v) * q
        if np.linalg.norm(v) < 1e-6:
            raise UserError(
                f"conditioning direction of {o.provenance.get('scorer', '?')!r} lies in "
                "the span of the other conditioning directions; leave it out"
            )
        basis.append(v / np.linalg.norm(v))
    residual = direction.vector.copy()
    for _ in range(2):
        for q in basis:
            residual -= (q @ residual) * q
    if np.linalg.norm(residual) < 1e-8:
        raise UserError("the direction lies in the span of the conditioning directions")
    conditioned = residual / np.linalg.norm(residual)
    records = []
    for o in others:
        sd = o.provenance.get("projection_sd")
        raw, after = float(direction.vector @ o.vector), float(conditioned @ o.vector)
        record = {
            "scorer": o.provenance.get("scorer"),
            "sha256": o.sha256,
            "path": o.provenance.get("path"),
            "cosine_raw": raw,
            "cosine_conditioned": after,
        }
        if isinstance(sd, (int, float)) and sd > 0:
            record.update(
                projection_sd=float(sd),
                leakage_sd_per_alpha_raw=raw / sd,
                leakage_sd_per_alpha_conditioned=after / sd,
            )
        records.append(record)
    provenance = dict(direction.provenance)
    provenance["conditioned_on"] = records
    provenance["unconditioned_sha256"] = direction.sha256
    provenance["cosine_with_unconditioned"] = float(conditioned @ direction.vector)
    return Direction(conditioned, direction.space, provenance)


@dataclass
class Calibration:
    """The alpha that moves the target scorer by the requested amount on a calibration batch."""

    alpha: float
    achieved_shift: float
    target_shift: float
    tolerance: float
    seeds: list[int]
    trace: list[tuple[float, float]]  # (alpha, shift) evaluated, in order
    converged: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "achieved_shift": self.achieved_shift,
            "target_shift": self.target_shift,
            "tolerance": self.tolerance,
            "seeds": f"{self.seeds[0]}..{self.seeds[-1]}" if self.seeds else "",
            "n": len(self.seeds),
            "trace": [list(t) for t in self.trace],
            "converged": self.converged,
        }


def calibrate_alpha(
    generator: Any,
    direction: Direction,
    scorer: Scorer,
    target_shift: float,
    seeds: Sequence[int],
    layers: tuple[int, int] | None = None,
    tolerance: float | None = None,
    alpha_start: float = 1.0,
    alpha_max: float = 64.0,
    max_iter: int = 20,
    batch_size: int = 16,
) -> Calibration:
    """Bisection on alpha so that mean(score(twin)) - mean(score(base)) = target_shift.

    Assumes the mean shift grows monotonically with alpha along the direction (true for a
    learned direction near its boundary); the bracket doubles from `alpha_start` up to
    `alpha_max`. `tolerance` defaults to 5% of |target_shift|.
    """
    if target_shift == 0 or not np.isfinite(target_shift):
        raise ValueError(f"target shift must be finite and non-zero, got {target_shift}")
    tol = abs(target_shift) * 0.05 if tolerance is None else float(tolerance)
    seeds = [int(s) for s in seeds]
    z = generator.latents(seeds)
    base = score_images(scorer, generator.images(z, space="z", batch_size=batch_size))
    trace: list[tuple[float, float]] = []

    def shift(alpha: float) -> float:
        twins = edited_images(
            generator, z, direction.vector, alpha, direction.space, layers, batch_size=batch_size
        )
        s = score_images(scorer, twins)
        ok = np.isfinite(s) & np.isfinite(base)
        if not ok.any():
            raise ValueError("the scorer returned no finite score on the calibration batch")
        value = float(np.mean(s[ok] - base[ok]))
        trace.append((alpha, value))
        return value

    sign = float(np.sign(target_shift))
    goal = abs(target_shift)
    lo, hi = 0.0, float(alpha_start)
    f_hi = sign * shift(sign * hi)
    while f_hi < goal - tol:
        lo = hi
        hi *= 2
        if hi > alpha_max:
            best = max(trace, key=lambda t: sign * t[1])
            raise ValueError(
                f"calibration cannot reach a shift of {target_shift:g}: the largest shift "
                f"seen was {best[1]:g} at alpha={best[0]:g} (alpha_max={alpha_max:g}); "
                "check the direction's sign, the scorer, or ask for a smaller shift"
            )
        f_hi = sign * shift(sign * hi)
    best_alpha, best_f = hi, f_hi
    for _ in range(max_iter):
        if abs(best_f - goal) <= tol:
            break
        mid = 0.5 * (lo + hi)
        f_mid = sign * shift(sign * mid)
        if abs(f_mid - goal) < abs(best_f - goal):
            best_alpha, best_f = mid, f_mid
        if f_mid < goal:
            lo = mid
        else:
            hi = mid
    return Calibration(
        alpha=sign * best_alpha,
        achieved_shift=sign * best_f,
        target_shift=float(target_shift),
        tolerance=tol,
        seeds=seeds,
        trace=trace,
        converged=abs(best_f - goal) <= tol,
    )
