"""Images/s of each feature space per execution backend, with the ratio to eager PyTorch.

    python experiments/bench/bench_extractors.py --spaces inception-fid,random-inception \
        --n 32 --batch 16 --backends torch,torch-channels-last,onnx

Spaces without trained weights run on random weights (labelled untrained, same cost).
Each backend's ratio is to eager fp32 PyTorch measured in the same run on the same images.
One warm-up batch per backend is excluded; ONNX export time is reported separately (it
happens once per weights file and is then cached).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import extractors  # noqa: E402


def bench_one(
    space: str, backend: str | None, images: torch.Tensor, batch: int, device: str
) -> dict:
    """Time one space; backend None = the space's only (native) backend."""
    options = {} if backend is None else {"backend": backend}
    t0 = time.perf_counter()
    ext = extractors.load_extractor(space, device=device, allow_untrained=True, **options)
    load_s = time.perf_counter() - t0
    ext(images[:batch], batch_size=batch)  # warm-up
    t0 = time.perf_counter()
    ext(images, batch_size=batch)
    run_s = time.perf_counter() - t0
    return {
        "space": space,
        "label": ext.label,
        "backend": ext.preprocessing.get("backend") or "native",
        "requested": backend,
        "n": len(images),
        "batch": batch,
        "load_s": round(load_s, 2),
        "images_per_s": round(len(images) / run_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--spaces", default="inception-fid,random-inception")
    ap.add_argument("--backends", default="torch,torch-channels-last,onnx")
    ap.add_argument("--n", type=int, default=32, help="images timed per space and backend")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=128, help="input resolution (square)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--threads", type=int, default=None, help="torch/ORT threads (default: torch's)"
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(
        0, 256, (args.n, 3, args.size, args.size), dtype=torch.uint8, generator=gen
    )
    rows = []
    print(
        f"threads={torch.get_num_threads()} n={args.n} batch={args.batch} size={args.size} device={args.device}"
    )
    print(f"{'space':34s} {'backend':20s} {'img/s':>8s} {'x eager':>8s} {'load s':>7s}")
    for space in args.spaces.split(","):
        eager = None
        for backend in args.backends.split(","):
            try:
                try:
                    row = bench_one(space, backend, images, args.batch, args.device)
                except TypeError as exc:
                    if "backend" not in str(exc):
                        raise
                    # ONNX-only spaces (arcface, attribute nets): one native run, no eager ratio.
                    row = bench_one(space, None, images, args.batch, args.device)
                    row["backend"] = f"{row['backend']} (only)"
                    rows.append(row)
                    print(
                        f"{row['label']:34s} {row['backend']:20s} {row['images_per_s']:8.2f} {'-':>8s} {row['load_s']:7.1f}"
                    )
                    break
            except Exception as exc:  # noqa: BLE001 (report and go on)
                print(f"{space:34s} {backend:20s} failed: {exc}")
                continue
            if row["backend"] == "torch" and eager is None:
                eager = row["images_per_s"]
            row["ratio_to_eager"] = round(row["images_per_s"] / eager, 2) if eager else None
            rows.append(row)
            ratio = f"{row['ratio_to_eager']:.2f}" if row["ratio_to_eager"] else "-"
            print(
                f"{row['label']:34s} {row['backend']:20s} {row['images_per_s']:8.2f} {ratio:>8s} {row['load_s']:7.1f}"
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
