#!/usr/bin/env python
"""Peak RSS of a whole sweep, against a bare `import torch` measured in the same run.

    nice python experiments/bench/bench_sweep_memory.py [CONFIG] [--faces N] [--samples M]
        [--target-gb 3] [--keep DIR]

CONFIG defaults to experiments/quick.toml (the DCGAN smoke sweep, ~7 min on 2 cores). `--faces`
replaces the config's seed count (pairs_per_draw is capped at it) and `--samples` every learned
direction's `n_samples`, through a copy of the config in a temporary folder; the run directory
is temporary too (`--keep DIR` writes it there instead). Each measurement is its own child
process, and its peak RSS is that child's own `ru_maxrss` (`os.wait4`, the figure
`/usr/bin/time -v` prints as "Maximum resident set size"). Printed: the reference (a child that
only imports torch), the sweep's peak, their ratio, and whether the peak is under --target-gb
(exit status 1 if not).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from counterfactual.toml_writer import to_toml  # noqa: E402

DEMO = ROOT / "experiments" / "quick.toml"
TARGET_GB = 3.0


def child_peak_rss_mb(
    cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None
) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of one child process; raises if it fails."""
    t0 = time.perf_counter()
    with open(log or os.devnull, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        tail = log.read_text()[-3000:] if log else ""
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}\n{tail}")
    return usage.ru_maxrss / 1024, time.perf_counter() - t0  # KiB on Linux


def reference_rss_mb() -> float:
    """Peak RSS of a child that only imports torch (the floor of any sweep)."""
    return child_peak_rss_mb([sys.executable, "-c", "import torch"])[0]


def scaled_config(
    config: dict[str, Any], faces: int | None = None, samples: int | None = None
) -> dict[str, Any]:
    """A copy of a sweep config with `faces` seeds and `samples` direction-learning samples."""
    out = dict(config)
    if faces is not None:
        out["seeds"] = {**config.get("seeds", {}), "count": int(faces)}
        out["pairs_per_draw"] = min(int(config["pairs_per_draw"]), int(faces))
    if samples is not None:
        out["interventions"] = [
            {**iv, "params": {**iv["params"], "n_samples": int(samples)}}
            if "n_samples" in iv.get("params", {})
            else iv
            for iv in config["interventions"]
        ]
    return out


def sweep_peak_rss_mb(
    config: dict[str, Any], folder: Path, out: Path | None = None
) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of `counterfactual sweep` on `config` in a child."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(to_toml(config))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    cmd = [
        sys.executable,
        "-m",
        "counterfactual",
        "sweep",
        str(path),
        "--out",
        str(out or folder / "run"),
        "--no-progress",
    ]
    return child_peak_rss_mb(cmd, env=env, log=folder / "sweep.log")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("config", nargs="?", type=Path, default=DEMO)
    p.add_argument("--faces", type=int, default=None, help="seed count (default: the config's)")
    p.add_argument(
        "--samples",
        type=int,
        default=None,
        help="direction-learning samples per learned edit (default: the config's)",
    )
    p.add_argument("--target-gb", type=float, default=TARGET_GB)
    p.add_argument("--keep", type=Path, default=None, help="run directory to keep")
    args = p.parse_args(argv)

    config = scaled_config(tomllib.loads(args.config.read_text()), args.faces, args.samples)
    ref = reference_rss_mb()
    with tempfile.TemporaryDirectory(prefix="bench_sweep_memory_") as tmp:
        peak, secs = sweep_peak_rss_mb(config, Path(tmp), args.keep)
    learned = sorted(
        {
            iv["params"]["n_samples"]
            for iv in config["interventions"]
            if "n_samples" in iv.get("params", {})
        }
    )
    print(
        f"config {args.config.name}: {config['seeds']['count']} faces, "
        f"direction-learning samples {learned or '-'}; sweep {secs:.0f} s"
    )
    print(f"reference (child importing torch) peak RSS {ref:8.0f} MB")
    print(f"sweep peak RSS                       {peak:8.0f} MB  ({peak / 1024:.2f} GB)")
    print(f"ratio sweep / reference              {peak / ref:8.2f}")
    ok = peak <= args.target_gb * 1024
    print(f"target <= {args.target_gb:g} GB: {'ok' if ok else 'OVER TARGET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
