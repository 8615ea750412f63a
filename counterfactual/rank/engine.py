"""The rank engine: every generator against one reference set, in every feature space.

    run_rank(load_rank_config("experiments/rank_demo.toml"), "runs/rank_demo")

Steps (each resumable; the run directory is the sweep's `RunDir`):
1. sets: each set (reference, then generators) is generated once when some space lacks its
   features, fed to every such space, and its features cached in RUN_DIR/features
   (`extractors.runtime.cache`); a sample of each set is kept in RUN_DIR/sets/<id>/sample.npy.
2. stats/<generator>/<space>: FD, KID, precision/recall, density/coverage with bootstrap CIs
   (`counterfactual.rank.compare`), one JSON per task in RUN_DIR/stats, a done marker holding
   the task's content key (feature keys of both sets + statistics settings).
3. scores (when `[explained]` is on): while a set's images are in memory, each attribute
   scorer scores them (float64 per image) into RUN_DIR/scores/<set>/<scorer>.npy, with a done
   marker holding the content key (set identity + scorer description); explained/<generator>:
   `counterfactual.rank.explained` against the reference in every space, one JSON per task.
4. floor/<space>: the reference's own FD floor between disjoint halves, and each generator's
   FD at the same n/2 (`counterfactual.rank.floor`; `metrics.floor_splits = 0` turns it off).
5. tables: RUN_DIR/tables/rank_metrics, rankings, kendall_tau (`counterfactual.rank.ranking`),
   paired_differences (`counterfactual.rank.paired`), reference_floor (.csv, .parquet, .json);
   with scores also explained_fd and prevalence.
A finished run re-run with the same config does nothing; an interrupted one resumes; every
file is written atomically.

When the reference is a generator's own samples rather than real images, every distance
measures how far each generator is from THAT generator, not from reality (the manifest's
`reference.note` and the report say so).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from counterfactual.engine.components import Components
from counterfactual.engine.features import FeatureEngine, Log, cache_holds, log_skipped
from counterfactual.engine.runner import RunResult, log_completion, run_engine
from counterfactual.engine.scoring import explained_scores
from counterfactual.foundation.files import read_json, save_npy, write_json
from counterfactual.foundation.hashing import content_hash
from counterfactual.rank import explained as expl
from counterfactual.rank.compare import Settings, compare
from counterfactual.rank.config import REFERENCE_ID, RankConfig
from counterfactual.rank.floor import reference_floor
from counterfactual.rank.paired import paired_table
from counterfactual.rank.ranking import kendall_tau_table, metric_table, ranking_table
from counterfactual.rank.sets import ImageSet, check_seeds_available, generate, image_sets
from counterfactual.run.directory import RunDir
from counterfactual.run.schemas import (
    EXPLAINED_TABLES,
    FLOOR_COLUMNS,
    RANK_EXPLAINED_COLUMNS,
    RANK_TABLES,
)
from counterfactual.run.tables import remove_table, write_table

# [executor] kind -> the class that runs a rank run ("module:Class", `counterfactual.engine.choice`)
EXECUTORS = {
    "local": "counterfactual.rank.engine:RankExecutor",
    "ray": "counterfactual.rank.ray_executor:RayRankExecutor",
}

REAL_NOTE = "The reference set holds real images: distances measure closeness to real data."
SELF_NOTE = (
    "The reference set is samples of the generator {spec} (no real images): every "
    "distance measures how far a generator is from THAT generator, not from real faces."
)


class RankResult(RunResult):
    """What a rank invocation did."""


def reference_note(config: RankConfig) -> str:
    ref = config.reference
    return REAL_NOTE if ref.is_real else SELF_NOTE.format(spec=ref.key)


class RankExecutor(FeatureEngine):
    """Runs one rank config in this process (see the module docstring)."""

    rerun_hint = "re-run the rank command"

    def __init__(
        self,
        config: RankConfig,
        run_dir: RunDir,
        *,
        progress: bool = True,
        components: Components | None = None,
        log: Log = print,
    ) -> None:
        super().__init__(config, run_dir, progress=progress, components=components, log=log)
        self.sets = image_sets(config)
        self.settings = Settings(**config.metrics.model_dump(), seed=config.seed)
        self._generators: dict[str, Any] = {}
        self.identities: dict[str, dict[str, Any]] = {}
        self.scorers: dict[str, Any] = {}
        self._scorer_desc: dict[str, dict[str, Any]] = {}

    # ---- setup -----------------------------------------------------------------------
    def generator(self, spec: str, options: dict[str, Any] | None = None) -> Any:
        """Each spec (with its options) is loaded once (truncation variants share it)."""
        key = content_hash([spec, options or {}])
        if key not in self._generators:
            self._generators[key] = self.comps.load_generator(
                spec, self.config.device, **(options or {})
            )
        return self._generators[key]

    def setup(self) -> None:
        cfg = self.config
        with self.timer("setup"):
            self.extractors = self.load_extractors()
            for s in self.sets:  # a folder too small fails here: setup failures undo open
                generator = self.generator(s.spec, s.options)
                check_seeds_available(generator, s)
                self.identities[s.id] = s.identity(generator.describe())
                log_skipped(self.log, f"set {s.id!r}:", generator)
            self.cache = self.comps.feature_cache(self.rd.features)
            self.scorers = self.load_scorers()
        self.record_feature_index([s.id for s in self.sets])
        self.spaces = self.space_entries()
        note = reference_note(cfg)
        if not cfg.reference.is_real:
            self.log(f"note: {note}")
        self.rd.update_manifest(
            kind="rank",
            reference={**self.sets[0].describe(), "real": cfg.reference.is_real, "note": note},
            sets={
                s.id: {**s.describe(), "generator": self.identities[s.id]["generator"]}
                for s in self.sets
            },
            spaces=self.spaces,
            weights={
                **{
                    s.id: self.identities[s.id]["generator"].get("weights_sha256")
                    for s in self.sets
                },
                **{n: e.weights_sha256 for n, e in self.extractors.items()},
            },
            scorers={n: self.scorer_description(n) for n in self.scorers},
        )

    def load_scorers(self) -> dict[str, Any]:
        """The `[explained]` scorers: none unless `enabled` (opt-in); then every scorer must
        load."""
        ecfg = self.config.explained
        if not ecfg.enabled:
            return {}
        scorers: dict[str, Any] = {}
        for name in ecfg.scorers:
            try:
                scorers[name] = self.comps.load_scorer(name)
            except (ImportError, FileNotFoundError, RuntimeError, ValueError) as exc:
                raise RuntimeError(f"[explained] scorer {name!r} cannot be loaded: {exc}") from exc
        return scorers

    def scorer_description(self, name: str) -> dict[str, Any]:
        """What determines a scorer's scores (taken once, before it scores anything)."""
        if name not in self._scorer_desc:
            describe = getattr(self.scorers[name], "describe", None)
            self._scorer_desc[name] = describe() if callable(describe) else {"name": name}
        return self._scorer_desc[name]

    # ---- features ----------------------------------------------------------------------
    def set_identity(self, set_id: str) -> dict[str, Any]:
        return self.identities[set_id]

    def _save_sample(self, s: ImageSet, images: torch.Tensor) -> None:
        k = min(self.config.sample_images, len(images))
        if k == 0 or self.rd.sample_path(s.id).exists():
            return
        save_npy(self.rd.sample_path(s.id), images[:k].numpy())
        write_json(
            self.rd.set_info_path(s.id),
            {
                "set": s.id,
                "role": s.role,
                "spec": s.spec,
                "truncation_psi": s.truncation_psi,
                "seeds": list(s.seeds[:k]),
                "identity_key": content_hash(self.identities[s.id]),
            },
        )

    def record_align_fallbacks(self, s: ImageSet, seeds: list[int] | None) -> None:
        """Name the seeds of an aligned generated set framed without a detected face
        (`generators.aligned`): console and manifest (`align_fallback_seeds`)."""
        if not seeds:
            return
        shown = ", ".join(map(str, seeds[:20])) + (" ..." if len(seeds) > 20 else "")
        self.log(
            f"note: set {s.id!r}: no face detected in {len(seeds)} of {len(s.seeds)} images; "
            f"framed from the canonical landmarks (seeds {shown})"
        )
        fallbacks = dict((self.rd.read_manifest() or {}).get("align_fallback_seeds", {}))
        fallbacks[s.id] = list(seeds)
        self.rd.update_manifest(align_fallback_seeds=fallbacks)

    def pending_work(self, s: ImageSet) -> tuple[list[str], list[str], bool]:
        """(spaces lacking the set's features, scorers lacking its scores, sample missing)."""
        missing = [
            n for n in self.extractors if not cache_holds(self.cache, self.feature_key(s.id, n))
        ]
        sample_missing = self.config.sample_images > 0 and not self.rd.sample_path(s.id).exists()
        unscored = [n for n in self.scorers if not self.has_scores(s.id, n)]
        return missing, unscored, sample_missing

    def produce_sets(self) -> None:
        """The image phase: every set that lacks features, scores or its sample."""
        for s in self.sets:
            self.ensure_set(s)

    def ensure_set(self, s: ImageSet) -> None:
        """Generate the set once if any space lacks its features; extract and cache them."""
        missing, unscored, sample_missing = self.pending_work(s)
        if not missing and not sample_missing and not unscored:
            return
        generator = self.generator(s.spec, s.options)
        with self.timer("generation"):
            images = generate(generator, s, self.config.batch_size, self.progress)
        self.work["images_generated"] += len(images)
        self.record_align_fallbacks(s, getattr(generator, "last_fallback_seeds", None))
        self._save_sample(s, images)
        for name in missing:
            self.extract_set(s.id, name, images)
        for name in unscored:
            self.score_set(s.id, name, images)

    # ---- attribute scores (explained FD) --------------------------------------------------
    def scores_key(self, set_id: str, scorer: str) -> str:
        return content_hash(
            {"set": self.identities[set_id], "scorer": self.scorer_description(scorer)}
        )

    def has_scores(self, set_id: str, scorer: str) -> bool:
        return (
            self.rd.is_done(f"scores/{set_id}/{scorer}", self.scores_key(set_id, scorer))
            and self.rd.scores_path(set_id, scorer).exists()
        )

    def score_set(self, set_id: str, scorer: str, images: torch.Tensor) -> np.ndarray:
        """Score a set's images (float64 per image) and cache the scores."""
        with self.timer("scoring"):
            scores = explained_scores(self.scorers[scorer], images, scorer, set_id)
        self.work["images_scored"] += len(images)
        return self.store_scores(set_id, scorer, scores)

    def store_scores(self, set_id: str, scorer: str, scores: np.ndarray) -> np.ndarray:
        """Keep a set's scores (RUN_DIR/scores) with their done marker (and checksum)."""
        path = save_npy(self.rd.scores_path(set_id, scorer), scores)
        self.rd.mark_done(
            f"scores/{set_id}/{scorer}",
            self.scores_key(set_id, scorer),
            files=[path],
            n=int(scores.size),
        )
        return scores

    def scores(self, set_id: str) -> dict[str, np.ndarray]:
        """Every scorer's cached scores of a set."""
        return {n: np.load(self.rd.scores_path(set_id, n)) for n in self.scorers}

    def explained_settings(self) -> dict[str, Any]:
        ecfg = self.config.explained
        return {
            "thresholds": ecfg.threshold_map(),
            "n_boot": ecfg.n_boot,
            "method": ecfg.method,
            "ci": self.settings.ci,
            "seed": self.config.seed,
        }

    def explained(self, s: ImageSet) -> list[dict[str, Any]]:
        """Explained FD of one generator in every space (computed once, then read back)."""
        task_id = f"explained/{s.id}"
        key = content_hash(
            {
                "features": {
                    sp: [self.feature_key(REFERENCE_ID, sp), self.feature_key(s.id, sp)]
                    for sp in self.extractors
                },
                "scores": {
                    n: [self.scores_key(REFERENCE_ID, n), self.scores_key(s.id, n)]
                    for n in self.scorers
                },
                "settings": self.explained_settings(),
            }
        )
        path = self.rd.stats_path(task_id)
        if self.rd.is_done(task_id, key) and path.exists():
            return read_json(path)["rows"]
        st = self.explained_settings()
        thresholds = {n: st["thresholds"][n] for n in self.scorers}
        with self.timer("explained"):
            rows = expl.explained_rows(
                s.id,
                {sp: self.features(s.id, sp) for sp in self.extractors},
                {sp: self.features(REFERENCE_ID, sp) for sp in self.extractors},
                self.scores(s.id),
                self.scores(REFERENCE_ID),
                thresholds,
                n_boot=st["n_boot"],
                ci=st["ci"],
                seed=st["seed"],
                method=st["method"],
                trained={n: bool(e.trained) for n, e in self.extractors.items()},
                space_labels={n: e.label for n, e in self.extractors.items()},
            )
        write_json(path, {"generator": s.id, "settings": st, "rows": rows})
        self.rd.mark_done(task_id, key, files=[path])
        self.work["explained"] += 1
        return rows

    def write_explained_tables(self) -> list[str]:
        if not self.scorers:  # no stale tables from an earlier config with scorers
            for name in EXPLAINED_TABLES:
                remove_table(self.rd.tables / name)
            return []
        rows = [r for s in self.sets if s.role == "generator" for r in self.explained(s)]
        frame = pd.DataFrame(rows, columns=list(RANK_EXPLAINED_COLUMNS))
        prevalence = expl.prevalence_table(
            {s.id: self.scores(s.id) for s in self.sets},
            {s.id: s.role for s in self.sets},
            self.config.explained.threshold_map(),
        )
        written: list[str] = []
        for name, table in zip(EXPLAINED_TABLES, (frame, prevalence)):
            written += [p.name for p in write_table(table, self.rd.tables / name)]
        return written

    # ---- statistics ----------------------------------------------------------------------
    def stats_key(self, gen_id: str, space: str) -> str:
        return content_hash(
            {
                "reference": self.feature_key(REFERENCE_ID, space),
                "generator": self.feature_key(gen_id, space),
                "settings": self.settings.as_dict(),
            }
        )

    def stats(self, s: ImageSet, space: str) -> dict[str, Any]:
        """The stats of one generator x space (computed once, then read from RUN_DIR/stats)."""
        task_id, key = f"stats/{s.id}/{space}", self.stats_key(s.id, space)
        path = self.rd.stats_path(task_id)
        if self.rd.is_done(task_id, key) and path.exists():
            return read_json(path)
        with self.timer("statistics"):
            result = compare(
                self.features(REFERENCE_ID, space), self.features(s.id, space), self.settings
            )
        extractor = self.extractors[space]
        result.update(
            generator=s.id,
            spec=s.spec,
            truncation_psi=s.truncation_psi,
            truncation_cutoff=s.truncation_cutoff,
            space=space,
            space_label=extractor.label,
            trained=bool(extractor.trained),
            settings=self.settings.as_dict(),
        )
        write_json(path, result)
        self.rd.mark_done(task_id, key, files=[path])
        self.work["comparisons"] += 1
        return result

    def floor(self, space: str) -> list[dict[str, Any]]:
        """The reference's floor and each generator's FD at n/2 in one space (computed once,
        then read from RUN_DIR/stats; see `counterfactual.rank.floor`)."""
        splits = self.config.metrics.floor_splits
        task_id = f"floor/{space}"
        key = content_hash(
            {
                "features": [self.feature_key(s.id, space) for s in self.sets],
                "splits": splits,
                "seed": self.config.seed,
            }
        )
        path = self.rd.stats_path(task_id)
        if self.rd.is_done(task_id, key) and path.exists():
            return read_json(path)["rows"]
        with self.timer("floor"):
            res = reference_floor(
                self.features(REFERENCE_ID, space),
                {s.id: self.features(s.id, space) for s in self.sets if s.role == "generator"},
                splits=splits,
                seed=self.config.seed,
            )
        ext = self.extractors[space]
        rows = [
            {
                "space": space,
                "space_label": ext.label,
                "trained": bool(ext.trained),
                "set": k,
                "role": "reference" if k == REFERENCE_ID else "generator",
                **v,
                "seed": self.config.seed,
            }
            for k, v in res.items()
        ]
        write_json(path, {"space": space, "rows": rows})
        self.rd.mark_done(task_id, key, files=[path])
        return rows

    def floor_table(self) -> pd.DataFrame:
        rows = (
            []
            if self.config.metrics.floor_splits == 0
            else [r for space in self.extractors for r in self.floor(space)]
        )
        return pd.DataFrame(rows, columns=list(FLOOR_COLUMNS))

    def write_tables(self, results: list[dict[str, Any]]) -> list[str]:
        generators = [s.id for s in self.sets if s.role == "generator"]
        metrics = metric_table(results)
        rankings = ranking_table(results, generators, self.spaces, self.settings.ci)
        tau = kendall_tau_table(rankings, generators, self.spaces)
        paired = paired_table(results, generators, self.spaces, self.settings.ci)
        written: list[str] = []
        for name, frame in zip(RANK_TABLES, (metrics, rankings, tau, paired, self.floor_table())):
            written += [p.name for p in write_table(frame, self.rd.tables / name)]
        return written + self.write_explained_tables()

    # ---- the run ---------------------------------------------------------------------------
    def run(self) -> RankResult:
        if self.cache is None:  # not set up yet (run_rank sets up first)
            self.setup()
        self.produce_sets()
        results = [
            self.stats(s, space)
            for s in self.sets
            if s.role == "generator"
            for space in self.extractors
        ]
        if self.scorers:
            for s in self.sets:
                if s.role == "generator":
                    self.explained(s)
        with self.timer("tables"):
            written = self.write_tables(results)
        timing = self.finish_run(written)
        return RankResult(self.rd.root, "complete", timing, dict(self.work))


def run_rank(
    config: RankConfig,
    out: str | Path,
    *,
    device: str | None = None,
    batch_size: int | None = None,
    progress: bool = True,
    force: bool = False,
    components: Components | None = None,
    log: Log = print,
    executor: str | None = None,
    command: list[str] | None = None,
) -> RankResult:
    """Run (or resume) a rank run into the run directory `out` (`executor`: "local" or "ray",
    default the config's `[executor] kind`; `command`: the command line, recorded in the
    manifest for the report's provenance)."""
    result = run_engine(
        EXECUTORS,
        RankResult,
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
    if result.status == "already complete":
        return result
    if command:
        RunDir(out).update_manifest(command=list(command))
    log_completion(result, log, "rank run")
    return result
