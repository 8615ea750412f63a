"""Benchmark: a small real sweep; time split and forward passes against the naive protocol.

    .venv/bin/python experiments/bench/bench_sweep.py [--seeds 64] [--pairs 48] [--spaces ...]

The naive protocol regenerates and re-extracts the N base + N twin images of every
(intervention, delta, draw); the sweep engine generates each set once (base + one twin set per
intervention) and extracts it once per space, then re-uses the cached features for every delta
and draw.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from counterfactual.config import validate_config
from counterfactual.engine.timer import format_timing
from counterfactual.sweep import run_sweep


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--generator", default="dcgan-digiface", help="generator spec")
    ap.add_argument("--seeds", type=int, default=64, help="base faces (M)")
    ap.add_argument("--pairs", type=int, default=48, help="pairs per draw (N, even)")
    ap.add_argument("--draws", type=int, default=10, help="draws per delta")
    ap.add_argument(
        "--spaces",
        nargs="+",
        default=["gender-classifier", "arcface"],
        help="feature spaces (untrained ones are allowed)",
    )
    ap.add_argument(
        "--interventions",
        nargs="+",
        default=["truncation", "blur:all"],
        help="intervention names (default parameters)",
    )
    ap.add_argument("--out", default=None, help="run directory (default: a temporary one)")
    args = ap.parse_args()

    config = validate_config(
        {
            "name": "bench",
            "generator": args.generator,
            "seeds": {"count": args.seeds},
            "spaces": [{"name": s, "allow_untrained": True} for s in args.spaces],
            "interventions": [{"name": n} for n in args.interventions],
            "pairs_per_draw": args.pairs,
            "draws": args.draws,
            "batch_size": 32,
            "verification": {"enabled": False},
            "sample_images": 0,
        },
        source="bench_sweep",
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or Path(tmp) / "run")
        t0 = time.perf_counter()
        result = run_sweep(config, out, progress=False, force=True, log=lambda s: None)
        wall = time.perf_counter() - t0

    m, n, s = args.seeds, args.pairs, len(args.spaces)
    n_iv, k, d = len(args.interventions), len(config.deltas), args.draws
    gen_ours = result.work.get("images_generated", 0)
    ext_ours = result.work.get("feature_passes", 0)
    gen_naive = n_iv * k * d * 2 * n
    ext_naive = gen_naive * s
    timing = result.timing
    print(
        f"sweep: {1 + n_iv} image sets x {m} faces, {s} spaces, {k} deltas x {d} draws of {n} pairs "
        f"({n_iv * s * k * d} FD evaluations); wall {wall:.1f} s"
    )
    print(format_timing(timing))
    print(
        f"statistics share: {100 * timing['statistics'] / max(timing['total'], 1e-9):.2f}% of the total"
    )
    print(
        f"generator forward passes: {gen_ours} (naive {gen_naive}: {gen_naive / max(gen_ours, 1):.0f}x)"
    )
    print(
        f"extractor forward passes: {ext_ours} (naive {ext_naive}: {ext_naive / max(ext_ours, 1):.0f}x)"
    )


if __name__ == "__main__":
    main()
