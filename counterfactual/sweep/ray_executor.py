"""The Ray sweep executor: a sweep whose image phase runs as shard tasks on Ray.

The driver builds the plan and prepares the interventions as the local executor does, then
hands the seeds, cut into shards, to the pool of `counterfactual.engine.ray` (its docstring
describes the workers, retries and what the driver alone writes); verification runs on the
driver from the scores the workers return.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from counterfactual.engine.ray import ShardedRuns, job_key
from counterfactual.engine.shards import ShardJob, ShardStore, concat, shard_seeds
from counterfactual.sweep.executor import LocalExecutor
from counterfactual.sweep.plan import BASE, Plan, set_names


class _SetRef:
    """Stands in for an image set on the driver: its length, and its name for the scorers."""

    def __init__(self, name: str, n: int) -> None:
        self.name, self.n = name, n

    def __len__(self) -> int:
        return self.n


class _Scores:
    """A scorer whose scores were computed by the workers: looked up by set."""

    def __init__(self, by_set: dict[str, np.ndarray]) -> None:
        self.by_set = by_set

    def __call__(self, images: _SetRef) -> np.ndarray:
        return self.by_set[images.name]


class _Pairs:
    """An identity similarity computed by the workers (one value per pair)."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def __call__(self, base: Any, twin: Any) -> np.ndarray:
        return self.values


class RaySweepExecutor(ShardedRuns, LocalExecutor):
    """A sweep whose image phase runs as shard tasks on Ray (module docstring)."""

    def produce_sets(self, plan: Plan) -> None:
        cfg = self.config
        extract: dict[str, tuple[str, ...]] = {}
        verify: list[str] = []
        for set_name in set_names(cfg):
            todo = [t for t in plan.consumers(f"generate/{set_name}") if self.pending(t)]
            spaces = tuple(t.params["space"] for t in todo if t.kind == "extract")
            if spaces:
                extract[set_name] = spaces
            if any(t.kind == "verify" and t.params["intervention"] == set_name for t in todo):
                verify.append(set_name)
        if not extract and not verify:
            return
        twins = {
            k: self.prepare_intervention(k)
            for k in set_names(cfg)[1:]
            if k in extract or k in verify
        }
        scorer_names = tuple(self._load_scorers()) if verify else ()
        identity = bool(verify) and self._identity() is not None
        scored = {s: scorer_names for s in [BASE, *verify]} if scorer_names else {}
        jobs = []
        for i, seeds in enumerate(shard_seeds(self.seeds, cfg.executor.shard_size)):
            job = ShardJob(
                index=i,
                spec=cfg.generator.spec,
                source=BASE,
                seeds=seeds,
                options=cfg.generator.loader_options(),
                batch_size=cfg.batch_size,
                twins=twins,
                spaces=extract,
                scorers=scored,
                identity=tuple(verify) if identity else (),
                sample=cfg.sample_images if i == 0 else 0,
            )
            jobs.append((job_key(job, self.plan.set_identities), job))
        results = list(self.run_jobs(jobs).values())
        for set_name, spaces in extract.items():
            for space in spaces:
                feats = concat(results, "features", (set_name, space))
                self.store_features(set_name, space, feats)
                task = self.plan[f"extract/{set_name}/{space}"]
                self.rd.mark_done(task.id, task.key, shape=list(feats.shape))
        first = min(results, key=lambda r: r.index)
        for set_name, sample in first.samples.items():
            self._save_sample(set_name, torch.from_numpy(np.array(sample)))
        for set_name in {BASE, *twins}:
            task = self.plan[f"generate/{set_name}"]
            self.rd.mark_done(task.id, task.key, n=len(self.seeds), persisted=False)
        n = len(self.seeds)
        for key in verify:
            scorers = {
                name: _Scores({s: concat(results, "scores", (s, name)) for s in (BASE, key)})
                for name in scorer_names
            }
            pairs = _Pairs(concat(results, "identity", key)) if identity else None
            self.verify(
                self.plan[f"verify/{key}"],
                _SetRef(key, n),
                base=_SetRef(BASE, n),
                scorers=scorers,
                identity=pairs,
            )
        ShardStore(self.rd.shards).clear()
