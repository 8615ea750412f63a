"""The `counterfactual attention RUN_DIR` subcommand."""

from __future__ import annotations

import argparse
from typing import Any

from .engine import DEFAULT_N


def cmd_attention(args: argparse.Namespace) -> int:
    from counterfactual.attention.engine import run_attention

    run_attention(
        args.run_dir,
        spaces=args.spaces or None,
        n=args.n,
        device=args.device,
        batch_size=args.batch_size,
        progress=not args.no_progress,
        force=args.force,
    )
    return 0


def add_attention_parser(sub: Any) -> None:
    """Register `attention` on the CLI's subparsers."""
    p = sub.add_parser(
        "attention",
        help="add FD attention maps (Grad-CAM of FD) per intervention x space to a "
        "finished sweep run",
        description="Where in the face each space's FD looks, per intervention: the Grad-CAM map "
        "of FD(reference, twins) with respect to each twin image, and as a control "
        "of FD(reference, base faces) with respect to each base face, averaged over "
        "faces, with the share of heat in each face-parsing region. Writes "
        "RUN_DIR/attention/ and RUN_DIR/report_tables/attention.csv; run `report` "
        "afterwards to show them. Only the maps need the images again: the twins of "
        "the mapped faces are regenerated (features come from the run's cache).",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished sweep run directory")
    p.add_argument(
        "--spaces",
        nargs="+",
        default=None,
        metavar="SPACE",
        help="spaces to map (default: every space of the run that has a map; "
        "inception-fid and random-inception have one)",
    )
    p.add_argument(
        "--n",
        type=int,
        default=DEFAULT_N,
        help=f"faces mapped (from the second half of the run's seeds; the first half "
        f"is the reference set; default {DEFAULT_N})",
    )
    p.add_argument("--device", default="cpu", help="'cpu', 'cuda' or 'cuda:N' (default cpu)")
    p.add_argument(
        "--batch-size",
        type=int,
        default=16,
        metavar="N",
        help="images per network pass (results do not depend on it; default 16)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.add_argument("--force", action="store_true", help="recompute maps that are up to date")
    p.set_defaults(func=cmd_attention)
