"""Attribute edits along latent directions: gender, age, hair length, hat and user direction
files, registered under their config names; ``hat_occluder`` is the synthetic (pasted) hat.

Each edit is w' = w + alpha * n. The direction n comes from a file (InterFaceGAN boundary
or one of ours), from the generator's shipped direction bank (`bank.shipped_direction`; the
default where one exists, ``relearn = true`` learns afresh), or is learned from an attribute
scorer (see `directions.learn_direction`), optionally conditioned on other attributes' directions. alpha is given, or calibrated so
that the target scorer moves by a requested `shift` on a calibration batch, or is
`strength_sd` SD of the learning samples' projections; without any, alpha = DEFAULT_ALPHA
(InterFaceGAN's usual edit strength for a unit normal). A level edit (`level_sd`) instead
moves each face only as far as needed: up to `level_sd` SD above the learning samples' mean
projection, faces already there unchanged (do(attribute >= level) rather than a fixed step).
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from counterfactual.errors import UserError
from counterfactual.foundation.files import write_text
from counterfactual.foundation.hashing import content_hash
from counterfactual.interventions.base import Intervention, check_base_images, register_intervention
from counterfactual.interventions.directions import (
    Calibration,
    Direction,
    LearnSettings,
    calibrate_alpha,
    condition_direction,
    learn_direction,
    load_direction,
    save_direction,
    scorer_name,
    sidecar_path,
    with_scorer_labelling,
)
from counterfactual.interventions.latent import (
    check_layers,
    edited_images,
    latent_codes,
    level_alphas,
    level_steps,
    population_projections,
    resolve_space,
    space_dim,
)
from counterfactual.interventions.pixel import SyntheticHat

if TYPE_CHECKING:
    import torch

DEFAULT_ALPHA = 3.0
CALIBRATION_SEED_START = 2_100_000_000  # disjoint from learning and evaluation seeds


def check_scorer_name(scorer: str | Callable[..., Any] | None) -> None:
    """Fail early (at config time) when a named scorer is not registered."""
    if scorer is None or callable(scorer):
        return
    from extractors.scorers import available_scorers

    if scorer not in available_scorers():
        raise ValueError(
            f"unknown scorer {scorer!r}; registered scorers: {', '.join(available_scorers())}"
        )


def resolve_scorer(
    scorer: str | Callable[..., Any], options: dict[str, Any] | None = None
) -> Callable[..., Any]:
    """A scorer object from its name (extractors.scorers.load_scorer) or the callable itself."""
    if callable(scorer):
        return scorer
    from extractors.scorers import load_scorer

    return load_scorer(scorer, **(options or {}))


def _key(obj: Any) -> str:
    return content_hash(obj)[:16]


class LatentEdit(Intervention):
    """Move every base latent by alpha along one unit direction (Z, W, or a W+ layer range)."""

    synthetic = False
    uses_latents = True

    def __init__(
        self,
        name: str,
        *,
        direction: str | Path | None = None,
        scorer: str | Callable[..., Any] | None = None,
        space: str = "auto",
        layers: Sequence[int] | None = None,
        alpha: float | None = None,
        shift: float | None = None,
        n_samples: int = 2000,
        quantile: float = 0.2,
        seed_start: int = 2_000_000_000,
        classifier: str = "svm",
        condition_on: Sequence[str] = (),
        labelling: dict[str, Any] | None = None,
        relearn: bool = False,
        strength_sd: float | None = None,
        level_sd: float | None = None,
        calibration_n: int = 64,
        calibration_tolerance: float | None = None,
        scorer_options: dict[str, Any] | None = None,
    ) -> None:
        if direction is None and scorer is None:
            raise ValueError(
                f"intervention {name!r} needs a direction file or a scorer to learn one"
            )
        if sum(x is not None for x in (alpha, shift, strength_sd, level_sd)) > 1:
            raise ValueError(
                f"intervention {name!r}: give one of alpha, shift, strength_sd and level_sd, "
                "not several"
            )
        if shift is not None and scorer is None:
            raise ValueError(
                f"intervention {name!r}: shift={shift} needs a scorer to calibrate alpha"
            )
        if condition_on and direction is not None:
            raise ValueError(
                f"intervention {name!r}: condition_on applies to learned directions; "
                "condition a file direction before saving it"
            )
        check_scorer_name(scorer)
        for cond in condition_on:
            if not str(cond).endswith(".npy"):
                check_scorer_name(cond)
        self.name = name
        self.direction_path = None if direction is None else str(direction)
        self.scorer = scorer
        self.scorer_options = dict(scorer_options or {})
        self.target_scorer = None if scorer is None else scorer_name(scorer, str(scorer))
        self.space_request = space
        self.layers = None if layers is None else tuple(int(x) for x in layers)
        self.alpha_request = alpha
        self.shift = shift
        self.settings = dict(
            n_samples=int(n_samples),
            quantile=float(quantile),
            seed_start=int(seed_start),
            classifier=classifier,
        )
        self.labelling = None if labelling is None else dict(labelling)
        if self.labelling is not None:
            LearnSettings(labelling=self.labelling).check()
        self.condition_on = list(condition_on)
        self.relearn = bool(relearn)
        self.strength_sd = None if strength_sd is None else float(strength_sd)
        self.level_sd = None if level_sd is None else float(level_sd)
        self.level_centre: float | None = None  # mean projection of the learning samples
        self.level_scale: float | None = None  # SD of those projections
        self.level_mean_step: float | None = None  # mean step over the learning samples
        self.calibration_n = int(calibration_n)
        self.calibration_tolerance = calibration_tolerance
        self.direction: Direction | None = None
        self.calibration: Calibration | None = None
        self._generator_key: str | None = None
        self._scorer_obj: Callable[..., Any] | None = None

    # -- preparation ------------------------------------------------------------------
    @property
    def alpha(self) -> float:
        if self.calibration is not None:
            return self.calibration.alpha
        if self.strength_sd is not None:
            return self.strength_sd * self._projection_sd()
        if self.level_sd is not None:  # the mean step over the learning samples
            if self.level_mean_step is None:
                raise RuntimeError(f"{self.name}: prepare() first (level_sd needs the direction)")
            return self.level_mean_step
        return DEFAULT_ALPHA if self.alpha_request is None else float(self.alpha_request)

    def _projection_sd(self) -> float:
        """SD of the learning samples' projections on the direction (strength_sd's unit)."""
        if self.direction is None:
            raise RuntimeError(f"{self.name}: prepare() first (strength_sd needs the direction)")
        sd = self.direction.provenance.get("projection_sd")
        if not isinstance(sd, (int, float)) or not sd > 0:
            raise UserError(
                f"intervention {self.name!r}: strength_sd needs a learned or bank direction "
                "(it records the SD of its samples' projections); give alpha instead"
            )
        return float(sd)

    def _scorer(self) -> Callable[..., Any]:
        if self._scorer_obj is None:
            self._scorer_obj = resolve_scorer(self.scorer, self.scorer_options)
        return self._scorer_obj

    def _learned(
        self,
        generator: Any,
        scorer: str | Callable[..., Any],
        space: str,
        workdir: Path,
        batch_size: int,
        progress: bool,
    ) -> Direction:
        own = scorer is self.scorer
        shipped = self._shipped(generator, scorer, space)
        if shipped is not None:
            return shipped
        settings = LearnSettings(
            space=space, **self.settings, labelling=self.labelling if own else None
        )
        settings = with_scorer_labelling(settings, scorer)  # resolved before the cache key
        label = scorer_name(scorer, str(scorer))
        options = self.scorer_options if scorer is self.scorer else {}
        key = _key(
            {
                "generator": generator.describe(),
                "scorer": label,
                "scorer_options": options,
                "settings": settings.__dict__,
            }
        )
        path = workdir / "directions" / f"{label}-{space}-{key}.npy"
        if path.is_file() and sidecar_path(path).is_file():  # only complete, checksummed entries
            try:
                return load_direction(path, generator=generator)
            except ValueError as exc:  # corrupt or truncated: learn it again
                warnings.warn(
                    f"cached direction {path} is corrupt ({exc}); relearning it", stacklevel=2
                )
        obj = self._scorer() if scorer is self.scorer else resolve_scorer(scorer)
        direction = learn_direction(
            generator, obj, settings, batch_size=batch_size, progress=progress
        )
        direction.provenance["cache_key"] = key
        save_direction(direction, path)
        return load_direction(path, generator=generator)

    def _shipped(
        self, generator: Any, scorer: str | Callable[..., Any], space: str
    ) -> Direction | None:
        """The generator's shipped bank direction for a registered scorer name (unless
        `relearn`, scorer options or a custom labelling ask for a fresh boundary)."""
        if self.relearn or space != "w" or not isinstance(scorer, str):
            return None
        if scorer is self.scorer and (self.scorer_options or self.labelling is not None):
            return None
        from counterfactual.interventions.bank import shipped_direction

        return shipped_direction(generator, scorer)

    def prepare(
        self, generator: Any, workdir: Path, progress: bool = False, batch_size: int = 16
    ) -> None:
        """Load or learn (and cache) the direction; calibrate alpha when a shift was asked."""
        workdir = Path(workdir)
        gen_key = _key(generator.describe())
        if self._generator_key == gen_key and self.direction is not None:
            return
        if self.direction_path is not None:
            space = None if self.space_request == "auto" else self.space_request
            direction = load_direction(self.direction_path, space=space, generator=generator)
        else:
            space = resolve_space(generator, self.space_request)
            space = "w" if space == "w+" else space
            direction = self._learned(generator, self.scorer, space, workdir, batch_size, progress)
            others = []
            for cond in self.condition_on:
                if str(cond).endswith(".npy"):
                    others.append(load_direction(cond, space=space, generator=generator))
                else:
                    others.append(
                        self._learned(generator, cond, space, workdir, batch_size, progress)
                    )
            if others:
                direction = condition_direction(direction, others)
                self._rescale(generator, direction)
        resolve_space(generator, direction.space)
        if direction.dim != space_dim(generator, direction.space):
            raise ValueError(
                f"{self.name}: direction has {direction.dim} entries, generator "
                f"{direction.space}_dim is {space_dim(generator, direction.space)}"
            )
        if self.layers is not None and direction.space == "z":
            raise ValueError(
                f"{self.name}: a layer range needs a W-space direction (this one is in Z)"
            )
        check_layers(self.layers, getattr(generator, "num_ws", None))
        self.direction, self.calibration = direction, None
        if self.shift is not None:
            self.calibration = self._calibrate(generator, workdir, batch_size)
        if self.level_sd is not None:
            projection = self._population(generator, direction)
            self.level_centre = float(projection.mean())
            self.level_scale = float(projection.std(ddof=1))
            self.level_mean_step = float(level_steps(projection, self.level()).mean())
        self._generator_key = gen_key

    def _population(self, generator: Any, direction: Direction) -> np.ndarray:
        """Projections on `direction` of the samples it was learned from (seeds and count from
        its provenance; else the learning settings'): strength_sd's and level_sd's scale."""
        prov = direction.provenance
        start = prov.get("seed_start")
        if not isinstance(start, int):
            first = str(prov.get("seeds", "")).split("..", 1)[0]
            start = int(first) if first.isdigit() else int(self.settings["seed_start"])
        n = prov.get("n_samples")
        n = int(n) if isinstance(n, int) and n > 1 else int(self.settings["n_samples"])
        return population_projections(generator, direction.vector, direction.space, start, n)

    def _rescale(self, generator: Any, direction: Direction) -> None:
        """After conditioning: the SD of the samples' projections on the final direction (the
        raw direction's is kept as projection_sd_raw), as the direction bank records it."""
        prov = direction.provenance
        if "projection_sd" in prov:
            prov["projection_sd_raw"] = prov["projection_sd"]
        prov["projection_sd"] = float(self._population(generator, direction).std(ddof=1))

    def level(self) -> float:
        """A level edit's target projection: the learning samples' mean projection + level_sd
        x the SD of their projections."""
        if self.level_sd is None or self.level_centre is None or self.level_scale is None:
            raise RuntimeError(f"{self.name}: not a prepared level edit")
        return self.level_centre + self.level_sd * self.level_scale

    def _calibrate(self, generator: Any, workdir: Path, batch_size: int) -> Calibration:
        assert self.direction is not None
        seeds = list(range(CALIBRATION_SEED_START, CALIBRATION_SEED_START + self.calibration_n))
        request = {
            "direction": self.direction.sha256,
            "generator": generator.describe(),
            "scorer": self.target_scorer,
            "scorer_options": self.scorer_options,
            "shift": self.shift,
            "layers": self.layers,
            "n": self.calibration_n,
            "tolerance": self.calibration_tolerance,
        }
        path = workdir / "calibration" / f"{self.name}-{_key(request)}.json"
        if path.is_file():
            try:
                d = json.loads(path.read_text())
                return Calibration(
                    alpha=d["alpha"],
                    achieved_shift=d["achieved_shift"],
                    target_shift=d["target_shift"],
                    tolerance=d["tolerance"],
                    seeds=seeds,
                    trace=[tuple(t) for t in d["trace"]],
                    converged=d["converged"],
                )
            except (ValueError, KeyError, TypeError) as exc:  # corrupt: calibrate again
                warnings.warn(
                    f"cached calibration {path} is unreadable ({exc}); recalibrating", stacklevel=2
                )
        cal = calibrate_alpha(
            generator,
            self.direction,
            self._scorer(),
            float(self.shift),
            seeds,
            layers=self.layers,
            tolerance=self.calibration_tolerance,
            batch_size=batch_size,
        )
        write_text(path, json.dumps(cal.to_dict(), indent=2), sync=False)
        return cal

    # -- twins ------------------------------------------------------------------------
    def counterfactual(
        self,
        generator: Any,
        seeds: Sequence[int],
        base_images: torch.Tensor,
        batch_size: int = 16,
        progress: bool = False,
    ) -> torch.Tensor:
        check_base_images(base_images, seeds)
        if self.direction is None or self._generator_key != _key(generator.describe()):
            raise RuntimeError(
                f"intervention {self.name!r}: call prepare(generator, workdir) first "
                "(with this generator)"
            )
        z = generator.latents(list(seeds))
        alpha: float | np.ndarray = self.alpha
        if self.level_sd is not None:  # per face: up to the level, no further
            codes = latent_codes(generator, z, self.direction.space)
            alpha = level_alphas(codes, self.direction.vector, self.level())
        return edited_images(
            generator,
            z,
            self.direction.vector,
            alpha,
            self.direction.space,
            self.layers,
            batch_size=batch_size,
            progress=progress,
        )

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "kind": "latent_direction",
            "synthetic": False,
            "space": self.direction.space if self.direction else self.space_request,
            "layers": list(self.layers) if self.layers else None,
            "alpha": (
                None
                if (self.strength_sd is not None or self.level_sd is not None)
                and self.direction is None
                else self.alpha
            ),
            "alpha_source": (
                "calibrated"
                if self.calibration
                else "strength_sd x projection SD"
                if self.strength_sd is not None
                else "per face up to the level; alpha here is the mean step over the learning samples"
                if self.level_sd is not None
                else "default"
                if self.alpha_request is None
                else "given"
            ),
            "strength_sd": self.strength_sd,
            "requested_shift": self.shift,
            "target_scorer": self.target_scorer,
            "scorer_options": self.scorer_options or None,
            "direction_file": self.direction_path,
            "prepared": self.direction is not None,
        }
        if self.level_sd is not None:  # only then: other edits' descriptions stay as they were
            d.update(
                level_sd=self.level_sd,
                level_centre=self.level_centre,
                level_scale=self.level_scale,
                level_mean_step=self.level_mean_step,
            )
        if self.direction_path is None:
            d["learn_settings"] = {**self.settings, "labelling": self.labelling}
            d["condition_on"] = self.condition_on
        if self.direction is not None:
            d["direction"] = self.direction.describe()
            if self.direction.provenance.get("conditioned_on"):
                d["conditioning"] = conditioning_summary(self.direction, self.alpha)
        if self.calibration is not None:
            d["calibration"] = self.calibration.to_dict()
        return d


