"""Generator throughput: the embedded DCGAN against StyleGAN2 in the FFHQ configuration.

    python experiments/bench/bench_generators.py [--device cpu --device cuda] [--batch 8]
        [--repeats 3] [--sizes 256,1024] [--skip-stylegan] [--json out.json]
        [--batched-sizes 256,1024] [--batched-batch 4] [--batched-repeats 1] [--skip-batched]

DCGAN: real DigiFace weights through `Generator.images` (uint8 out, as the pipeline uses it).
StyleGAN2: `generators.stylegan2.StyleGAN2Generator` with NVIDIA's FFHQ kwargs (z_dim 512,
w_dim 512, 8 mapping layers, channel_base 32768, channel_max 512, conv_clamp 256), random
weights, forward(z, c=None, truncation_psi=1, noise_mode="const"), float output. Each figure
is batch / median seconds per batch over `repeats` timed batches after one warm-up batch;
the ratio is StyleGAN2 images/s divided by DCGAN images/s on the same device in this run
(the DCGAN reference is timed before and after the StyleGAN2 runs and pooled; a warning is
printed when the two differ by more than 20%, i.e. when the machine's load changed).
Random-init networks produce denormals that are very slow on CPU, so flush-to-zero is on
unless --keep-denormals is given (the setting is printed).

Batched vs one at a time: `StyleGAN2Faces.images` (z -> uint8, the pipeline's call) on the same
random-weight FFHQ network with `batched=True` (one grouped convolution per layer over the
batch) and `batched=False` (one image at a time), `--batched-batch` images per call; the ratio
is batched img/s over one-at-a-time img/s, and the largest uint8 difference between the two
outputs is printed.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from generators import load_generator  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_batches(fn: Callable[[], Any], device: torch.device, repeats: int) -> list[float]:
    """Seconds per call: one untimed warm-up call, then `repeats` timed calls."""
    fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return times


def bench_dcgan(device: torch.device, batch: int, repeats: int) -> dict[str, Any]:
    gen = load_generator("dcgan-digiface", device=str(device))
    z = gen.latents(range(batch))
    times = time_batches(lambda: gen.images(z, batch_size=batch), device, repeats)
    return {
        "model": "dcgan-digiface",
        "resolution": gen.resolution,
        "times_s": times,
        "images_per_s": batch / statistics.median(times),
    }


def ffhq_kwargs(resolution: int) -> dict[str, Any]:
    """NVIDIA Generator init kwargs for the FFHQ configuration at `resolution`."""
    return dict(
        z_dim=512,
        c_dim=0,
        w_dim=512,
        img_resolution=resolution,
        img_channels=3,
        mapping_kwargs=dict(num_layers=8),
        synthesis_kwargs=dict(channel_base=32768, channel_max=512, num_fp16_res=0, conv_clamp=256),
    )


def bench_stylegan2(
    cls: type, device: torch.device, resolution: int, batch: int, repeats: int
) -> dict[str, Any]:
    torch.manual_seed(0)
    net = cls(**ffhq_kwargs(resolution)).eval().requires_grad_(False).to(device)
    z = torch.randn(batch, 512, generator=torch.Generator().manual_seed(1)).to(device)

    def run() -> torch.Tensor:
        with torch.no_grad():
            return net(z, None, truncation_psi=1, noise_mode="const")

    out = run()
    if tuple(out.shape) != (batch, 3, resolution, resolution):
        raise RuntimeError(
            f"StyleGAN2 output shape {tuple(out.shape)}, expected "
            f"{(batch, 3, resolution, resolution)}"
        )
    times = time_batches(run, device, repeats)
    return {
        "model": f"stylegan2-ffhq-{resolution} (untrained)",
        "resolution": resolution,
        "times_s": times,
        "images_per_s": batch / statistics.median(times),
    }


def bench_batched(
    cls: type, device: torch.device, resolution: int, batch: int, repeats: int
) -> list[dict[str, Any]]:
    """`StyleGAN2Faces.images` batched vs one image at a time (same network, same z)."""
    from generators.stylegan2 import StyleGAN2Faces

    torch.manual_seed(0)
    net = cls(**ffhq_kwargs(resolution)).eval().requires_grad_(False)
    z = torch.randn(batch, 512, generator=torch.Generator().manual_seed(1))
    rows, outputs = [], {}
    for batched in (True, False):
        faces = StyleGAN2Faces(net, device=device, batched=batched)
        times = time_batches(
            lambda b=batched, f=faces: outputs.__setitem__(b, f.images(z, batch_size=batch)),
            device,
            repeats,
        )
        rows.append(
            {
                "model": f"stylegan2-ffhq-{resolution} (untrained) "
                f"{'batched' if batched else 'one-at-a-time'}",
                "resolution": resolution,
                "batched": batched,
                "times_s": times,
                "images_per_s": batch / statistics.median(times),
            }
        )
    diff = (outputs[True].int() - outputs[False].int()).abs()
    rows[0].update(
        batched_over_single=rows[0]["images_per_s"] / rows[1]["images_per_s"],
        max_uint8_diff=int(diff.max()),
        frac_within_1=float((diff <= 1).float().mean()),
    )
    return rows


def _import_stylegan2() -> tuple[type | None, str]:
    try:
        from generators.stylegan2 import StyleGAN2Generator
    except Exception as exc:  # the module may be absent or broken; report, don't crash
        return None, f"{type(exc).__name__}: {exc}"
    return StyleGAN2Generator, ""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--device", action="append", help="repeatable; default: cpu, plus cuda when available"
    )
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--sizes", default="256,1024", help="StyleGAN2 resolutions, comma-separated")
    p.add_argument("--skip-stylegan", action="store_true")
    p.add_argument(
        "--batched-sizes",
        default=None,
        help="resolutions of the batched vs one-at-a-time comparison (default --sizes)",
    )
    p.add_argument(
        "--batched-batch", type=int, default=4, help="images per call in that comparison"
    )
    p.add_argument("--batched-repeats", type=int, default=1)
    p.add_argument("--skip-batched", action="store_true")
    p.add_argument("--keep-denormals", action="store_true")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    flush = not args.keep_denormals
    torch.set_flush_denormal(flush)

    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads, batch {args.batch}, repeats {args.repeats}, "
        f"flush_denormal={flush}"
    )
    sg_cls, sg_error = (
        (None, "skipped (--skip-stylegan)") if args.skip_stylegan else _import_stylegan2()
    )
    results: list[dict[str, Any]] = []
    for name in devices:
        device = torch.device(name)
        ref = bench_dcgan(device, args.batch, args.repeats)
        rows = [ref]
        if sg_cls is not None:
            rows += [bench_stylegan2(sg_cls, device, r, args.batch, args.repeats) for r in sizes]
            # the machine may be shared: re-measure the reference and pool both measurements
            after = bench_dcgan(device, args.batch, args.repeats)
            before_ips = ref["images_per_s"]
            ref["times_s"] = ref["times_s"] + after["times_s"]
            ref["images_per_s"] = args.batch / statistics.median(ref["times_s"])
            drift = abs(after["images_per_s"] / before_ips - 1)
            if drift > 0.2:
                print(
                    f"warning: DCGAN reference moved {drift:.0%} during the run "
                    f"({before_ips:.1f} -> {after['images_per_s']:.1f} img/s): load changed, "
                    "ratios are approximate"
                )
        for row in rows:
            row.update(
                device=str(device),
                batch=args.batch,
                ratio_to_dcgan=row["images_per_s"] / ref["images_per_s"],
            )
            print(
                f"{str(device):6s} {row['model']:34s} {row['resolution']:5d}px "
                f"{row['images_per_s']:10.3f} img/s  ratio to DCGAN {row['ratio_to_dcgan']:.2e}"
            )
        results += rows
        if sg_cls is not None and not args.skip_batched:
            for res in [int(x) for x in (args.batched_sizes or args.sizes).split(",") if x.strip()]:
                pair = bench_batched(sg_cls, device, res, args.batched_batch, args.batched_repeats)
                for row in pair:
                    row.update(device=str(device), batch=args.batched_batch)
                    print(f"{str(device):6s} {row['model']:48s} {row['images_per_s']:10.3f} img/s")
                b = pair[0]
                print(
                    f"{str(device):6s} stylegan2 {res}px batched / one-at-a-time: "
                    f"{b['batched_over_single']:.2f}x (batch {args.batched_batch}; uint8 max diff "
                    f"{b['max_uint8_diff']}, {100 * b['frac_within_1']:.3f}% within 1 level)"
                )
                results += pair
    if sg_cls is None:
        print(f"StyleGAN2 not benchmarked: {sg_error}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"flush_denormal": flush, "stylegan2_error": sg_error, "results": results}, indent=2
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
