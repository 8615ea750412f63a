"""Acceptance check of the distortion suite: a vertical flip changes a face space's FD far more
than a 1-pixel shift does.

    python experiments/flip_vs_shift.py [--n 300] [--space arcface] [--generator dcgan-digiface]

Two disjoint sets of n generated faces, A (seeds 0..n-1) and B (seeds n..2n-1). Printed:
FD(A, B) (the sampling floor: no distortion), FD(A, d(B)) for d = flip:vertical and shift
(1 pixel), each minus the floor; and the paired FD(B, d(B)) (same faces) with the ratio
flip / shift of the paired FDs (the excess of a shift is within the floor's sampling noise, so
a ratio of excesses is meaningless).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

DISTORTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "flip:vertical": ("flip:vertical", {}),
    "shift@1": ("shift", {"pixels": 1}),
}


def measure(
    n: int = 300, space: str = "arcface", generator: str = "dcgan-digiface", batch_size: int = 50
) -> dict[str, Any]:
    """FDs of the check (see the module docstring) in `space`, float64."""
    from counterfactual.engine.extract import extract_features
    from counterfactual.interventions import build_intervention
    from counterfactual.metrics.fd import frechet_distance_features
    from extractors import load_extractor
    from generators import load_generator

    gen = load_generator(generator)
    ext = load_extractor(space)
    seeds_a, seeds_b = list(range(n)), list(range(n, 2 * n))
    a = gen.images_for_seeds(seeds_a, batch_size=batch_size)
    b = gen.images_for_seeds(seeds_b, batch_size=batch_size)
    feats = lambda images: extract_features(ext, images).astype(np.float64)  # noqa: E731
    fa, fb = feats(a), feats(b)
    fd = lambda x, y: float(frechet_distance_features(x, y).value)  # noqa: E731
    floor = fd(fa, fb)
    out: dict[str, Any] = {
        "space": ext.label,
        "trained": bool(ext.trained),
        "generator": generator,
        "n": n,
        "fd_floor": floor,
    }
    for label, (name, params) in DISTORTIONS.items():
        fd_ = feats(build_intervention(name, **params).counterfactual(gen, seeds_b, b))
        out[label] = {
            "fd_vs_other_faces": fd(fa, fd_),
            "excess_over_floor": fd(fa, fd_) - floor,
            "fd_paired_same_faces": fd(fb, fd_),
        }
    out["ratio_paired_flip_over_shift"] = (
        out["flip:vertical"]["fd_paired_same_faces"] / out["shift@1"]["fd_paired_same_faces"]
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--space", default="arcface")
    parser.add_argument("--generator", default="dcgan-digiface")
    args = parser.parse_args()
    print(json.dumps(measure(args.n, args.space, args.generator), indent=2))


if __name__ == "__main__":
    main()