def conditioning_summary(direction: Direction, alpha: float) -> dict[str, Any]:
    """Linear leakage of a conditioned edit at strength `alpha`, before and after conditioning:
    per conditioning attribute, the shift of its linear score (projection on its normal) in SD
    of that projection over the learning samples; and the target's own linear shift (the raw
    normal's projection), which conditioning lowers by the cosine with the raw direction."""
    prov = direction.provenance
    out: dict[str, Any] = {
        "alpha": alpha,
        "cosine_with_raw": prov.get("cosine_with_unconditioned"),
        "others": {},
    }
    sd = prov.get("projection_sd_raw", prov.get("projection_sd"))  # the raw normal's SD
    if isinstance(sd, (int, float)) and sd > 0:
        out["target_shift_sd_raw"] = alpha / sd
        out["target_shift_sd_conditioned"] = alpha * float(prov["cosine_with_unconditioned"]) / sd
    for rec in prov.get("conditioned_on", []):
        entry = {
            "cosine_raw": rec.get("cosine_raw"),
            "cosine_conditioned": rec.get("cosine_conditioned"),
        }
        if "leakage_sd_per_alpha_raw" in rec:
            entry.update(
                leakage_sd_raw=alpha * rec["leakage_sd_per_alpha_raw"],
                leakage_sd_conditioned=alpha * rec["leakage_sd_per_alpha_conditioned"],
            )
        out["others"][str(rec.get("scorer") or rec.get("sha256", "?")[:12])] = entry
    return out


