"""MobileStyleGAN-FFHQ throughput at 1024 px: our module (ONNX Runtime and eager PyTorch)
against OpenVINO's own execution of the released IR, on this machine, in this run.

    python experiments/bench/bench_mobilestylegan.py [--images 6] [--threads 2]
        [--openvino-python /path/to/python-with-openvino] [--json out.json]

OpenVINO is not a dependency of the project: it is timed in the current interpreter when
`import openvino` works, else in a child process of `--openvino-python` (a scratch venv with
`pip install openvino==2026.4.1 numpy`); without either only our backends are timed.
Each backend synthesises the same `--images` faces one at a time (w -> float image, batch 1,
as the CPU pipeline runs) after one warm-up face; the figure is images / total seconds.
OpenVINO is timed before and after ours and pooled (a warning when the two differ by more
than 20%: the machine's load changed). Ratios are ours / OpenVINO. Peak RSS of this process is
printed at the end.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from generators.mobilestylegan.generator import MobileStyleGANGenerator, weight_files  # noqa: E402

OPENVINO_TIMER = textwrap.dedent("""
    import io, json, sys, time
    import numpy as np, openvino as ov
    data, n, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    core = ov.Core()
    cfg = {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"}
    net = core.compile_model(core.read_model(data + "/SynthesisNetwork.xml",
                                             data + "/SynthesisNetwork.bin"), "CPU", cfg)
    ws = np.load(io.BytesIO(sys.stdin.buffer.read()))
    net({"style": ws[:1]})
    t0 = time.perf_counter()
    for i in range(n):
        net({"style": ws[i % len(ws)][None]})
    print(json.dumps({"seconds": time.perf_counter() - t0, "version": ov.get_version()}))
""")


def time_ours(gen: MobileStyleGANGenerator, ws: torch.Tensor, n: int) -> float:
    gen.synthesis(ws[:1])
    t0 = time.perf_counter()
    for i in range(n):
        gen.synthesis(ws[i % len(ws)][None])
    return n / (time.perf_counter() - t0)


def time_openvino(python: str, data: Path, ws: np.ndarray, n: int, threads: int) -> dict[str, Any]:
    import io

    buf = io.BytesIO()
    np.save(buf, ws.astype(np.float32))
    out = subprocess.run(
        [python, "-c", OPENVINO_TIMER, str(data), str(n), str(threads)],
        input=buf.getvalue(),
        capture_output=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"OpenVINO timing failed:\n{out.stderr.decode()[-2000:]}")
    result = json.loads(out.stdout.decode().strip().splitlines()[-1])
    return {"img_per_s": n / result["seconds"], "version": result["version"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--openvino-python", default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = weight_files()["SynthesisNetwork.xml"].parent
    python = args.openvino_python
    if python is None:
        try:
            import openvino  # noqa: F401

            python = sys.executable
        except ImportError:
            print("openvino not importable and no --openvino-python: timing our backends only")
    gens = {b: MobileStyleGANGenerator(backend=b, resolution=1024) for b in ("onnx", "torch")}
    ws = gens["onnx"].mapping(gens["onnx"].latents(range(args.images)))[:, 0]
    results: dict[str, Any] = {"images": args.images, "threads": args.threads}
    ov_runs = []
    if python:
        ov_runs.append(time_openvino(python, data, ws.numpy(), args.images, args.threads))
    for name, gen in gens.items():
        results[name] = time_ours(gen, ws, args.images)
        print(f"ours ({name:5s}): {results[name]:.3f} img/s at 1024 px")
    if python:
        ov_runs.append(time_openvino(python, data, ws.numpy(), args.images, args.threads))
        rates = [r["img_per_s"] for r in ov_runs]
        if max(rates) > 1.2 * min(rates):
            print(
                f"warning: OpenVINO before/after differ ({rates[0]:.3f} vs {rates[1]:.3f} img/s):"
                " the machine's load changed"
            )
        results["openvino"] = float(np.mean(rates))
        results["openvino_version"] = ov_runs[0]["version"]
        print(f"OpenVINO {ov_runs[0]['version']}: {results['openvino']:.3f} img/s (pooled)")
        for name in gens:
            print(f"ratio ours ({name}) / OpenVINO: {results[name] / results['openvino']:.2f}")
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {results['peak_rss_mb']:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
