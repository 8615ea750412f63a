"""Command-line interface: `counterfactual <command> ...` (also `python -m counterfactual`).

    sweep CONFIG --out RUN_DIR   run or resume a counterfactual sweep
    demo --out RUN_DIR           the demo sweep (experiments/demo.toml)
    spaces                       feature spaces and whether trained weights were found
    fd A B --space NAME          Fréchet distance between two generators or sample folders
    rank CONFIG --out RUN_DIR    rank generators against a reference set (counterfactual.rank)
    report RUN_DIR               build RUN_DIR/report.html (counterfactual.report)
    --version                    the project's version (and git commit in a checkout)
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from counterfactual import errors

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "experiments" / "demo.toml"
EXIT_USAGE = errors.EXIT_BAD_INPUT


class CLIError(errors.UserError):
    """A bad option: printed as one line naming it, exit code 2."""


def require_device(device: str | None, where: str) -> None:
    """CLIError naming `where` (an option or config key) when `device` is CUDA but absent."""
    if not device or not device.startswith("cuda"):
        return
    import torch
    if not torch.cuda.is_available():
        raise CLIError(f"{where} {device}: CUDA is not available on this machine "
                       "(torch.cuda.is_available() is False); use cpu")
    index = device.partition(":")[2]
    if index and int(index) >= torch.cuda.device_count():
        raise CLIError(f"{where} {device}: only {torch.cuda.device_count()} CUDA device(s) exist")


# ---- commands -------------------------------------------------------------------------
def _run_config(config_path: Path, args: argparse.Namespace) -> int:
    from counterfactual.config import load_config
    from counterfactual.sweep import run_sweep
    config = load_config(config_path)
    if args.device is None:
        require_device(config.device, f"key 'device' in {config_path}:")
    run_sweep(config, args.out, device=args.device, batch_size=args.batch_size,
              progress=not args.no_progress, force=args.force, executor=args.executor)
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    return _run_config(Path(args.config), args)


def cmd_demo(args: argparse.Namespace) -> int:
    if not DEMO_CONFIG.is_file():
        raise CLIError(f"demo config not found at {DEMO_CONFIG} (run from a source checkout)")
    return _run_config(DEMO_CONFIG, args)


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
        return text.splitlines()[0] if text else "see WEIGHTS.md"
    except Exception as exc:            # noqa: BLE001  (a hint must never break the listing)
        return f"cannot tell ({type(exc).__name__}: {exc}); see WEIGHTS.md"
    return "found after all"


def _weights_hint(rows: list[dict]) -> list[str]:
    """Which file each space without trained weights needs, and how to supply it."""
    from extractors.runtime.weights import WEIGHTS_ENV
    missing = [r["name"] for r in rows
               if r.get("trained_weights_found") is False and not r.get("random_weights")]
    if not missing:
        return []
    lines = ["", "Missing trained weights (without them a space runs only with "
             "allow_untrained = true, labelled untrained):"]
    lines += [f"  {name}: {_missing_file(name)}" for name in missing]
    lines.append(f"Put the file in a directory and `export {WEIGHTS_ENV}=/that/dir` (several "
                 "directories: ':'-separated), or set the space's `weights = \"PATH\"` in the "
                 "config. See WEIGHTS.md for sources and licences.")
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


def _as_spec(value: str) -> str:
    """A directory or .zip path means "folder:PATH"; anything else is a generator spec."""
    path = Path(value).expanduser()
    if ":" not in value.split("/")[0] and (path.is_dir() or (path.is_file() and path.suffix.lower() == ".zip")):
        return f"folder:{path}"
    return value


def cmd_fd(args: argparse.Namespace) -> int:
    import warnings

    import numpy as np

    from counterfactual.metrics import FeatureStats, RankDeficientCovarianceWarning, frechet_distance
    from extractors import load_extractor
    from generators import load_generator

    starts = (args.seed_start, args.seed_start if args.seed_start_b is None else args.seed_start_b)
    for option, value in (("--seed-start", starts[0]), ("--seed-start-b", starts[1])):
        if value < 0:
            raise CLIError(f"{option} {value}: seeds (file indices for folders) start at 0")
    if args.n < 2:
        raise CLIError(f"--n {args.n}: the FD needs at least 2 images per side")
    if args.batch_size < 1:
        raise CLIError(f"--batch-size {args.batch_size}: must be at least 1")
    if args.min_size is not None and args.min_size < 1:
        raise CLIError(f"--min-size {args.min_size}: must be at least 1")
    extractor = load_extractor(args.space, device=args.device, allow_untrained=args.allow_untrained)
    stats, sizes = [], []
    if _as_spec(args.a) == _as_spec(args.b) and starts[0] == starts[1]:
        print("note: A and B are the same source with the same seeds, so the FD is 0 by construction; "
              "pass --seed-start-b for an independent second sample", file=sys.stderr)
    for value, start in zip((args.a, args.b), starts):
        spec = _as_spec(value)
        folder = {} if spec.partition(":")[0] != "folder" else {
            "skip_bad": args.skip_bad,
            **({} if args.min_size is None else {"min_size": args.min_size})}
        generator = load_generator(spec, device=args.device, **folder)
        n = args.n
        if hasattr(generator, "__len__"):
            n = min(n, len(generator) - start)
            if n < 2:
                raise CLIError(f"{value}: fewer than 2 images from seed {start} "
                               f"(it holds {len(generator)})")
        seeds = list(range(start, start + n))
        images = generator.images_for_seeds(seeds, batch_size=args.batch_size,
                                            progress=not args.no_progress)
        feats = np.asarray(extractor(images, batch_size=args.batch_size))
        stats.append(FeatureStats.from_features(feats, keep_features=True))
        sizes.append(n)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RankDeficientCovarianceWarning)
        result = frechet_distance(stats[0], stats[1])
    out = {"a": args.a, "b": args.b, "space": extractor.name, "space_label": extractor.label,
           "trained": bool(extractor.trained), "n_a": sizes[0], "n_b": sizes[1],
           "seed_start_a": starts[0], "seed_start_b": starts[1],
           "fd": result.value, "mean_term": result.mean_term, "trace_term": result.trace_term,
           "method": result.method}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"FD[{extractor.label}]({args.a}, {args.b}) = {result.value:.6g}  "
          f"(mean term {result.mean_term:.6g}, trace term {result.trace_term:.6g}; "
          f"n = {sizes[0]} vs {sizes[1]})")
    if not extractor.trained:
        print(f"note: {extractor.name} uses random weights (untrained)")
    if any(issubclass(w.category, RankDeficientCovarianceWarning) for w in caught):
        print(f"note: a covariance is rank-deficient (n = {min(sizes)}, dim = {extractor.dim}: too few "
              "images, or constant features); compare FDs only at equal n")
    return 0


# ---- parser -----------------------------------------------------------------------------
def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, metavar="RUN_DIR",
                   help="run directory (created; an interrupted run there is resumed)")
    p.add_argument("--device", default=None,
                   help="'cpu', 'cuda' or 'cuda:N' (overrides the config's device)")
    p.add_argument("--batch-size", type=int, default=None, metavar="N",
                   help="generation batch size (overrides the config; results do not depend on it)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.add_argument("--executor", choices=("local", "ray"), default=None,
                   help="where the image work runs (overrides [executor] kind; results do not "
                        "depend on it): this process, or shard tasks on a Ray cluster")
    p.add_argument("--force", action="store_true",
                   help="run even if RUN_DIR holds a different config or is complete "
                        "(finished tasks whose inputs did not change are kept)")


EXAMPLES = """examples:
  counterfactual demo --out runs/demo             # the demo sweep (about 6 min on 2 CPU cores)
  counterfactual report runs/demo                 # -> runs/demo/report.html
  counterfactual sweep my.toml --out runs/mine    # your own sweep (see experiments/demo.toml)
  counterfactual spaces                           # which feature spaces have trained weights
  counterfactual fd dcgan-digiface folder:/data/faces --space inception-fid --n 500
  counterfactual rank experiments/rank_demo.toml --out runs/rank_demo
