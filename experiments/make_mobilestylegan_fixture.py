"""Make the reference fixture of MobileStyleGAN outputs with OpenVINO's own execution.

Run in a scratch environment that has `openvino` and `numpy` (not the project's):

    python -m venv /tmp/ov && /tmp/ov/bin/pip install openvino==2026.4.1 numpy
    /tmp/ov/bin/python experiments/make_mobilestylegan_fixture.py \
        --data DIR_WITH_IR_FILES --out tests/data/mobilestylegan/openvino_reference.npz

DIR_WITH_IR_FILES is `random_face/data` of the `random-face==2021.7.21.1` wheel. For seeds
0..7 it records z (NVIDIA's RandomState convention), OpenVINO's w, the w average over the
project's w-average seeds, and OpenVINO's images at psi 1 and 0.5 (truncation in w around that
average). The images are kept as float32 samples: two strided grids (phase 0 and 9, stride 16)
and a 32x32 centre crop per image, plus float64 per-channel means and standard deviations of
the whole image, so the fixture stays small yet catches layout, parity and global errors.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
import openvino as ov

SEEDS = list(range(8))
PSIS = (1.0, 0.5)
W_AVG_SEEDS = range(10_000)  # must equal generators.mobilestylegan.W_AVG_SEEDS


def samples(img: np.ndarray) -> dict[str, np.ndarray]:
    """The stored views of one [3, H, W] float image."""
    h, w = img.shape[1:]
    c = (h // 2 - 16, w // 2 - 16)
    return {
        "grid0": img[:, ::16, ::16],
        "grid9": img[:, 9::16, 9::16],
        "centre": img[:, c[0] : c[0] + 32, c[1] : c[1] + 32],
        "mean": img.astype(np.float64).mean(axis=(1, 2)),
        "std": img.astype(np.float64).std(axis=(1, 2)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    core = ov.Core()
    nets = {
        name: core.compile_model(
            core.read_model(args.data / f"{name}.xml", args.data / f"{name}.bin"),
            "CPU",
            {"INFERENCE_PRECISION_HINT": "f32"},
        )
        for name in ("MappingNetwork", "SynthesisNetwork")
    }

    def mapping(z: np.ndarray) -> np.ndarray:
        return nets["MappingNetwork"]({"var": z[None].astype(np.float32)})[0][0]

    w_avg = np.mean(
        [mapping(np.random.RandomState(s).randn(512)) for s in W_AVG_SEEDS],
        axis=0,
        dtype=np.float64,
    )
    out: dict[str, np.ndarray] = {"seeds": np.array(SEEDS), "psis": np.array(PSIS), "w_avg": w_avg}
    z = np.stack([np.random.RandomState(s).randn(512) for s in SEEDS]).astype(np.float32)
    w = np.stack([mapping(v) for v in z])
    out.update(z=z, w=w)
    for psi in PSIS:
        wt = (w_avg + psi * (w - w_avg)).astype(np.float32) if psi != 1 else w
        views: dict[str, list[np.ndarray]] = {}
        for row in wt:
            img = nets["SynthesisNetwork"]({"style": row[None]})[0][0]
            for key, value in samples(img).items():
                views.setdefault(key, []).append(value)
        for key, value in views.items():
            out[f"psi{psi}_{key}"] = np.stack(value)
        out[f"psi{psi}_w"] = wt
    for name in ("MappingNetwork", "SynthesisNetwork"):
        out[f"{name}_bin_sha256"] = np.array(
            hashlib.sha256((args.data / f"{name}.bin").read_bytes()).hexdigest()
        )
    out["openvino_version"] = np.array(ov.get_version())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
