"""The Ray rank executor: a rank run whose image phase (every set) runs as shard tasks on the
pool of `counterfactual.engine.ray` (its docstring describes the workers, retries and what the
driver alone writes)."""

from __future__ import annotations

import numpy as np
import torch

from counterfactual.engine.ray import ShardedRuns, job_key
from counterfactual.engine.shards import ShardJob, ShardStore, concat, shard_seeds
from counterfactual.rank.engine import RankExecutor
from counterfactual.rank.sets import check_seeds_available


class RayRankExecutor(ShardedRuns, RankExecutor):
    """A rank run whose image phase (every set) runs as shard tasks on Ray."""

    def produce_sets(self) -> None:
        cfg = self.config
        jobs, wanted = [], {}
        for s in self.sets:
            missing, unscored, sample_missing = self.pending_work(s)
            if not missing and not unscored and not sample_missing:
                continue
            check_seeds_available(self.generator(s.spec, s.options), s)
            wanted[s.id] = (s, missing, unscored)
            for i, seeds in enumerate(shard_seeds(list(s.seeds), cfg.executor.shard_size)):
                job = ShardJob(
                    index=len(jobs),
                    spec=s.spec,
                    source=s.id,
                    seeds=seeds,
                    options=dict(s.options),
                    batch_size=cfg.batch_size,
                    generation=s.generation_kwargs(),
                    spaces={s.id: tuple(missing)},
                    scorers={s.id: tuple(unscored)},
                    sample=cfg.sample_images if i == 0 and sample_missing else 0,
                    scoring="explained",
                )
                jobs.append((job_key(job, self.identities), job))
        if not jobs:
            return
        results = self.run_jobs(jobs)
        for set_id, (s, missing, unscored) in wanted.items():
            mine = [results[job.index] for _, job in jobs if job.source == set_id]
            for space in missing:
                self.store_features(set_id, space, concat(mine, "features", (set_id, space)))
            for name in unscored:
                self.store_scores(set_id, name, concat(mine, "scores", (set_id, name)))
                self.work["images_scored"] += len(s.seeds)
            first = min(mine, key=lambda r: r.index)
            if set_id in first.samples:
                self._save_sample(s, torch.from_numpy(np.array(first.samples[set_id])))
        ShardStore(self.rd.shards).clear()
