"""The `counterfactual report RUN_DIR` subcommand."""

from __future__ import annotations

import argparse
from typing import Any


def cmd_report(args: argparse.Namespace) -> int:
    from counterfactual.report.build import build_report

    path = build_report(
        args.run_dir,
        out=args.out,
        n_boot=args.n_boot,
        permutations=args.permutations,
        seed=args.seed,
        distances=args.distances,
        claims_files=args.claims,
        maps=args.maps,
        command=["counterfactual", *getattr(args, "argv", ["report", args.run_dir])],
    )
    print(f"report written to {path}")
    return 0


def _distances(text: str) -> tuple[str, ...]:
    from counterfactual.analysis.distances import DISTANCES, check_distances

    names = list(DISTANCES) if text.strip().lower() == "all" else text.split(",")
    try:
        return check_distances(names)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _maps(text: str) -> str | None:
    from counterfactual.analysis.embedding import check_method

    if text.strip().lower() == "none":
        return None
    try:
        return check_method(text.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_report_parser(sub: Any) -> None:
    """Register `report` on the CLI's subparsers."""
    p = sub.add_parser(
        "report",
        help="build the self-contained HTML report of a run directory",
        description="Reads a sweep or rank run directory and writes one "
        "self-contained RUN_DIR/report.html (images and plots "
        "embedded) plus the analysis tables in RUN_DIR/report_tables.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished sweep or rank run directory")
    p.add_argument(
        "--out",
        default=None,
        metavar="FILE",
        help="HTML file to write (default RUN_DIR/report.html)",
    )
    p.add_argument(
        "--n-boot",
        type=int,
        default=2000,
        metavar="N",
        help="bootstrap replicates of the descriptive bands over the sweep's draws (default 2000)",
    )
    p.add_argument(
        "--permutations",
        type=int,
        default=0,
        metavar="N",
        help="within-pair swap permutations per attribute x space test (default 0: "
        "the smallest count at which Holm over all the run's tests can reach "
        "alpha = 0.05 with a factor 2 to spare, 2 m / alpha - 1)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the analysis (default 0)")
    p.add_argument(
        "--distances",
        type=_distances,
        default=("fd",),
        metavar="D,D,...",
        help="distances of the effects tables, comma-separated, from fd, kid, cmmd, "
        "mmd, precision, recall, density, coverage (default fd; fd always runs; "
        "'all' for every one)",
    )
    p.add_argument(
        "--claims",
        action="append",
        default=[],
        metavar="FILE",
        help="a TOML file of claims to test besides the reference study's built-in ones "
        "(the form of counterfactual/analysis/claims.toml); repeatable",
    )
    p.add_argument(
        "--maps",
        type=_maps,
        default="pacmap",
        metavar="METHOD",
        help="embedding maps of the features: pacmap (default; seeded with --seed), pca, or "
        "none (no maps); without the pacmap package the report says why there is no map",
    )
    p.set_defaults(func=cmd_report)
