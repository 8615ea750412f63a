"""Command-line interface: `counterfactual <command> ...` (also `python -m counterfactual`).

sweep CONFIG --out RUN_DIR   run or resume a counterfactual sweep
demo --out RUN_DIR           the demo sweep (experiments/demo.toml)
spaces                       feature spaces and whether trained weights were found
fd A B --space NAME          Fréchet distance between two generators or sample folders
rank CONFIG --out RUN_DIR    rank generators against a reference set (counterfactual.rank)
report RUN_DIR               build RUN_DIR/report.html (counterfactual.report)
attention RUN_DIR            add FD attention maps to a finished sweep (counterfactual.attention)
--version                    the project's version (and git commit in a checkout)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

from counterfactual import errors
from counterfactual.cli_common import CLIError, require_device

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "experiments" / "demo.toml"
QUICK_CONFIG = DEMO_CONFIG.with_name("quick.toml")
EXIT_USAGE = errors.EXIT_BAD_INPUT
# Where the sources and licences of every space's weights are documented.
WEIGHTS_DOC = 'README.md (table "Feature spaces and weights")'


# ---- commands -------------------------------------------------------------------------
def _run_config(config_path: Path, args: argparse.Namespace) -> int:
    from counterfactual.config import load_config

    config = load_config(config_path)  # a bad config fails before torch is imported
    if args.device is None:
        require_device(config.device, f"key 'device' in {config_path}:")
    from counterfactual.sweep import run_sweep

    run_sweep(
        config,
        args.out,
        device=args.device,
        batch_size=args.batch_size,
        progress=not args.no_progress,
        force=args.force,
        executor=args.executor,
    )
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    return _run_config(Path(args.config), args)


def cmd_demo(args: argparse.Namespace) -> int:
    config = QUICK_CONFIG if args.quick else DEMO_CONFIG
    if not config.is_file():
        raise CLIError(f"demo config not found at {config} (run from a source checkout)")
    return _run_config(config, args)


def _missing_file(name: str) -> str:
    """The weight file space `name` looks for, from the error its loader raises without it."""
    import re

    from extractors import load_extractor
    from extractors.runtime.weights import MissingWeightsError

    try:
        load_extractor(name)
    except MissingWeightsError as exc:
        text = str(exc)
        file = re.search(r"Missing weights: (\S+)", text)
        source = re.search(r"normally obtained from: (.*?)\.(?: |$)", text)
        if file:
            return file.group(1) + (f" (from {source.group(1)})" if source else "")
        return text.splitlines()[0] if text else f"see {WEIGHTS_DOC}"
    except Exception as exc:  # noqa: BLE001  (a hint must never break the listing)
        return f"cannot tell ({type(exc).__name__}: {exc}); see {WEIGHTS_DOC}"
    return "found after all"


def _weights_hint(rows: list[dict]) -> list[str]:
    """Which file each space without trained weights needs, and how to supply it."""
    from extractors.runtime.weights import WEIGHTS_ENV

    missing = [
        r["name"]
        for r in rows
        if r.get("trained_weights_found") is False and not r.get("random_weights")
    ]
    if not missing:
        return []
    lines = [
        "",
        "Missing trained weights (without them a space runs only with "
        "allow_untrained = true, labelled untrained):",
    ]
    lines += [f"  {name}: {_missing_file(name)}" for name in missing]
    lines.append(
        f"Put the file in a directory and `export {WEIGHTS_ENV}=/that/dir` (several "
        "directories: ':'-separated), or set the space's `weights = \"PATH\"` in the "
        f"config. See {WEIGHTS_DOC} for sources and licences."
    )
    return lines


def cmd_spaces(args: argparse.Namespace) -> int:
    import extractors

    rows = extractors.available()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows) if rows else 4
    print(f"{'space':<{width}}  {'trained weights':<20} description")
    for r in rows:
        found = r["trained_weights_found"]
        if r.get("variant"):
            status = "as <space>"
        elif r.get("random_weights"):
            status = "none (untrained)"
        else:
            status = "found" if found else ("-" if found is None else "missing (untrained)")
        print(f"{r['name']:<{width}}  {status:<20} {r['description']}")
    for line in _weights_hint(rows):
        print(line)
    return 0


def cmd_fd(args: argparse.Namespace) -> int:
    """`counterfactual fd`: `counterfactual.api.fd` with the result printed."""
    import warnings

    from counterfactual import api
    from counterfactual.metrics import RankDeficientCovarianceWarning
    from generators import as_spec

    start_b = args.seed_start if args.seed_start_b is None else args.seed_start_b
    try:
        with warnings.catch_warnings():  # said below, as a note
            warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
            r = api.fd(
                args.a,
                args.b,
                space=args.space,
                n=args.n,
                seed_start=args.seed_start,
                seed_start_b=args.seed_start_b,
                device=args.device,
                batch_size=args.batch_size,
                allow_untrained=args.allow_untrained,
                skip_bad=args.skip_bad,
                min_size=args.min_size,
                align=args.align,
                progress=not args.no_progress,
            )
    except errors.ParameterError as exc:
        raise CLIError(f"--{exc.param.replace('_', '-')} {exc.value}: {exc.reason}") from None
    if as_spec(args.a) == as_spec(args.b) and args.seed_start == start_b:
        print(
            "note: A and B are the same source with the same seeds, so the FD is 0 by "
            "construction; pass --seed-start-b for an independent second sample",
            file=sys.stderr,
        )
    for note in r.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(
            json.dumps(
                {
                    "a": args.a,
                    "b": args.b,
                    **r.as_dict(),
                    "align": args.align,
                    "seed_start_a": args.seed_start,
                    "seed_start_b": start_b,
                },
                indent=2,
            )
        )
        return 0
    print(
        f"FD[{r.space_label}]({args.a}, {args.b}) = {r.value:.6g}  "
        f"(mean term {r.mean_term:.6g}, trace term {r.trace_term:.6g}; "
        f"n = {r.n_a} vs {r.n_b})"
    )
    if not r.trained:
        print(f"note: {r.space} uses random weights (untrained)")
    if r.rank_deficient:
        print(
            f"note: a covariance is rank-deficient (n = {min(r.n_a, r.n_b)}, "
            f"dim = {r.result.dim}: too few images, or constant features); compare FDs only "
            "at equal n"
        )
    return 0


# ---- parser -----------------------------------------------------------------------------
def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        required=True,
        metavar="RUN_DIR",
        help="run directory (created; an interrupted run there is resumed)",
    )
    p.add_argument(
        "--device", default=None, help="'cpu', 'cuda' or 'cuda:N' (overrides the config's device)"
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        metavar="N",
        help="generation batch size (overrides the config; results do not depend on it)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.add_argument(
        "--executor",
        choices=("local", "ray"),
        default=None,
        help="where the image work runs (overrides [executor] kind; results do not "
        "depend on it): this process, or shard tasks on a Ray cluster",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="run even if RUN_DIR holds a different config or is complete "
        "(finished tasks whose inputs did not change are kept)",
    )


EXAMPLES = """examples:
  counterfactual demo --out runs/demo             # the demo sweep (about 6 min on 2 CPU cores)
  counterfactual report runs/demo                 # -> runs/demo/report.html
  counterfactual attention runs/demo              # FD attention maps (then report again)
  counterfactual sweep my.toml --out runs/mine    # your own sweep (see experiments/demo.toml)
  counterfactual spaces                           # which feature spaces have trained weights
  counterfactual fd dcgan-digiface folder:/data/faces --space inception-fid --n 500
  counterfactual rank experiments/rank_demo.toml --out runs/rank_demo
