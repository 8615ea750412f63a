"""Compare every number in two run directories' tables (tables/ and report_tables/).

    python experiments/compare_runs.py RUN_A RUN_B [--rtol 1e-9] [--atol 0] [--rename OLD=NEW ...]
                                       [--skip FOLDER/NAME ...]

Tables are matched by folder and name (``tables/dose_response`` ...), whatever their format:
a table present as .parquet, .csv and .json is read once (first of parquet, csv, json, the
project's own reader order) and every format's file is also checked on its own, so a format
that drifted from the others is caught too. JSON files that are not record tables
(verification.json) are compared as nested values. Numbers are equal when
|a - b| <= atol + rtol * max(|a|, |b|) (NaN equals NaN); strings and booleans must be identical;
missing values (None, NaN, pd.NA, NaT) equal each other only.
``--rename OLD=NEW`` maps a column renamed between the two runs (RUN_A's OLD is RUN_B's NEW);
``--skip tables/NAME`` leaves out a table one run is known not to have (it is listed as skipped).
Exit status 0 when everything matches, 1 otherwise; the summary lists per table the number of
values compared, the largest relative difference and every mismatch (first 10 per table).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FOLDERS = ("tables", "report_tables")
READERS = {
    ".parquet": pd.read_parquet,
    ".csv": pd.read_csv,
    ".json": lambda p: pd.read_json(p, orient="records"),
}


class Tally:
    """Values compared, largest relative difference and mismatches of one table."""

    def __init__(self, rtol: float, atol: float) -> None:
        self.rtol, self.atol = rtol, atol
        self.n = 0
        self.max_rel = 0.0
        self.mismatches: list[str] = []

    def number(self, where: str, a: float, b: float) -> None:
        self.n += 1
        if math.isnan(a) and math.isnan(b):
            return
        if math.isinf(a) or math.isinf(b):
            if a != b:
                self.mismatches.append(f"{where}: {a!r} != {b!r}")
            return
        diff = abs(a - b)
        scale = max(abs(a), abs(b))
        if scale > 0:
            self.max_rel = max(self.max_rel, diff / scale)
        if not diff <= self.atol + self.rtol * scale:
            self.mismatches.append(
                f"{where}: {a!r} != {b!r} (rel {diff / scale if scale else diff:.3g})"
            )

    def other(self, where: str, a: Any, b: Any) -> None:
        self.n += 1
        if _missing(a) or _missing(b):  # pd.NA has no truth value: compare by kind
            equal = _missing(a) and _missing(b)
        else:
            equal = bool(a == b)
        if not equal:
            self.mismatches.append(f"{where}: {a!r} != {b!r}")


def _missing(v: Any) -> bool:
    """A missing value in any of pandas' spellings: None, NaN, pd.NA, NaT."""
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
        v, (bool, np.bool_)
    )


def compare_values(tally: Tally, where: str, a: Any, b: Any) -> None:
    a, b = (v.tolist() if isinstance(v, np.ndarray) else v for v in (a, b))  # list cells
    if _is_number(a) and _is_number(b):
        tally.number(where, float(a), float(b))
    elif isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                tally.mismatches.append(f"{where}.{key}: only in {'B' if key not in a else 'A'}")
                continue
            compare_values(tally, f"{where}.{key}", a[key], b[key])
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            tally.mismatches.append(f"{where}: {len(a)} vs {len(b)} items")
            return
        for i, (x, y) in enumerate(zip(a, b)):
            compare_values(tally, f"{where}[{i}]", x, y)
    else:
        tally.other(where, a, b)


def compare_frames(tally: Tally, a: pd.DataFrame, b: pd.DataFrame, renames: dict[str, str]) -> None:
    a = a.rename(columns=renames)
    if list(a.columns) != list(b.columns):
        only_a = [c for c in a.columns if c not in b.columns]
        only_b = [c for c in b.columns if c not in a.columns]
        if only_a or only_b:
            tally.mismatches.append(f"columns differ: only in A {only_a}, only in B {only_b}")
        else:
            tally.mismatches.append("column order differs")
        b = b[[c for c in a.columns if c in b.columns]]
        a = a[[c for c in a.columns if c in b.columns]]
    if len(a) != len(b):
        tally.mismatches.append(f"{len(a)} vs {len(b)} rows")
        return
    for col in a.columns:
        for i, (x, y) in enumerate(zip(a[col].tolist(), b[col].tolist())):
            compare_values(tally, f"row {i} {col}", x, y)


