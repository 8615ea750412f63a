"""Quantile vs threshold labelling on real MobileStyleGAN faces: w codes + parsing scores.

    python experiments/rare_labelling.py --faces DIR [--generator mobilestylegan-ffhq:256]

DIR holds seedNNNN.png faces of the generator (psi 1); their w codes are recomputed from the
seeds (mapping only, cheap). Every scorer is fitted with the quantile rule and with its
declared rule (`scorer_labelling`); prints counts, held-out balanced accuracy and AUC, or
the rule's error. Results depend on the split: with a few hundred faces a rare attribute
has a handful of held-out positives.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from counterfactual.interventions.directions import LearnSettings, fit_boundary, scorer_labelling
from extractors.scorers import load_scorer
from generators import load_generator

SCORERS = ("hat", "eyeglasses", "smile", "skin_tone", "bangs", "hair_length")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--faces", type=Path, required=True)
    ap.add_argument("--generator", default="mobilestylegan-ffhq:256")
    args = ap.parse_args()
    files = sorted(args.faces.glob("seed*.png"))
    seeds = [int(re.findall(r"\d+", f.stem)[0]) for f in files]
    images = torch.stack(
        [torch.from_numpy(np.array(Image.open(f).convert("RGB"))).permute(2, 0, 1) for f in files]
    )
    gen = load_generator(args.generator)
    with torch.no_grad():
        ws = gen.mapping(gen.latents(seeds), truncation_psi=1.0)
    codes = (ws[:, 0] if ws.ndim == 3 else ws).double().numpy()
    print(f"{len(seeds)} faces, w codes {codes.shape}")
    for name in SCORERS:
        scores = load_scorer(name)(images)
        rules = {"quantile": None}
        declared = scorer_labelling(name)
        if declared:
            rules[declared["rule"]] = declared
        for label, rule in rules.items():
            try:
                _, _, st = fit_boundary(
                    codes, scores, LearnSettings(labelling=rule or {"rule": "quantile"})
                )
            except ValueError as exc:
                print(f"{name:12s} {label:9s} fails: {str(exc)[:110]}")
                continue
            print(
                f"{name:12s} {label:9s} neg {st['n_negative']:4d} pos {st['n_positive']:4d} "
                f"held-out pos {st['n_held_out_positive']:3d}  balanced acc "
                f"{st['held_out_balanced_accuracy']:.3f}  AUC {st['held_out_auc']:.3f}  "
                f"(share of scores at 0: {np.mean(scores == 0):.2f})"
            )


if __name__ == "__main__":
    main()
