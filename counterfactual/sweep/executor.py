"""Local executor: runs a sweep plan on the CPU or one CUDA device, resumably.

Each image set (the base faces, then each intervention's twins) is generated once, kept in
memory and fed to every feature space; the features are cached per (set, space) in
RUN_DIR/features. The base set is also saved (RUN_DIR/sets/base/images.npy) because every twin
set is made from it. Statistics read cached features only. Every finished task leaves a marker
holding its content key, so a killed run resumes where it stopped, finished sets are neither
regenerated nor re-extracted, and re-running a finished run does nothing.

Feature extraction uses each extractor's own batch size (`default_batch_size`), so features and
tables do not depend on the generation `batch_size`.

Built on the shared feature engine (`counterfactual.engine`); the verification tasks are
`counterfactual.sweep.verification`, the Ray variant `counterfactual.sweep.ray_executor`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from counterfactual.config import SweepConfig
from counterfactual.engine.components import Components
from counterfactual.engine.features import FeatureEngine, Log, cache_holds, log_skipped
from counterfactual.engine.runner import RunResult, log_completion, run_engine
from counterfactual.foundation.files import read_json, save_npy, write_json
from counterfactual.foundation.hashing import content_hash
from counterfactual.run.directory import RunDir
from counterfactual.sweep import dose as dose_mod
from counterfactual.sweep.plan import BASE, Plan, Task, build_plan, set_names
from counterfactual.sweep.region import region_rows
from counterfactual.sweep.tables import write_tables
from counterfactual.sweep.verification import SweepVerification

# [executor] kind -> the class that runs a sweep ("module:Class", `counterfactual.engine.choice`)
EXECUTORS = {
    "local": "counterfactual.sweep.executor:LocalExecutor",
    "ray": "counterfactual.sweep.ray_executor:RaySweepExecutor",
}


@dataclass
class SweepResult(RunResult):
    """What a sweep invocation did (with the verification flags)."""

    flags: dict[str, list[str]] = field(default_factory=dict)


class LocalExecutor(SweepVerification, FeatureEngine):
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
        timing = self.finish_run(written)
        return SweepResult(self.rd.root, "complete", timing, dict(self.work), self.flags)

    def _drop_twin_features(self, set_name: str) -> None:
        """Twin features are re-read from the cache by the statistics; keep memory flat."""
        if set_name != BASE:
            for key in [k for k in self._features if k[0] == set_name]:
                del self._features[key]


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
        EXECUTORS,
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
    for key, messages in result.flags.items():
        for message in messages:
            log(f"verification flag [{key}]: {message}")
    log_completion(result, log)
    return result