def table_files(run: Path) -> dict[str, list[Path]]:
    """'folder/name' -> its files, in reader order."""
    out: dict[str, list[Path]] = {}
    for folder in FOLDERS:
        d = run / folder
        if not d.is_dir():
            continue
        for p in sorted(d.iterdir()):
            if p.is_file() and p.suffix in READERS and not p.name.startswith("."):
                out.setdefault(f"{folder}/{p.stem}", []).append(p)
    order = list(READERS)
    return {k: sorted(v, key=lambda p: order.index(p.suffix)) for k, v in out.items()}


def _load(path: Path) -> tuple[str, Any]:
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if not (isinstance(data, list) and all(isinstance(r, dict) for r in data)):
            return "json", data
    return "frame", READERS[path.suffix](path)


def compare_runs(
    run_a: Path, run_b: Path, rtol: float, atol: float, renames: dict[str, str]
) -> Iterator[tuple[str, Tally]]:
    files_a, files_b = table_files(run_a), table_files(run_b)
    for name in sorted(set(files_a) | set(files_b)):
        tally = Tally(rtol, atol)
        if name not in files_a or name not in files_b:
            tally.mismatches.append(f"only in {'A' if name in files_a else 'B'}")
            yield name, tally
            continue
        exts_a = {p.suffix: p for p in files_a[name]}
        exts_b = {p.suffix: p for p in files_b[name]}
        if set(exts_a) != set(exts_b):
            tally.mismatches.append(f"formats differ: {sorted(exts_a)} vs {sorted(exts_b)}")
        for ext in [e for e in READERS if e in exts_a and e in exts_b]:
            (kind_a, a), (kind_b, b) = _load(exts_a[ext]), _load(exts_b[ext])
            if kind_a != kind_b:
                tally.mismatches.append(f"{ext}: a {kind_a} vs a {kind_b}")
            elif kind_a == "json":
                compare_values(tally, ext, a, b)
            else:
                sub = Tally(rtol, atol)
                compare_frames(sub, a, b, renames)
                tally.n += sub.n
                tally.max_rel = max(tally.max_rel, sub.max_rel)
                tally.mismatches += [f"{ext} {m}" for m in sub.mismatches]
        yield name, tally


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_a", type=Path)
    ap.add_argument("run_b", type=Path)
    ap.add_argument("--rtol", type=float, default=1e-9)
    ap.add_argument("--atol", type=float, default=0.0)
    ap.add_argument(
        "--rename",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="a column renamed between the runs (repeatable)",
    )
    ap.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="FOLDER/NAME",
        help="a table to leave out, e.g. tables/dose_summary (repeatable)",
    )
    args = ap.parse_args(argv)
    for run in (args.run_a, args.run_b):
        if not run.is_dir():
            ap.error(f"{run} is not a directory")
    renames = dict(r.split("=", 1) for r in args.rename)
    total, bad, worst = 0, 0, 0.0
    for name, tally in compare_runs(args.run_a, args.run_b, args.rtol, args.atol, renames):
        if name in args.skip:
            print(f"{name:36s} skipped")
            continue
        total += tally.n
        worst = max(worst, tally.max_rel)
        status = "ok" if not tally.mismatches else f"{len(tally.mismatches)} MISMATCHES"
        print(f"{name:36s} {tally.n:8d} values  max rel diff {tally.max_rel:.2e}  {status}")
        for m in tally.mismatches[:10]:
            print(f"    {m}")
        bad += bool(tally.mismatches)
    print(
        f"{total} values compared (rtol {args.rtol:g}, atol {args.atol:g}); largest relative "
        f"difference {worst:.2e}; {bad} table(s) differ"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
