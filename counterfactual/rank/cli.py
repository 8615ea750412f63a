"""The `counterfactual rank CONFIG --out RUN_DIR` subcommand."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cmd_rank(args: argparse.Namespace) -> int:
    from counterfactual.cli_common import require_device
    from counterfactual.rank.config import load_rank_config

    config = load_rank_config(Path(args.config))  # a bad config fails before torch is imported
    if args.device is None:
        require_device(config.device, f"key 'device' in {args.config}:")
    from counterfactual.rank.engine import run_rank

    run_rank(
        config,
        args.out,
        device=args.device,
        batch_size=args.batch_size,
        progress=not args.no_progress,
        force=args.force,
        executor=args.executor,
        command=["counterfactual", *getattr(args, "argv", ["rank", args.config])],
    )
    return 0


def add_rank_parser(sub: Any, run_options: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register `rank` on the CLI's subparsers (`run_options` adds --out, --device, ...)."""
    p = sub.add_parser(
        "rank",
        help="rank generators against a reference set in every feature space",
        description="Generate each set once, extract features in every space, and "
        "write FD / KID / precision-recall / density-coverage with "
        "bootstrap CIs, rankings, Kendall tau between spaces and rank "
        "stability to RUN_DIR/tables.",
    )
    p.add_argument("config", metavar="CONFIG", help="rank config (TOML)")
    run_options(p)
    p.set_defaults(func=cmd_rank)
