"""The sweep's verification of each intervention: did its twins move the target attribute,
and little else? Scorers run on the base set once (memoised) and on each twin set while it is in
memory; identity comes from cached ArcFace features when that space is in the sweep; the base
set's scores are kept for the linear probes. `SweepVerification` is a part of the sweep's
executors (`counterfactual.sweep.executor.LocalExecutor` and its Ray variant), which supply the
run directory, plan, parts and features it uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from counterfactual.foundation.files import save_npy, write_json
from counterfactual.foundation.hashing import content_hash
from counterfactual.sweep.plan import BASE, Task


class SweepVerification:
    """Verification tasks of a sweep executor (see the module docstring)."""

    config: Any
    rd: Any
    plan: Any
    comps: Any
    log: Callable[[str], None]
    timer: Any
    extractors: dict[str, Any]
    interventions: dict[str, Any]
    _base: torch.Tensor | None
    _scorers: dict[str, Callable] | None
    features: Callable[[str, str], np.ndarray]  # FeatureEngine.features
    base_images: Callable[[], torch.Tensor]  # the executor's base set

    def _load_scorers(self) -> dict[str, Callable]:
        if self._scorers is None:
            self._scorers = {}
            for name in self.config.verification.scorers:
                try:
                    self._scorers[name] = _BaseMemo(
                        self.comps.load_scorer(name), lambda: self._base
                    )
                except (ImportError, FileNotFoundError, RuntimeError, ValueError) as exc:
                    self.log(f"warning: scorer {name!r} unavailable for verification: {exc}")
        return self._scorers

    def _identity(self) -> Callable | None:
        if not self.config.verification.identity:
            return None
        if "arcface" in self.extractors and self.extractors["arcface"].trained:
            return None  # from cached ArcFace features (see verify)
        try:
            return self.comps.identity_similarity()
        except (ImportError, FileNotFoundError, RuntimeError) as exc:
            self.log(f"warning: identity similarity unavailable for verification: {exc}")
            return None

    def _parsing_agreement(self, key: str, base: Any, twins: Any) -> Callable | None:
        """The parsing-agreement measure for interventions that ask for it (`verify_parsing`),
        when the image sets are at hand (a distributed executor passes stand-ins: not measured)."""
        if not getattr(self.interventions[key], "verify_parsing", False):
            return None
        if not (isinstance(base, torch.Tensor) and isinstance(twins, torch.Tensor)):
            self.log(
                f"note: parsing agreement of {key!r} not measured (the images stay on the workers)"
            )
            return None
        try:
            return self.comps.parsing_agreement()
        except (ImportError, FileNotFoundError, RuntimeError) as exc:
            self.log(f"warning: parsing agreement unavailable for verification: {exc}")
            return None

    def verify(
        self,
        task: Task,
        twins: Any,
        base: Any = None,
        scorers: dict[str, Callable] | None = None,
        identity: Callable | None = None,
    ) -> None:
        """Verify one intervention on its twins against the base set; a distributed executor
        passes stand-ins for the image sets with their scores computed by its workers."""
        key = task.params["intervention"]
        intervention = self.interventions[key]
        vcfg = self.config.verification
        identity = self._identity() if identity is None else identity
        if (
            identity is None
            and vcfg.identity
            and "arcface" in self.extractors
            and self.extractors["arcface"].trained
        ):
            base_f, twin_f = self.features(BASE, "arcface"), self.features(key, "arcface")
            identity = _FeatureCosine(base_f, twin_f)
        base = self.base_images() if base is None else base
        extra = {"parsing": self._parsing_agreement(key, base, twins)}
        scorers = self._load_scorers() if scorers is None else scorers
        with self.timer("verification"):
            result = self.comps.verify(
                base,
                twins,
                scorers,
                getattr(intervention, "target_scorer", None),
                identity,
                vcfg,
                **{k: v for k, v in extra.items() if v is not None},
            )
            self.keep_base_scores(scorers, base)
        result = {"intervention": key, "name": self.config.intervention(key).name, **result}
        direction = getattr(intervention, "direction", None)
        if direction is not None and "held_out_balanced_accuracy" in getattr(
            direction, "provenance", {}
        ):
            result["learned_direction"] = {
                k: direction.provenance.get(k)
                for k in (
                    "scorer",
                    "space",
                    "n_samples",
                    "labelling",
                    "n_negative",
                    "n_positive",
                    "n_held_out",
                    "train_balanced_accuracy",
                    "held_out_balanced_accuracy",
                    "held_out_auc",
                    "conditioned_on",
                    "cosine_with_unconditioned",
                )
            }
            result["learned_direction"]["space"] = direction.space
        self.rd.mark_done(
            task.id, task.key, files=[write_json(self.rd.stats_path(task.id), result)]
        )

    def keep_base_scores(self, scorers: dict[str, Callable], base: Any) -> None:
        """Each scorer's per-face scores of the base set (RUN_DIR/scores/base/<scorer>.npy,
        NaN where it could not score; the linear probes' labels), written once with their
        own checksummed marker. Memoised or worker-computed, so this scores nothing again."""
        from counterfactual.interventions.directions import score_images

        for name, fn in scorers.items():
            task_id = f"scores/{BASE}/{name}"
            key = content_hash({"set": self.plan[f"generate/{BASE}"].key, "scorer": name})
            if not self.rd.is_done(task_id, key):
                scores = score_images(fn, base)
                path = save_npy(self.rd.scores_path(BASE, name), scores)
                self.rd.mark_done(task_id, key, files=[path], n=int(scores.size))


class _BaseMemo:
    """A scorer that scores the base set once (it is compared with every twin set)."""

    def __init__(
        self, fn: Callable[[torch.Tensor], Any], base: Callable[[], torch.Tensor | None]
    ) -> None:
        self.fn, self.base = fn, base
        self._base_ref: torch.Tensor | None = None
        self._base_scores: Any = None

    def __call__(self, images: torch.Tensor) -> Any:
        is_base = images is self.base()
        if is_base and self._base_ref is images:
            return self._base_scores
        out = self.fn(images)
        if is_base:
            self._base_ref, self._base_scores = images, out
        return out


class _FeatureCosine:
    """Identity similarity twin vs base from cached ArcFace features (cosine per pair)."""

    def __init__(self, base: np.ndarray, twin: np.ndarray) -> None:
        b = np.asarray(base, np.float64)
        t = np.asarray(twin, np.float64)
        b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
        t = t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
        self.values = (b * t).sum(axis=1)

    def __call__(self, base_images: Any, twin_images: Any) -> np.ndarray:
        return self.values
