"""The Ray executor: a sweep's or rank run's image work as shard tasks on a Ray cluster.

The driver (this process) builds the plan exactly as the local executor does, prepares the
interventions (learned directions, calibration), then cuts the seeds into shards of
`[executor] shard_size`. Each shard task runs in one of `workers` Ray actors
(`counterfactual.sweep.shards.ShardWorker`: the generator, extractors and scorers stay loaded
between tasks; `gpus_per_worker` > 0 gives each actor its GPUs and runs it on CUDA): it
generates the base images of its seeds and every twin set from them, extracts every pending
feature space and scores what verification (or the explained FD) needs, and returns the
arrays. The driver stores each finished shard (RUN_DIR/shards, atomically), concatenates the
shards in seed order, writes the feature cache and the task markers, and computes statistics
and tables with the local code. So:

- answers equal the local executor's (features are per-image functions; tables to rounding,
  bitwise where the features are bitwise);
- only the driver writes the run directory: a worker that dies mid-task is restarted and its
  task retried by Ray (`max_restarts`, `max_task_retries`), and cannot leave a duplicate or
  half-written cache entry; a killed driver resumes from the cache and the stored shards;
- the run directory needs to be readable by the driver only (features travel back to it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from counterfactual.config import ConfigError, ExecutorConfig, SpaceConfig
from counterfactual.foundation.hashing import content_hash
from counterfactual.rank.engine import RankExecutor
from counterfactual.sweep.executor import LocalExecutor
from counterfactual.sweep.plan import BASE, Plan, set_names
from counterfactual.sweep.shards import (
    ShardJob,
    ShardResult,
    ShardStore,
    ShardWorker,
    concat,
    shard_seeds,
)

# Ray restarts a dead actor and retries its task this many times.
MAX_RETRIES = 3
# Seconds to wait for a TCP connection to a cluster address before giving up (ray.init itself
# keeps retrying an unreachable address for minutes).
CONNECT_TIMEOUT_S = 5.0


class ExecutorError(ConfigError):
    """The executor cannot run (Ray missing, cluster unreachable)."""


def connect(config: ExecutorConfig) -> Any:
    """The `ray` module, connected to `config.address` (or a fresh local instance)."""
    try:
        import ray
    except ImportError:
        raise ExecutorError(
            "the ray executor needs Ray: pip install 'counterfactual-fd[ray]'"
        ) from None
    if ray.is_initialized():
        return ray
    if config.address:
        _check_reachable(config.address)
    try:
        if config.address:
            ray.init(address=config.address, log_to_driver=False)
        else:
            ray.init(
                num_cpus=max(1, int(np.ceil(config.workers * config.cpus_per_worker))),
                include_dashboard=False,
                log_to_driver=False,
            )
    except Exception as exc:  # ConnectionError, RuntimeError, ValueError, ray's own errors
        where = repr(config.address) if config.address else "a new local instance"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExecutorError(f"cannot reach the Ray cluster at {where}: {first}") from None
    return ray


def _check_reachable(address: str) -> None:
    """ExecutorError naming the address when HOST:PORT (or ray://HOST:PORT) takes no TCP
    connection; "auto" (and other forms) are left to ray.init."""
    import socket

    hostport = address.split("://", 1)[-1]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        return
    try:
        socket.create_connection(
            (host or "127.0.0.1", int(port)), timeout=CONNECT_TIMEOUT_S
        ).close()
    except OSError as exc:
        raise ExecutorError(
            f"cannot reach the Ray cluster at {address!r}: {exc.strerror or exc} "
            "(start it with `ray start --head`, or fix [executor] address)"
        ) from None


# The live actors of this driver, by what they were built with: later runs in the same process
# (a sweep then a rank run, a benchmark, the tests) reuse them with their models loaded. One
# set at a time: a new set first releases the old one's CPUs and GPUs.
_ACTORS: dict[tuple[str, str], list[Any]] = {}


class RayPool:
    """`workers` ShardWorker actors; `run(jobs)` returns every job's ShardResult by job index,
    handing each finished one to `on_result` as it arrives."""

    def __init__(
        self,
        config: ExecutorConfig,
        components: Any,
        device: str,
        spaces: dict[str, SpaceConfig],
        check_finite: bool,
        log: Callable[[str], None],
    ) -> None:
        self.config, self.log = config, log
        self.ray = connect(config)
        gpus = float(config.gpus_per_worker)
        self.device = "cuda" if gpus > 0 else device
        self.args = (components, self.device, spaces, check_finite)

    def run(
        self, jobs: list[ShardJob], on_result: Callable[[ShardJob, ShardResult], None]
    ) -> dict[int, ShardResult]:
        ray = self.ray
        if not jobs:
            return {}
        actors = self.actors()[: len(jobs)]
        pending = {actors[i % len(actors)].run.remote(job): job for i, job in enumerate(jobs)}
        out: dict[int, ShardResult] = {}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                job = pending.pop(ref)
                out[job.index] = ray.get(ref)
                on_result(job, out[job.index])
        return out

    def actors(self) -> list[Any]:
        """This driver's actors for these components and options (created once)."""
        ray, cfg = self.ray, self.config
        built = repr((self.args, cfg.workers, cfg.cpus_per_worker, cfg.gpus_per_worker))
        key = (ray.get_runtime_context().get_job_id(), built)
        if key not in _ACTORS:
            for old in _ACTORS.values():
                for a in old:
                    ray.kill(a)
            _ACTORS.clear()
            actor = ray.remote(ShardWorker).options(
                num_cpus=cfg.cpus_per_worker,
                num_gpus=cfg.gpus_per_worker,
                max_restarts=MAX_RETRIES,
                max_task_retries=MAX_RETRIES,
            )
            _ACTORS[key] = [actor.remote(*self.args) for _ in range(cfg.workers)]
        return _ACTORS[key]


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


class ShardedRuns:
    """What the Ray sweep and rank executors share: the pool, the shard store, the jobs."""

    comps: Any
    config: Any
    rd: Any
    log: Callable[[str], None]
    timer: Any
    work: Any

    def pool(self) -> RayPool:
        spaces = {s.name: s for s in self.config.spaces}
        return RayPool(
            self.config.executor,
            self.comps,
            self.config.device,
            spaces,
            getattr(self, "check_finite", True),
            self.log,
        )

    def run_jobs(self, jobs: list[tuple[str, ShardJob]]) -> dict[int, ShardResult]:
        """Run (key, job) pairs; stored results of an earlier, killed driver are reused."""
        store = ShardStore(self.rd.shards)
        results: dict[int, ShardResult] = {}
        todo = []
        for key, job in jobs:
            cached = store.get(key, job.index)
            if cached is not None:
                results[job.index] = cached
            else:
                todo.append((key, job))
        keys = {job.index: key for key, job in todo}
        self.log(
            f"ray: {len(todo)} shard task(s) on {self.config.executor.workers} worker(s)"
            + (f", {len(results)} reused from {store.root}" if results else "")
        )

        def keep(job: ShardJob, res: ShardResult) -> None:
            store.put(keys[job.index], res)
            self.work["images_generated"] += res.images_generated
            self.work["feature_passes"] += res.feature_passes

        t0 = time.perf_counter()
        if todo:
            results.update(self.pool().run([job for _, job in todo], keep))
        self.timer.totals["distributed"] += time.perf_counter() - t0
        return results


def _job_key(job: ShardJob, identities: dict[str, Any]) -> str:
    return content_hash(
        {
            "seeds": list(job.seeds),
            "spec": job.spec,
            "options": job.options,
            "source": job.source,
            "generation": job.generation,
            "batch": job.batch_size,
            "sets": {s: identities[s] for s in job.sets()},
            "spaces": job.spaces,
            "scorers": job.scorers,
            "identity": job.identity,
            "sample": job.sample,
            "scoring": job.scoring,
        }
    )


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
            jobs.append((_job_key(job, self.plan.set_identities), job))
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


class RayRankExecutor(ShardedRuns, RankExecutor):
    """A rank run whose image phase (every set) runs as shard tasks on Ray."""

    def produce_sets(self) -> None:
        from counterfactual.rank.sets import check_seeds_available

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
                jobs.append((_job_key(job, self.identities), job))
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