"""


def build_parser() -> argparse.ArgumentParser:
    from counterfactual.version import version_string
    parser = argparse.ArgumentParser(
        prog="counterfactual",
        description="Counterfactual attribute sensitivity of Fréchet distances on face images.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=version_string())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("sweep", help="run or resume a counterfactual sweep from a TOML config",
                       description="Generate matched base/twin sets, extract features in every "
                                   "space, and write dose-response, region and verification tables.")
    p.add_argument("config", metavar="CONFIG", help="sweep config (TOML)")
    _run_options(p)
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("demo", help="run the demo sweep (experiments/demo.toml)",
                       description=f"Runs the demo config {DEMO_CONFIG}: the DCGAN face "
                                   "generator, four feature spaces, attribute edits and region "
                                   "blurs. Copy that file to start your own sweep "
                                   "(`counterfactual sweep COPY.toml --out RUN_DIR`).")
    _run_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("spaces", help="list feature spaces and whether trained weights were found")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_spaces)

    p = sub.add_parser("fd", help="Fréchet distance between two generators or sample folders",
                       description="A and B are generator specs (dcgan-digiface, "
                                   "stylegan2:/path.pkl, folder:/path) or paths to a folder/.zip.")
    p.add_argument("a", metavar="A", help="generator spec, or a folder/.zip of images")
    p.add_argument("b", metavar="B", help="generator spec, or a folder/.zip of images")
    p.add_argument("--space", required=True, help="feature space (see `counterfactual spaces`)")
    p.add_argument("--n", type=int, default=1000,
                   help="images per side (folders: at most their file count; default 1000)")
    p.add_argument("--seed-start", type=int, default=0,
                   help="first seed (for folders: the first file index; default 0)")
    p.add_argument("--seed-start-b", type=int, default=None,
                   help="first seed of B if it differs from A's (use it when A and B are the same "
                        "generator, so the two sets are independent samples; default: --seed-start)")
    p.add_argument("--allow-untrained", action="store_true",
                   help="allow a feature space with random weights (labelled untrained)")
    p.add_argument("--skip-bad", action="store_true",
                   help="folders: leave out files that fail to decode or are below --min-size "
                        "(seed numbers stay those of the sorted file list)")
    p.add_argument("--min-size", type=int, default=None, metavar="PX",
                   help="folders: refuse images whose shorter side is below PX pixels "
                        "(default: generators.folder.DEFAULT_MIN_SIZE, 8; 1 accepts any)")
    p.add_argument("--device", default="cpu", help="'cpu', 'cuda' or 'cuda:N' (default cpu)")
    p.add_argument("--batch-size", type=int, default=16, help="batch size (default 16)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_fd)

    from counterfactual.rank.cli import add_rank_parser
    from counterfactual.report.cli import add_report_parser
    add_rank_parser(sub, _run_options)
    add_report_parser(sub)
    return parser


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
