"""The Ray executor: a sweep's or rank run's image work as shard tasks on a Ray cluster.

What the Ray sweep executor (`counterfactual.sweep.ray_executor`) and the Ray rank executor
(`counterfactual.rank.ray_executor`) share: the connection, the pool of actors and the shard
jobs with their stored results (`ShardedRuns`).

The driver (this process) builds the plan exactly as the local executor does, prepares the
interventions (learned directions, calibration), then cuts the seeds into shards of
`[executor] shard_size`. Each shard task runs in one of `workers` Ray actors
(`counterfactual.engine.shards.ShardWorker`: the generator, extractors and scorers stay loaded
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

from counterfactual.config import ConfigError, ExecutorConfig, SpaceConfig
from counterfactual.engine.shards import ShardJob, ShardResult, ShardStore, ShardWorker
from counterfactual.foundation.hashing import content_hash

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


def job_key(job: ShardJob, identities: dict[str, Any]) -> str:
    """The content key of a shard job (its stored result is reused under it)."""
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
