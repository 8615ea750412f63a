"""Edit strength trade-off per attribute: target shift, leakage and identity against strength.

For each attribute of a direction bank and each strength s (in SD of the bank samples'
projections on the direction), edits the same faces w' = w + s * sd * n and measures, against
the unedited faces, in SD of each scorer over the bank's samples (`--samples-dir`, the
population of faces the bank was learned from; without it, SD of the base faces' scores,
which is near 0 for a rare attribute absent from the base faces):
- target shift: mean score change / SD of the target scorer;
- leakage: the largest |mean change| / SD over the other scorers;
- identity: mean ArcFace cosine similarity of each face with its edit.

    python experiments/edit_tradeoff.py --bank generators/mobilestylegan/directions \\
        --strengths 1 2 3 --faces 12 --out runs/edit_tradeoff.csv

With `--level`, each strength is a level edit's `level_sd` instead: every face is moved up to
that many SD above the bank samples' mean projection and no further (faces already there
are unchanged), as `params = { level_sd = ... }` does in a sweep.

Prints a Markdown table (the README's trade-off table) and writes the CSV.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCORERS = ("gender", "age", "hair_length", "hat", "eyeglasses", "smile", "skin_tone", "bangs")


def main() -> int:
    import torch

    import generators
    from counterfactual.interventions.attributes import LatentEdit
    from counterfactual.interventions.directions import score_images
    from extractors.scorers import identity_similarity, load_scorer

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--generator", default="mobilestylegan-ffhq")
    ap.add_argument("--bank", required=True, help="direction bank folder (bank.json)")
    ap.add_argument("--attributes", nargs="+", default=None)
    ap.add_argument("--strengths", nargs="+", type=float, default=[1.0, 2.0, 3.0])
    ap.add_argument("--faces", type=int, default=12)
    ap.add_argument(
        "--level", action="store_true", help="strengths are level edits' level_sd (per face)"
    )
    ap.add_argument("--seed-start", type=int, default=1_000_000)
    ap.add_argument("--out", default="runs/edit_tradeoff.csv")
    ap.add_argument(
        "--samples-dir",
        default=None,
        help="the bank's sampling folder (learn-directions --out): score SDs over its faces",
    )
    args = ap.parse_args()

    gen = generators.load_generator(args.generator)
    bank = Path(args.bank)
    attributes = args.attributes or [a for a in SCORERS if (bank / f"{a}.npy").is_file()]
    scorers = {name: load_scorer(name) for name in SCORERS}
    seeds = list(range(args.seed_start, args.seed_start + args.faces))
    z = gen.latents(seeds)
    with torch.no_grad():
        w = gen.mapping(z)[:, 0]
    base = gen.images(w, space="w", progress=True)
    base_scores = {n: score_images(s, base) for n, s in scorers.items()}
    sd = {n: float(np.nanstd(v, ddof=1)) for n, v in base_scores.items()}
    if args.samples_dir:
        from counterfactual.interventions.bank import load_samples

        population = load_samples(args.samples_dir).scores
        sd = {n: float(np.nanstd(population[n], ddof=1)) for n in sd}
    workdir = Path(tempfile.mkdtemp(prefix="edit_tradeoff-"))
    strength = "level_sd" if args.level else "strength_sd"
    rows = []
    for attr in attributes:
        for s in args.strengths:
            # the sweep's own edit: the same unit, level and per-face steps as a config's
            edit = LatentEdit(attr, direction=bank / f"{attr}.npy", **{strength: s})
            edit.prepare(gen, workdir)
            twins = edit.counterfactual(gen, seeds, base, progress=True)
            shifts = {
                name: float(np.nanmean(score_images(sc, twins) - base_scores[name])) / sd[name]
                for name, sc in scorers.items()
            }
            others = {k: v for k, v in shifts.items() if k != attr}
            worst = max(others, key=lambda k: abs(others[k]))
            rows.append(
                {
                    "attribute": attr,
                    "strength_sd": s,
                    "mode": "level" if args.level else "step",
                    "alpha": edit.alpha,
                    "target_shift_sd": shifts[attr],
                    "max_leakage_sd": abs(others[worst]),
                    "leakage_scorer": worst,
                    "identity": float(np.nanmean(identity_similarity(base, twins))),
                    **{f"shift_{k}": v for k, v in shifts.items()},
                }
            )
            r = rows[-1]
            print(
                f"{attr:<12} s={s:<4} target {r['target_shift_sd']:+.2f} SD  "
                f"leak {r['max_leakage_sd']:.2f} ({worst})  identity {r['identity']:.2f}",
                flush=True,
            )
    table = pd.DataFrame(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    unit = "SD over the bank's samples" if args.samples_dir else "SD of the base faces"
    print(
        f"\n{args.faces} faces (seeds {args.seed_start}..), {args.generator}, bank {bank}; {unit}\n"
    )
    print(
        "| attribute | strength (SD) | target shift (SD) | largest leakage (SD, scorer) | identity |"
    )
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['attribute']} | {r['strength_sd']:g} | {r['target_shift_sd']:+.2f} | "
            f"{r['max_leakage_sd']:.2f} ({r['leakage_scorer']}) | {r['identity']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
