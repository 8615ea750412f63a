#!/usr/bin/env python
"""Benchmark: the same small real sweep on the local executor and on Ray with 1 and 2 workers.

    python experiments/bench/bench_executor.py [--seeds 96] [--shard-size 24]
        [--spaces gender-classifier arcface] [--interventions truncation blur:all]

DCGAN-DigiFace base faces (real weights), one twin set per intervention, features in every
space, verification off (as bench_sweep.py). Each executor runs into its own fresh run
directory; the tables are checked equal to the local ones (1e-12 relative). Ray runs on a local
instance started here (`ray.init(num_cpus=2)`, its start-up timed apart); its first run pays
the actors' start-up (process start, imports, model loading) and is reported as "cold", a
second run in new run directories reuses the loaded actors ("warm"). Printed: wall time of
each run, ratio to the local run, and Ray's overhead (Ray wall time minus local wall time).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from counterfactual.config import validate_config  # noqa: E402
from counterfactual.sweep import run_sweep  # noqa: E402


def _config(args: argparse.Namespace, workers: int):
    return validate_config(
        {
            "name": "bench-executor",
            "generator": "dcgan-digiface",
            "seeds": {"count": args.seeds},
            "spaces": [{"name": s, "allow_untrained": True} for s in args.spaces],
            "interventions": [{"name": n} for n in args.interventions],
            "pairs_per_draw": args.pairs,
            "draws": 4,
            "batch_size": 32,
            "verification": {"enabled": False},
            "sample_images": 0,
            "executor": {"workers": workers, "shard_size": args.shard_size},
        },
        source="bench_executor",
    )


def _timed(config, out: Path, executor: str) -> float:
    t0 = time.perf_counter()
    run_sweep(config, out, progress=False, log=lambda s: None, executor=executor)
    return time.perf_counter() - t0


def _same_tables(a: Path, b: Path) -> bool:
    for path in sorted((a / "tables").glob("*.parquet")):
        pd.testing.assert_frame_equal(
            pd.read_parquet(path),
            pd.read_parquet(b / "tables" / path.name),
            check_exact=False,
            rtol=1e-12,
        )
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=96)
    ap.add_argument("--pairs", type=int, default=48)
    ap.add_argument("--shard-size", type=int, default=24)
    ap.add_argument("--spaces", nargs="+", default=["gender-classifier", "arcface"])
    ap.add_argument("--interventions", nargs="+", default=["truncation", "blur:all"])
    args = ap.parse_args()
    import ray

    root = Path(tempfile.mkdtemp(prefix="bench_executor_"))
    local = _timed(_config(args, 1), root / "local", "local")
    print(f"local executor                 {local:7.1f} s")
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    print(f"ray.init (local instance)      {time.perf_counter() - t0:7.1f} s (not counted below)")
    for workers in (1, 2):
        for label in ("cold", "warm"):
            out = root / f"ray{workers}-{label}"
            wall = _timed(_config(args, workers), out, "ray")
            _same_tables(root / "local", out)
            print(
                f"ray, {workers} worker(s), {label:4s}       {wall:7.1f} s  "
                f"ratio to local {wall / local:5.2f}  overhead {wall - local:+6.1f} s  "
                "(tables equal to local)"
            )
    ray.shutdown()
    print(
        f"{args.seeds} seeds x {1 + len(args.interventions)} sets, spaces {', '.join(args.spaces)}, "
        f"shard_size {args.shard_size}; run directories in {root}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