# -- registered names -------------------------------------------------------------------
def make_attribute(attribute: str) -> Callable[..., LatentEdit]:
    """Factory for a scorer-backed attribute edit ("gender", "age", "hair_length", "hat"): a
    `LatentEdit` named after the attribute whose scorer defaults to the attribute's own (its
    parameters are LatentEdit's); a direction file replaces the learning."""
    return functools.partial(LatentEdit, attribute, scorer=attribute)


def make_direction(
    path: str,
    *,
    space: str = "auto",
    layers: Sequence[int] | None = None,
    alpha: float | None = None,
    shift: float | None = None,
    scorer: str | None = None,
    name: str | None = None,
    calibration_n: int = 64,
    scorer_options: dict[str, Any] | None = None,
) -> LatentEdit:
    """direction:<path.npy>: a user direction file (InterFaceGAN boundary or ours)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"direction file not found: {path}")
    return LatentEdit(
        name or f"direction:{path}",
        direction=path,
        scorer=scorer,
        space=space,
        layers=layers,
        alpha=alpha,
        shift=shift,
        calibration_n=calibration_n,
        scorer_options=scorer_options,
    )


def make_hat_occluder(*, shape: str | None = None, color: str | None = None) -> SyntheticHat:
    """hat_occluder: a synthetic hat drawn over the top of the head (pixel space, labelled
    synthetic); the learned latent edit is "hat"."""
    return SyntheticHat(shape=shape, color=color)


register_intervention("gender", make_attribute("gender"))
register_intervention("age", make_attribute("age"))
register_intervention("hair_length", make_attribute("hair_length"))
register_intervention("hat", make_attribute("hat"))
for _attribute in ("eyeglasses", "smile", "skin_tone", "bangs"):
    register_intervention(_attribute, make_attribute(_attribute))
register_intervention("hat_occluder", make_hat_occluder)
register_intervention("direction", make_direction, prefix=True, arg_help="path.npy")
