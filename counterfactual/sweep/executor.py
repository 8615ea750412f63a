"""Local executor: runs a sweep plan on the CPU or one CUDA device, resumably.

Each image set (the base faces, then each intervention's twins) is generated once, kept in
memory and fed to every feature space; the features are cached per (set, space) in
RUN_DIR/features. The base set is also saved (RUN_DIR/sets/base/images.npy) because every twin
set is made from it. Statistics read cached features only. Every finished task leaves a marker
holding its content key, so a killed run resumes where it stopped, finished sets are neither
regenerated nor re-extracted, and re-running a finished run does nothing.

Feature extraction uses each extractor's own batch size (`default_batch_size`), so features and
tables do not depend on the generation `batch_size`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from counterfactual.config import SpaceConfig, SweepConfig, VerificationConfig
from counterfactual.foundation.files import read_json, save_npy, write_json
from counterfactual.foundation.hashing import content_hash
from counterfactual.run.directory import RunDir
from counterfactual.run.features import FeatureIndex
from counterfactual.sweep import dose as dose_mod
from counterfactual.sweep.features import extract_features
from counterfactual.sweep.plan import BASE, Plan, Task, build_plan, set_names
from counterfactual.sweep.region import region_rows
from counterfactual.sweep.tables import write_tables

Log = Callable[[str], None]
# [executor] kind -> the executor class ("module:Class") of each run kind.
EXECUTORS: dict[str, dict[str, str]] = {
    "sweep": {
        "local": "counterfactual.sweep.executor:LocalExecutor",
        "ray": "counterfactual.sweep.ray_executor:RaySweepExecutor",
    },
    "rank": {
        "local": "counterfactual.rank.engine:RankExecutor",
        "ray": "counterfactual.sweep.ray_executor:RayRankExecutor",
    },
}
MAIN_CATEGORIES = ("generation", "extraction", "statistics")


def _default_generator(spec: str, device: str, **options: Any) -> Any:
    from generators import load_generator

    return load_generator(spec, device=device, **options)


def _default_extractor(space: SpaceConfig, device: str) -> Any:
    from extractors import load_extractor

    options = {"weights": space.weights} if space.weights else {}
    return load_extractor(
        space.name, device=device, allow_untrained=space.allow_untrained, **options
    )


def _default_intervention(name: str, params: dict[str, Any]) -> Any:
    from counterfactual.interventions import build_intervention

    return build_intervention(name, **params)


def _default_scorer(name: str) -> Callable[[torch.Tensor], Any]:
    from extractors.scorers import load_scorer

    return load_scorer(name)


def _default_identity() -> Callable[[torch.Tensor, torch.Tensor], Any]:
    from extractors.scorers import identity_similarity

    return identity_similarity


def _default_verify(
    base: torch.Tensor,
    twin: torch.Tensor,
    scorers: dict[str, Callable],
    target: str | None,
    identity: Callable | None,
    settings: VerificationConfig,
    parsing: Callable | None = None,
) -> dict:
    from counterfactual.interventions import verify_intervention

    return verify_intervention(base, twin, scorers, target, identity, settings, parsing).to_dict()


def _default_parsing_agreement() -> Callable[[torch.Tensor, torch.Tensor], np.ndarray]:
    """Per-pair parsing agreement twin vs base from the shared face parsing (cached by content)."""
    from counterfactual.interventions.regions import detect_parsing
    from counterfactual.interventions.verify import parsing_agreement

    return lambda base, twin: parsing_agreement(detect_parsing(base), detect_parsing(twin))


def _default_cache(root: Path) -> Any:
    from extractors.runtime.cache import FeatureCache

    return FeatureCache(root)


def _default_feature_key(identity: dict[str, Any], description: dict[str, Any]) -> str:
    from extractors.runtime.cache import feature_key

    return feature_key(identity, description)


@dataclass
class Components:
    """Where the executor gets its parts; tests swap in stand-ins."""

    load_generator: Callable[..., Any] = _default_generator  # (spec, device, **options)
    load_extractor: Callable[[SpaceConfig, str], Any] = _default_extractor
    build_intervention: Callable[[str, dict[str, Any]], Any] = _default_intervention
    load_scorer: Callable[[str], Callable] = _default_scorer
    identity_similarity: Callable[[], Callable] = _default_identity
    verify: Callable[..., dict] = _default_verify
    parsing_agreement: Callable[[], Callable] = _default_parsing_agreement
    feature_cache: Callable[[Path], Any] = _default_cache
    feature_key: Callable[[dict, dict], str] = _default_feature_key


class Timer:
    """Wall time per category (generation, extraction, statistics, ...)."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self._start = time.perf_counter()

    @contextmanager
    def __call__(self, category: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.totals[category] += time.perf_counter() - t0

    def summary(self) -> dict[str, Any]:
        total = time.perf_counter() - self._start
        out = {k: round(self.totals.get(k, 0.0), 3) for k in MAIN_CATEGORIES}
        out["other"] = round(
            max(0.0, total - sum(self.totals.get(k, 0.0) for k in MAIN_CATEGORIES)), 3
        )
        out["total"] = round(total, 3)
        out["details"] = {
            k: round(v, 3) for k, v in sorted(self.totals.items()) if k not in MAIN_CATEGORIES
        }
        return out


def format_timing(timing: dict[str, Any]) -> str:
    total = timing["total"] or 1e-9
    parts = [
        f"{k} {timing[k]:.1f} s ({100 * timing[k] / total:.1f}%)"
        for k in (*MAIN_CATEGORIES, "other")
    ]
    details = ", ".join(f"{k} {v:.1f} s" for k, v in timing.get("details", {}).items())
    return f"timing: {', '.join(parts)}; total {timing['total']:.1f} s" + (
        f" [other: {details}]" if details else ""
    )


@dataclass
class SweepResult:
    """What a sweep invocation did."""

    run_dir: Path
    status: str  # "complete" (ran to the end) or "already complete"
    timing: dict[str, Any] = field(default_factory=dict)
    work: dict[str, int] = field(default_factory=dict)
    flags: dict[str, list[str]] = field(default_factory=dict)


def log_skipped(log: Log, label: str, generator: Any) -> None:
    """Name every file a sample folder left out (skip_bad), with its reason."""
    skipped = list(getattr(generator, "skipped", None) or [])
    if not skipped:
        return
    reasons = getattr(generator, "skip_reasons", {}) or {}
    log(
        f"note: {label} {generator.spec}: skipped {len(skipped)} file(s) (recorded in the "
        "manifest):"
    )
    for name in skipped:
        log(f"  {name}: {reasons.get(name, 'skipped')}")


class FeatureEngine:
    """What the sweep and rank engines share: their parts, timer and work counters, and image
    sets extracted into every feature space through the run's feature cache.

    Subclasses load `self.extractors` (space name -> extractor) and `self.cache` in their
    setup, and say what identifies a set's images (`set_identity`)."""

    rerun_hint = "re-run"  # how to recover from features missing from the cache
    check_finite = True  # refuse NaN/inf features

    def __init__(
        self,
        config: Any,
        run_dir: RunDir,
        *,
        progress: bool = True,
        components: Components | None = None,
        log: Log = print,
    ) -> None:
        self.config = config
        self.rd = run_dir
        self.progress = progress
        self.comps = components or Components()
        self.log = log
        self.timer = Timer()
        self.work: dict[str, int] = defaultdict(int)
        self.extractors: dict[str, Any] = {}
        self.cache: Any = None
        self._features: dict[tuple[str, str], np.ndarray] = {}

    def set_identity(self, set_name: str) -> dict[str, Any]:
        """Everything that determines a set's images (the feature-cache key input)."""
        raise NotImplementedError

    def load_extractors(self) -> dict[str, Any]:
        """Every configured feature space, keyed by its config name."""
        return {
            s.name: self.comps.load_extractor(s, self.config.device) for s in self.config.spaces
        }

    def space_entries(self) -> list[dict[str, Any]]:
        """The manifest's description of each feature space; random-weight ones are noted."""
        spaces = [
            {
                "name": n,
                "label": e.label,
                "trained": bool(e.trained),
                "weights_sha256": e.weights_sha256,
                "description": e.describe(),
            }
            for n, e in self.extractors.items()
        ]
        for entry in spaces:
            if not entry["trained"]:
                self.log(f"note: feature space {entry['label']} uses random weights")
        return spaces

    def feature_key(self, set_name: str, space: str) -> str:
        return self.comps.feature_key(
            self.set_identity(set_name), self.extractors[space].describe()
        )

    def record_feature_index(self, set_names: list[str]) -> None:
        """Write RUN_DIR/features/index.json: the cache key of every (set, space), so readers
        of the run find its features without rebuilding a plan or a key."""
        FeatureIndex(self.rd).record(
            {
                (s, sp): {
                    "key": self.feature_key(s, sp),
                    "label": e.label,
                    "trained": bool(e.trained),
                }
                for s in set_names
                for sp, e in self.extractors.items()
            }
        )

    def features(self, set_name: str, space: str) -> np.ndarray:
        """Cached features of a set in a space (kept in memory while statistics need them)."""
        key = (set_name, space)
        if key not in self._features:
            feats = self.cache.get(self.feature_key(set_name, space))
            if feats is None:
                raise RuntimeError(
                    f"features of set {set_name!r} in space {space!r} are missing "
                    f"from {self.rd.features} (deleted or damaged meanwhile); "
                    f"{self.rerun_hint}"
                )
            self._features[key] = np.asarray(feats)
        return self._features[key]

    def extract_set(self, set_name: str, space: str, images: torch.Tensor) -> np.ndarray:
        """Extract a set's images into one space and cache the features."""
        extractor = self.extractors[space]
        with self.timer("extraction"):
            feats = extract_features(
                extractor,
                images,
                progress=self.progress,
                desc=f"{extractor.label} <- {set_name}",
                name=space,
                check_finite=self.check_finite,
            )
        self.work["feature_passes"] += len(images)
        return self.store_features(set_name, space, feats)

    def store_features(self, set_name: str, space: str, feats: np.ndarray) -> np.ndarray:
        """Cache a set's features in one space (one atomic entry)."""
        extractor = self.extractors[space]
        self.cache.put(
            self.feature_key(set_name, space),
            feats,
            {
                "set": set_name,
                "space": space,
                "label": extractor.label,
                "trained": bool(extractor.trained),
                "n": len(feats),
            },
        )
        return feats


class LocalExecutor(FeatureEngine):
    """Runs one sweep's plan in this process (see the module docstring)."""

    rerun_hint = "run the same command again: it recomputes them"

    def __init__(
        self,
        config: SweepConfig,
        run_dir: RunDir,
        *,
        progress: bool = True,
        components: Components | None = None,
        log: Log = print,
    ) -> None:
        super().__init__(config, run_dir, progress=progress, components=components, log=log)
        self.flags: dict[str, list[str]] = {}
        self.seeds = config.seed_list
        self._base: torch.Tensor | None = None
        self._scorers: dict[str, Callable] | None = None
        self.plan: Plan | None = None

    # ---- setup -------------------------------------------------------------------
    def setup(self) -> Plan:
        cfg = self.config
        with self.timer("setup"):
            self.generator = self.comps.load_generator(
                cfg.generator.spec, cfg.device, **cfg.generator.loader_options()
            )
            log_skipped(self.log, "generator", self.generator)
            self.extractors = self.load_extractors()
            self.interventions = {
                iv.key: self.comps.build_intervention(iv.name, dict(iv.params))
                for iv in cfg.interventions
            }
            self.plan = build_plan(
                cfg,
                self.generator.describe(),
                {n: e.describe() for n, e in self.extractors.items()},
                {k: i.describe() for k, i in self.interventions.items()},
            )
            self.cache = self.comps.feature_cache(self.rd.features)
        self.record_feature_index(set_names(cfg))
        spaces = self.space_entries()
        regions = [
            iv.key
            for iv in cfg.interventions
            if iv.name.startswith(cfg.region.prefix) and iv.key != cfg.region.reference
        ]
        if regions and not cfg.region_interventions():
            self.log(
                f"note: no region table: its reference {cfg.region.reference!r} is not among "
                f"the interventions (add it to normalise {', '.join(regions)})"
            )
        self.rd.update_manifest(
            generator=self.generator.describe(),
            spaces=spaces,
            interventions={k: i.describe() for k, i in self.interventions.items()},
            weights={
                "generator": getattr(self.generator, "weights_sha256", None),
                **{n: e.weights_sha256 for n, e in self.extractors.items()},
            },
            plan=self.plan.as_dict(),
        )
        return self.plan

    # ---- helpers -----------------------------------------------------------------
    def pending(self, task: Task) -> bool:
        """Not finished with this content key, or a file it wrote fails its checksum."""
        if not self.rd.is_done(task.id, task.key):
            return True
        if task.kind == "extract":  # finished, but its features must still be cached intact
            return not cache_holds(
                self.cache, self.feature_key(task.params["set"], task.params["space"])
            )
        return False

    def set_identity(self, set_name: str) -> dict[str, Any]:
        return self.plan.set_identities[set_name]

    def _save_sample(self, set_name: str, images: torch.Tensor) -> None:
        """The first `sample_images` images of a set, for report grids (kept while valid)."""
        k = min(self.config.sample_images, len(images))
        info = {
            "set": set_name,
            "seeds": self.seeds[:k],
            "identity_key": content_hash(self.plan.set_identities[set_name]),
        }
        try:
            if k == 0 or (
                read_json(self.rd.set_info_path(set_name)) == info
                and self.rd.sample_path(set_name).exists()
            ):
                return
        except (FileNotFoundError, ValueError):
            pass
        save_npy(self.rd.sample_path(set_name), images[:k].numpy())
        write_json(self.rd.set_info_path(set_name), info)

    # ---- image sets ----------------------------------------------------------------
    def base_images(self) -> torch.Tensor:
        """The base set: loaded from the run directory, or generated once and saved."""
        if self._base is not None:
            return self._base
        task = self.plan["generate/base"]
        path = self.rd.images_path(BASE)
        if not self.pending(task) and path.exists():  # its checksum was verified
            try:
                self._base = torch.from_numpy(np.load(path, allow_pickle=False))
                return self._base
            except (ValueError, OSError, EOFError) as exc:  # a marker without checksum (older run)
                self.log(f"warning: {path} is unreadable ({exc}); generating the base set again")
        with self.timer("generation"):
            images = self.generator.images_for_seeds(
                self.seeds, batch_size=self.config.batch_size, progress=self.progress
            )
            images = torch.as_tensor(images).cpu().contiguous()
        self.work["images_generated"] += len(images)
        save_npy(path, images.numpy())
        self._save_sample(BASE, images)
        self.rd.mark_done(task.id, task.key, files=[path], n=len(images))
        self._base = images
        return images

    def prepare_intervention(self, key: str) -> Any:
        """Prepare an intervention (learned direction, calibration ...) and record it."""
        intervention = self.interventions[key]
        with self.timer("prepare"):
            intervention.prepare(
                self.generator, self.rd.intervention_dir(key), progress=self.progress
            )
        prepared = dict((self.rd.read_manifest() or {}).get("interventions_prepared", {}))
        prepared[key] = intervention.describe()  # learned direction, calibrated strength ...
        self.rd.update_manifest(interventions_prepared=prepared)
        return intervention

    def twin_images(self, key: str) -> torch.Tensor:
        base = self.base_images()
        intervention = self.prepare_intervention(key)
        with self.timer("generation"):
            twins = intervention.counterfactual(
                self.generator,
                self.seeds,
                base,
                batch_size=self.config.batch_size,
                progress=self.progress,
            )
            twins = torch.as_tensor(twins).cpu().contiguous()
        if twins.shape != base.shape or twins.dtype != torch.uint8:
            raise RuntimeError(
                f"intervention {key!r} returned twins of shape {list(twins.shape)} "
                f"({twins.dtype}); expected {list(base.shape)} uint8"
            )
        self.work["images_generated"] += len(twins)
        self._save_sample(key, twins)
        task = self.plan[f"generate/{key}"]
        self.rd.mark_done(task.id, task.key, n=len(twins), persisted=False)
        return twins

    # ---- tasks ---------------------------------------------------------------------
    def extract(self, task: Task, images: torch.Tensor) -> None:
        set_name, space = task.params["set"], task.params["space"]
        feats = self.extract_set(set_name, space, images)
        self._features[(set_name, space)] = feats
        self.rd.mark_done(task.id, task.key, shape=list(feats.shape))

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

    def dose(self, task: Task, draws: list[dose_mod.Draw]) -> None:
        key, space = task.params["intervention"], task.params["space"]
        extractor = self.extractors[space]
        base, twin = self.features(BASE, space), self.features(key, space)
        with self.timer("statistics"):
            res = dose_mod.dose_response(base, twin, draws)
        labels = {
            "intervention": key,
            "space": space,
            "space_label": extractor.label,
            "trained": bool(extractor.trained),
        }
        rows = [{**labels, **row} for row in res.rows()]
        stats = write_json(self.rd.stats_path(task.id), {"route": res.route, "rows": rows})
        self.rd.mark_done(task.id, task.key, files=[stats])

    def region(self, task: Task) -> None:
        space = task.params["space"]
        extractor = self.extractors[space]
        cfg = self.config
        with self.timer("statistics"):
            rows = region_rows(
                base=self.features(BASE, space),
                reference=self.features(task.params["reference"], space),
                regions={k: self.features(k, space) for k in task.params["regions"]},
                names={k: cfg.intervention(k).name for k in task.params["regions"]},
                prefix=cfg.region.prefix,
                n_pairs=cfg.pairs_per_draw,
                draws=cfg.draws,
                seed=cfg.seed,
            )
        labels = {
            "space": space,
            "space_label": extractor.label,
            "trained": bool(extractor.trained),
        }
        rows = [{**row, **labels} for row in rows]
        self.rd.mark_done(
            task.id, task.key, files=[write_json(self.rd.stats_path(task.id), {"rows": rows})]
        )

    # ---- the run ---------------------------------------------------------------------
    def run(self) -> SweepResult:
        plan = self.setup() if self.plan is None else self.plan  # run_sweep sets up first
        self.produce_sets(plan)
        self.statistics(plan)
        return self.finish(plan)

    def produce_sets(self, plan: Plan) -> None:
        """The image phase: every pending extract and verify task (one set in memory at a time)."""
        for set_name in set_names(self.config):
            todo = [
                t
                for t in plan.consumers(f"generate/{set_name}")
                if self.pending(t)
                and (
                    t.kind == "extract"
                    or (t.kind == "verify" and t.params["intervention"] == set_name)
                )
            ]
            if not todo:
                continue
            images = self.base_images() if set_name == BASE else self.twin_images(set_name)
            for task in (t for t in todo if t.kind == "extract"):
                self.extract(task, images)
            for task in (t for t in todo if t.kind == "verify"):
                self.verify(task, images)
            del images
            self._drop_twin_features(set_name)
        self._base = None

    def statistics(self, plan: Plan) -> None:
        """Dose-response and region tasks, from cached features."""
        cfg = self.config
        with self.timer("statistics"):
            draws = dose_mod.plan_draws(
                len(self.seeds), cfg.pairs_per_draw, cfg.deltas, cfg.draws, cfg.seed
            )
        for task in plan.of_kind("dose"):
            if self.pending(task):
                self.dose(task, draws)
        for task in plan.of_kind("region"):
            if self.pending(task):
                self.region(task)

    def finish(self, plan: Plan) -> SweepResult:
        """Tables, verification flags and the completed manifest."""
        cfg = self.config
        tables_task = plan["tables"]
        with self.timer("tables"):
            written, verification = write_tables(self.rd, cfg, plan)
        self.rd.mark_done(tables_task.id, tables_task.key)
        self.flags = {
            k: [f["message"] for f in v.get("flags", [])] for k, v in verification.items()
        }
        timing = self.timer.summary()
        manifest = self.rd.read_manifest() or {}
        history = list(manifest.get("timing_history", [])) + [timing]
        self.rd.finish(written, timing=timing, timing_history=history, work=dict(self.work))
        return SweepResult(self.rd.root, "complete", timing, dict(self.work), self.flags)

    def _drop_twin_features(self, set_name: str) -> None:
        """Twin features are re-read from the cache by the statistics; keep memory flat."""
        if set_name != BASE:
            for key in [k for k in self._features if k[0] == set_name]:
                del self._features[key]


def cache_holds(cache: Any, key: str) -> bool:
    """True when the feature cache holds the entry intact (checksum verified when it can)."""
    verify = getattr(cache, "verify", None)
    return bool(verify(key)) if verify is not None else key in cache


def run_locked(
    out: str | Path,
    config: Any,
    force: bool,
    log: Log,
    engine: Callable[[RunDir], Any],
    already_complete: Callable[[RunDir, dict[str, Any]], Any],
) -> Any:
    """Run an engine (sweep or rank) in the run directory `out` under its writer lock, held
    until the run returns: `already_complete(rd, manifest)` when a finished run of `config` is
    there (unless `force`), else open it, set `engine(rd)` up and run it. A failed setup
    (missing weights, a bad generator) puts the manifest back as it was, so the corrected
    config needs no --force."""
    with RunDir(out) as rd:
        if not force and rd.is_complete(config):
            log(f"{rd.root}: run is complete; nothing to do (use --force to recompute)")
            return already_complete(rd, rd.read_manifest() or {})
        runner = engine(rd)
        rd.open(config, force=force)
        try:
            runner.setup()
        except BaseException:
            rd.undo_open()
            raise
        return runner.run()


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


def executor_class(run_kind: str, kind: str) -> type:
    """The executor class for a run kind ("sweep", "rank") and an executor kind ("local", "ray")."""
    import importlib

    module_name, _, name = EXECUTORS[run_kind][kind].partition(":")
    return getattr(importlib.import_module(module_name), name)


def execution_overrides(
    config: Any, device: str | None, batch_size: int | None, executor: str | None
) -> Any:
    """The config with the command line's execution options (which never change results)."""
    table = config.executor.model_copy(update={"kind": executor}) if executor else None
    return config.with_overrides(device=device, batch_size=batch_size, executor=table)


def run_engine(
    run_kind: str,
    result_cls: type,
    config: Any,
    out: str | Path,
    *,
    device: str | None,
    batch_size: int | None,
    executor: str | None,
    progress: bool,
    force: bool,
    components: Components | None,
    log: Log,
) -> Any:
    """Run (or resume) a sweep or rank run (`run_kind`) under the run directory's lock, with
    the command line's execution options; a finished run answers `result_cls(..., "already
    complete", ...)` without doing anything."""
    config = execution_overrides(config, device, batch_size, executor)
    cls = executor_class(run_kind, config.executor.kind)
    return run_locked(
        out,
        config,
        force,
        log,
        lambda rd: cls(config, rd, progress=progress, components=components, log=log),
        lambda rd, m: result_cls(rd.root, "already complete", m.get("timing", {}), {}),
    )


def run_sweep(
    config: SweepConfig,
    out: str | Path,
    *,
    device: str | None = None,
    batch_size: int | None = None,
    progress: bool = True,
    force: bool = False,
    components: Components | None = None,
    log: Log = print,
    executor: str | None = None,
) -> SweepResult:
    """Run (or resume) a sweep into the run directory `out` (`executor`: "local" or "ray",
    default the config's `[executor] kind`)."""
    result = run_engine(
        "sweep",
        SweepResult,
        config,
        out,
        device=device,
        batch_size=batch_size,
        executor=executor,
        progress=progress,
        force=force,
        components=components,
        log=log,
    )
    if config.attention.enabled:  # an add-on with its own marker (counterfactual.attention)
        from counterfactual.attention.engine import run_attention

        run_attention(
            str(out),
            spaces=config.attention.spaces or None,
            n=config.attention.n,
            device=device or config.device,
            progress=progress,
            log=log,
        )
    if result.status == "already complete":
        return result
    rd = RunDir(out)
    for key, messages in result.flags.items():
        for message in messages:
            log(f"verification flag [{key}]: {message}")
    log(format_timing(result.timing))
    log(f"{rd.root}: run complete; tables in {rd.tables}")
    return result
