"""The `counterfactual learn-directions GENERATOR` subcommand (a direction bank)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from counterfactual.interventions.bank import DEFAULT_CHUNK, DEFAULT_SEED_START

DEFAULT_ATTRIBUTES = (
    "gender",
    "age",
    "hair_length",
    "hat",
    "eyeglasses",
    "smile",
    "skin_tone",
    "bangs",
)


def cmd_learn_directions(args: argparse.Namespace) -> int:
    import generators
    from counterfactual.interventions.bank import fit_bank, parse_conditions, sample_bank

    attributes = args.attributes or list(DEFAULT_ATTRIBUTES)
    conditions = parse_conditions(args.condition or [])
    if not args.fit_only:
        generator = generators.load_generator(args.generator, device=args.device)
        sample_bank(
            generator,
            attributes,
            args.out,
            n_samples=args.samples,
            seed_start=args.seed_start,
            chunk=args.chunk,
            batch_size=args.batch_size,
            progress=not args.no_progress,
        )
    summary = fit_bank(
        args.out, attributes, conditions, holdout=args.holdout, classifier=args.classifier
    )
    rows = summary["attributes"]
    print(f"direction bank of {summary['n_samples']} samples in {args.out}")
    print(
        f"{'attribute':<12} {'pos':>5} {'neg':>5} {'bal.acc':>8} {'AUC':>6} {'C':>6}  "
        "conditioned on"
    )
    for name, r in rows.items():
        print(
            f"{name:<12} {r['n_positive']:>5} {r['n_negative']:>5} "
            f"{r['held_out_balanced_accuracy']:>8.3f} {r['held_out_auc']:>6.3f} "
            f"{r['classifier_c']:>6g}  "
            f"{', '.join(r['conditioned_on']) or '-'}"
        )
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    return 0


def add_learn_directions_parser(sub: Any) -> None:
    """Register `learn-directions` on the CLI's subparsers."""
    p = sub.add_parser(
        "learn-directions",
        help="learn a bank of attribute directions (InterFaceGAN) for a generator",
        description="Samples N faces (seeds from --seed-start), scores every attribute on each "
        "(one face analysis per image), then fits one class-balanced linear boundary "
        "per attribute in W with held-out balanced accuracy and AUC. Sampling is saved "
        "in chunks under OUT/samples: rerun the same command to resume, or with a larger "
        "--samples to extend the bank. Writes OUT/<attribute>.npy (+ .json provenance) "
        "and OUT/bank.json.",
    )
    p.add_argument("generator", metavar="GENERATOR", help="generator spec with a W space")
    p.add_argument("--out", required=True, help="bank folder (created; resumable)")
    p.add_argument(
        "--attributes",
        nargs="+",
        default=None,
        metavar="SCORER",
        help=f"attribute scorers (default: {' '.join(DEFAULT_ATTRIBUTES)})",
    )
    p.add_argument("--samples", type=int, default=5000, help="faces sampled (default 5000)")
    p.add_argument(
        "--seed-start",
        type=int,
        default=DEFAULT_SEED_START,
        help=f"first seed (default {DEFAULT_SEED_START}, far from evaluation seeds)",
    )
    p.add_argument(
        "--chunk", type=int, default=DEFAULT_CHUNK, help=f"faces per saved chunk ({DEFAULT_CHUNK})"
    )
    p.add_argument(
        "--condition",
        nargs="+",
        default=None,
        metavar="ATTR:OTHER[,OTHER]",
        help="conditional directions, e.g. hair_length:gender (orthogonal to gender's)",
    )
    p.add_argument(
        "--holdout", type=float, default=0.3, help="held-out share per class (default 0.3)"
    )
    p.add_argument(
        "--classifier",
        choices=("svm-cv", "svm", "logistic"),
        default="svm-cv",
        help="boundary classifier (default svm-cv: a linear SVM whose C is chosen by 5-fold "
        "cross-validation on the training split)",
    )
    p.add_argument(
        "--fit-only",
        action="store_true",
        help="fit from the chunks already sampled in OUT (no generation)",
    )
    p.add_argument("--device", default="cpu", help="'cpu', 'cuda' or 'cuda:N' (default cpu)")
    p.add_argument("--batch-size", type=int, default=16, help="batch size (default 16)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.add_argument("--json", action="store_true", help="also print bank.json")
    p.set_defaults(func=cmd_learn_directions)
