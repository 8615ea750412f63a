#!/usr/bin/env python
"""Memory at scale: rank-run and dose-response statistics on N = 50,000 faces per set, d = 2048.

    nice python experiments/bench/bench_memory.py [--n 50000] [--d 2048] [--n-boot 2]
        [--phases fd,kid,dose,rank,prdc] [--rank-n N] [--knn-n N] [--dir DIR] [--keep]

Synthetic float32 features (a shared low-rank structure plus noise, the generator set shifted
and rescaled, the twins a perturbation of the base set) are written once to memory-mapped
files in DIR (default: a temporary folder; 4 files of N x d x 4 bytes = 1.6 GB at the
defaults), so no extraction is needed. Each phase then runs in its own process, opening the
files with `numpy.memmap`, and prints its wall time and peak RSS (ru_maxrss: file pages of the
maps that were read count too):

    fd     FeatureStats streamed from both maps + frechet_distance, and `bootstrap` of the FD
           over `Rows` index views (--n-boot replicates)
    kid    KID (100 subsets of 1000) and its bootstrap
    dose   `dose_response` on N matched pairs, N per set (every pair in every draw), --deltas
           (default 0, 0.5, 1; one draw each): the sweep's statistics
    rank   `counterfactual.rank.compare.compare` (FD, KID, precision/recall, density/coverage,
           each with --n-boot bootstrap replicates): the rank run's statistics, on the first
           --rank-n rows of each set (default N)
    prdc   `manifold_metrics` (precision/recall k=3, density/coverage k=5; three N x N distance
           passes in float64 tiles) on the first --knn-n rows (default N)

The k-NN metrics cost O(N^2 d): about 3 x 10^13 flops per evaluation at N = 50,000, i.e.
roughly 20 minutes of a 2-core machine, and the rank phase repeats them (1 + n_boot) times;
--rank-n / --knn-n bound those phases' time (the memory bound does not depend on them beyond
the O(N) vectors and the mapped pages). Target: every phase under 4 GB peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SETS = ("reference", "generator", "base", "twin")
PHASES = ("fd", "kid", "dose", "rank", "prdc")
TARGET_GB = 4.0


def write_features(folder: Path, n: int, d: int, seed: int = 0, chunk: int = 4096) -> None:
    """Four float32 [n, d] files: structure z W + noise; generator and twins perturbed."""
    rng = np.random.default_rng(seed)
    rank = 64
    w = rng.standard_normal((rank, d)) / np.sqrt(rank)
    w_gen = w + 0.1 * rng.standard_normal((rank, d)) / np.sqrt(rank)
    shift = 0.05 * rng.standard_normal(d)
    maps = {
        name: np.lib.format.open_memmap(
            folder / f"{name}.npy", mode="w+", dtype=np.float32, shape=(n, d)
        )
        for name in SETS
    }
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        rows = slice(start, start + m)
        maps["reference"][rows] = rng.standard_normal((m, rank)) @ w + 0.5 * rng.standard_normal(
            (m, d)
        )
        maps["generator"][rows] = (
            rng.standard_normal((m, rank)) @ w_gen + 0.55 * rng.standard_normal((m, d)) + shift
        )
        base = rng.standard_normal((m, rank)) @ w + 0.5 * rng.standard_normal((m, d))
        maps["base"][rows] = base
        maps["twin"][rows] = base + 0.2 * rng.standard_normal((m, d)) + shift
    for mm in maps.values():
        mm.flush()
    del maps


def _open(folder: Path, name: str, rows: int | None = None) -> np.ndarray:
    mm = np.load(folder / f"{name}.npy", mmap_mode="r")
    return mm if rows is None else mm[:rows]


def run_phase(phase: str, folder: Path, args: argparse.Namespace) -> dict:
    """One phase in this process: its figures (time and peak RSS are added by the caller)."""
    import warnings

    from counterfactual.metrics import (
        FeatureStats,
        RankDeficientCovarianceWarning,
        Rows,
        bootstrap,
        frechet_distance,
        frechet_distance_features,
        kid,
        manifold_metrics,
    )

    warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
    out: dict = {}
    if phase == "fd":
        ref, gen = _open(folder, "reference"), _open(folder, "generator")
        fd = frechet_distance(FeatureStats.from_features(ref), FeatureStats.from_features(gen))
        boot = bootstrap(
            lambda a, b: frechet_distance_features(a, b).value,
            Rows(ref),
            Rows(gen),
            n_boot=args.n_boot,
            seed=0,
            paired=False,
        )
        out.update(fd=fd.value, fd_boot=[float(v) for v in boot.samples])
    elif phase == "kid":
        ref, gen = _open(folder, "reference"), _open(folder, "generator")
        k = kid(ref, gen)
        boot = bootstrap(
            lambda a, b: kid(a, b).mean,
            Rows(ref),
            Rows(gen),
            n_boot=args.n_boot,
            seed=0,
            paired=False,
        )
        out.update(kid=k.mean, kid_boot=[float(v) for v in boot.samples])
    elif phase == "dose":
        from counterfactual.sweep.dose import dose_response, plan_draws

        base, twin = _open(folder, "base"), _open(folder, "twin")
        deltas = [float(x) for x in args.deltas.split(",")]
        draws = plan_draws(len(base), len(base), deltas, 1, seed=0)
        res = dose_response(base, twin, draws)
        out.update(route=res.route, fd=[float(v) for v in res.fd])
    elif phase == "rank":
        from counterfactual.rank.compare import Settings, compare

        rows = args.rank_n
        settings = Settings(
            n_boot=args.n_boot,
            ci=0.95,
            seed=0,
            pr_k=3,
            dc_k=5,
            kid_subsets=100,
            kid_subset_size=1000,
        )
        res = compare(_open(folder, "reference", rows), _open(folder, "generator", rows), settings)
        out.update(rows=rows or args.n, point=res["point"])
    elif phase == "prdc":
        rows = args.knn_n
        pr, dc = manifold_metrics(
            _open(folder, "reference", rows), _open(folder, "generator", rows)
        )
        out.update(
            rows=rows or args.n,
            precision=pr.precision,
            recall=pr.recall,
            density=dc.density,
            coverage=dc.coverage,
        )
    else:
        raise ValueError(f"unknown phase {phase!r}; allowed: {', '.join(PHASES)}")
    return out


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=50_000, help="faces per set (default 50,000)")
    p.add_argument("--d", type=int, default=2048, help="feature dimension (default 2048)")
    p.add_argument("--n-boot", type=int, default=2, help="bootstrap replicates (default 2)")
    p.add_argument("--phases", default=",".join(PHASES))
    p.add_argument("--rank-n", type=int, default=None, help="rows per set in the rank phase")
    p.add_argument("--knn-n", type=int, default=None, help="rows per set in the prdc phase")
    p.add_argument("--deltas", default="0,0.5,1", help="dose phase: deltas (one draw each)")
    p.add_argument("--dir", type=Path, default=None, help="folder of the feature files")
    p.add_argument("--keep", action="store_true", help="keep the feature files")
    p.add_argument("--phase", help=argparse.SUPPRESS)  # internal: run one phase here
    args = p.parse_args(argv)

    if args.phase:
        t0 = time.perf_counter()
        out = run_phase(args.phase, args.dir, args)
        out.update(phase=args.phase, seconds=time.perf_counter() - t0, peak_rss_gb=_peak_rss_gb())
        print("RESULT " + json.dumps(out))
        return 0

    folder = args.dir or Path(tempfile.mkdtemp(prefix="bench_memory_"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if not all((folder / f"{s}.npy").exists() for s in SETS):
            t0 = time.perf_counter()
            write_features(folder, args.n, args.d)
            print(
                f"wrote 4 x [{args.n}, {args.d}] float32 to {folder} "
                f"in {time.perf_counter() - t0:.1f} s",
                flush=True,
            )
        worst = 0.0
        for phase in [x for x in args.phases.split(",") if x]:
            cmd = [
                sys.executable,
                __file__,
                "--phase",
                phase,
                "--dir",
                str(folder),
                "--n",
                str(args.n),
                "--n-boot",
                str(args.n_boot),
                "--deltas",
                args.deltas,
            ]
            cmd += ["--rank-n", str(args.rank_n)] if args.rank_n else []
            cmd += ["--knn-n", str(args.knn_n)] if args.knn_n else []
            proc = subprocess.run(cmd, capture_output=True, text=True)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode or not lines:
                print(f"{phase}: failed (exit {proc.returncode})\n{proc.stderr[-2000:]}")
                return 1
            res = json.loads(lines[-1][len("RESULT ") :])
            worst = max(worst, res["peak_rss_gb"])
            details = {k: v for k, v in res.items() if k not in ("phase", "seconds", "peak_rss_gb")}
            print(
                f"{phase:5s} {res['seconds']:8.1f} s  peak RSS {res['peak_rss_gb']:.2f} GB  "
                f"{json.dumps(details)}",
                flush=True,
            )
        print(
            f"largest peak RSS {worst:.2f} GB (target < {TARGET_GB:.0f} GB): "
            f"{'ok' if worst < TARGET_GB else 'OVER TARGET'}"
        )
        return 0 if worst < TARGET_GB else 1
    finally:
        if args.dir is None and not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