"""


class _VersionAction(argparse.Action):
    """`--version`: asks git for the commit only when the option is given."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS) -> None:
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            default=argparse.SUPPRESS,
            help="show the version (and the git commit in a checkout) and exit",
        )

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from counterfactual.version import version_string

        print(version_string())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="counterfactual",
        description="Counterfactual attribute sensitivity of Fréchet distances on face images.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "sweep",
        help="run or resume a counterfactual sweep from a TOML config",
        description="Generate matched base/twin sets, extract features in every "
        "space, and write dose-response, region and verification tables.",
    )
    p.add_argument("config", metavar="CONFIG", help="sweep config (TOML)")
    _run_options(p)
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser(
        "demo",
        help="run the demo sweep (experiments/demo.toml; --quick: experiments/quick.toml)",
        description=f"Runs the demo config {DEMO_CONFIG}: the reference study's "
        "protocol on MobileStyleGAN-FFHQ faces (attribute edits along the shipped "
        "direction bank, truncation, the study's region blurs) in the four trained "
        "spaces. --quick runs the 64-px DCGAN smoke config instead "
        f"({QUICK_CONFIG}). Copy either file to start your own sweep "
        "(`counterfactual sweep COPY.toml --out RUN_DIR`).",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="the DCGAN smoke sweep (experiments/quick.toml, a few minutes)",
    )
    _run_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("spaces", help="list feature spaces and whether trained weights were found")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_spaces)

    p = sub.add_parser(
        "fd",
        help="Fréchet distance between two generators or sample folders",
        description="A and B are generator specs (dcgan-digiface, "
        "stylegan2:/path.pkl, folder:/path) or paths to a folder/.zip.",
    )
    p.add_argument("a", metavar="A", help="generator spec, or a folder/.zip of images")
    p.add_argument("b", metavar="B", help="generator spec, or a folder/.zip of images")
    p.add_argument("--space", required=True, help="feature space (see `counterfactual spaces`)")
    p.add_argument(
        "--n",
        type=int,
        default=1000,
        help="images per side (folders: at most their file count; default 1000)",
    )
    p.add_argument(
        "--seed-start",
        type=int,
        default=0,
        help="first seed (for folders: the first file index; default 0)",
    )
    p.add_argument(
        "--seed-start-b",
        type=int,
        default=None,
        help="first seed of B if it differs from A's (use it when A and B are the same "
        "generator, so the two sets are independent samples; default: --seed-start)",
    )
    p.add_argument(
        "--allow-untrained",
        action="store_true",
        help="allow a feature space with random weights (labelled untrained)",
    )
    p.add_argument(
        "--skip-bad",
        action="store_true",
        help="folders: leave out files that fail to decode or are below --min-size "
        "(seed numbers stay those of the sorted file list)",
    )
    p.add_argument(
        "--align",
        choices=("celeba", "ffhq"),
        default=None,
        help="frame every face of both sides from detected landmarks: 'celeba' "
        "(img_align_celeba, edge padding) or 'ffhq' (FFHQ's crop, reflect+blur "
        "padding); folders: faceless files are refused (or skipped with "
        "--skip-bad); default: unaligned",
    )
    p.add_argument(
        "--min-size",
        type=int,
        default=None,
        metavar="PX",
        help="folders: refuse images whose shorter side is below PX pixels "
        "(default: generators.folder.DEFAULT_MIN_SIZE, 8; 1 accepts any)",
    )
    p.add_argument("--device", default="cpu", help="'cpu', 'cuda' or 'cuda:N' (default cpu)")
    p.add_argument("--batch-size", type=int, default=16, help="batch size (default 16)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_fd)

    from counterfactual.attention.cli import add_attention_parser
    from counterfactual.interventions.bank_cli import add_learn_directions_parser
    from counterfactual.rank.cli import add_rank_parser
    from counterfactual.report.cli import add_report_parser

    add_rank_parser(sub, _run_options)
    add_report_parser(sub)
    add_attention_parser(sub)
    add_learn_directions_parser(sub)
    return parser


@contextlib.contextmanager
def one_line_warnings() -> Iterator[None]:
    """Warnings shown while a command runs are one "warning: ..." line each, without the file,
    line number and source line Python's default format adds (the message says it all)."""
    previous = warnings.formatwarning
    warnings.formatwarning = lambda message, *_, **__: f"warning: {message}\n"
    try:
        yield
    finally:
        warnings.formatwarning = previous


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `counterfactual` console script. Every failure the user can act on
    is one "error: ..." line and an exit code (`counterfactual.errors`); bugs keep their
    traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    out = getattr(args, "out", None)
    try:
        require_device(getattr(args, "device", None), "--device")
        with one_line_warnings():
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return errors.EXIT_INTERRUPTED
    except Exception as exc:
        code = errors.exit_code(exc)
        if code is None:
            raise
        print(f"error: {errors.message(exc, context=out)}", file=sys.stderr)
        return code
