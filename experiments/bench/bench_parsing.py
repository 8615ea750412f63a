"""Face-parsing throughput per backend x input size, agreement with 512-px eager PyTorch, and
the number of detector / landmark / parser passes per image in a small sweep.

    python experiments/bench/bench_parsing.py --n 16 --sizes 256,384,512 \
        --backends torch,torch-channels-last,onnx

Images: DCGAN-DigiFace faces (64 px, the default generator), seeds 0..n-1. Agreement: the
fraction of pixels whose class (argmax, logits resized bilinearly to 512) equals the class of
512-px eager PyTorch, and the IoU of the hair and hat classes with it. Each row's speed ratio
is to 512-px eager measured in the same run; one warm-up image per configuration is excluded,
ONNX export (once per size, then cached) is reported as load time.

The sweep part runs `counterfactual.sweep.executor` on 24 faces with the arcface and
gender-classifier spaces, a hair-length edit and a parsing-mask blur, the hair_length / hat /
gender scorers, and counts passes per image (`extractors.face.analysis.PASSES`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from extractors.face.parsing import CLASS_INDEX, FaceParser  # noqa: E402


def _labels512(logits: torch.Tensor) -> torch.Tensor:
    if logits.shape[-1] != 512:
        logits = F.interpolate(logits, (512, 512), mode="bilinear", align_corners=False)
    return logits.argmax(1)


def _iou(a: torch.Tensor, b: torch.Tensor, cls: int) -> float:
    inter = ((a == cls) & (b == cls)).sum().item()
    union = ((a == cls) | (b == cls)).sum().item()
    return inter / union if union else float("nan")


def bench_backends(images: torch.Tensor, sizes: list[int], backends: list[str]) -> list[dict]:
    rows, ref = [], None
    configs = [(512, "torch")] + [
        (s, b) for s in sizes for b in backends if (s, b) != (512, "torch")
    ]
    for size, backend in configs:
        t0 = time.perf_counter()
        parser = FaceParser(size=size, backend=backend)
        load_s = time.perf_counter() - t0
        parser.logits(images[:1])
        t0 = time.perf_counter()
        logits = parser.logits(images)
        per_image = (time.perf_counter() - t0) / len(images)
        labels = _labels512(logits)
        if ref is None:
            ref = {"labels": labels, "s": per_image}
        rows.append(
            {
                "size": size,
                "backend": parser.backend,
                "s_per_image": per_image,
                "speedup": ref["s"] / per_image,
                "agreement": float((labels == ref["labels"]).float().mean()),
                "iou_hair": _iou(labels, ref["labels"], CLASS_INDEX["hair"]),
                "iou_hat": _iou(labels, ref["labels"], CLASS_INDEX["hat"]),
                "load_s": load_s,
            }
        )
        r = rows[-1]
        print(
            f"{size:5d} {r['backend']:20s} {r['s_per_image']:8.3f} {r['speedup']:8.2f} "
            f"{r['agreement']:9.4f} {r['iou_hair']:8.3f} {r['iou_hat']:8.3f} {load_s:7.1f}",
            flush=True,
        )
    return rows


def bench_sweep_passes(n: int, n_learn: int = 200) -> dict:
    """Detector / landmark / parser passes per image in a small real sweep."""
    from counterfactual.config import validate_config
    from counterfactual.sweep.executor import run_sweep
    from extractors.face import analysis

    cfg = validate_config(
        {
            "name": "bench-parsing",
            "generator": "dcgan-digiface",
            "seeds": {"start": 0, "count": n},
            "pairs_per_draw": n // 2 * 2,
            "draws": 2,
            "deltas": [0.0, 1.0],
            "sample_images": 0,
            "spaces": ["arcface", "gender-classifier"],
            "interventions": [
                {"name": "hair_length", "params": {"n_samples": n_learn}},
                {"name": "blur:hair", "dose": False},
            ],
            "verification": {"scorers": ["gender", "hair_length", "hat"]},
        }
    )
    analysis.reset_passes()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run_sweep(cfg, Path(tmp) / "run", progress=False, log=lambda m: None)
        wall = time.perf_counter() - t0
    passes = dict(analysis.PASSES)
    images = passes.pop("distinct_images")
    out = {k: v / images for k, v in passes.items()}
    print(
        f"sweep: {images} distinct images (base, twins, direction learning) in {wall:.0f} s; "
        + ", ".join(f"{k} {v:.2f}" for k, v in out.items())
        + " passes per image"
    )
    return {"distinct_images": images, "per_image": out, "wall_s": wall}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=16, help="faces timed per configuration")
    ap.add_argument("--sizes", default="256,384,512")
    ap.add_argument("--backends", default="torch,torch-channels-last,onnx")
    ap.add_argument(
        "--sweep-n", type=int, default=24, help="faces in the pass-count sweep (0: skip)"
    )
    ap.add_argument(
        "--sweep-learn", type=int, default=200, help="direction-learning samples in that sweep"
    )
    ap.add_argument("--sizes-only", action="store_true", help="skip the sweep")
    ap.add_argument("--sweep-only", action="store_true", help="skip the backend x size timing")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from generators import load_generator

    if not args.sweep_only:
        images = load_generator("dcgan-digiface").images_for_seeds(list(range(args.n)))
        print(f"threads={torch.get_num_threads()} n={args.n} DCGAN faces (64 px)")
        print(
            f"{'size':>5s} {'backend':20s} {'s/img':>8s} {'x 512eg':>8s} {'agree512':>9s} "
            f"{'IoU hair':>8s} {'IoU hat':>8s} {'load s':>7s}"
        )
        bench_backends(images, [int(s) for s in args.sizes.split(",")], args.backends.split(","))
    if args.sweep_n and not args.sizes_only:
        bench_sweep_passes(args.sweep_n, args.sweep_learn)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
