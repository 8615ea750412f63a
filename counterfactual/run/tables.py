"""Tables of a run directory on disk: one writer and one reader for every table.

A table is written as ``<stem>.csv`` / ``.parquet`` / ``.json`` (records), each atomically;
it is read back from the first of ``.parquet``, ``.csv``, ``.json`` that exists.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd

from counterfactual.foundation.files import write_bytes, write_text

FORMATS = ("csv", "parquet", "json")
_READERS = (
    ("parquet", pd.read_parquet),
    ("csv", pd.read_csv),
    ("json", lambda p: pd.read_json(p, orient="records")),
)


def write_table(frame: Any, stem: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """A pandas DataFrame as stem.csv / stem.parquet / stem.json (records), each atomically."""
    out = []
    for fmt in formats:
        path = Path(f"{stem}.{fmt}")
        if fmt == "csv":
            out.append(write_text(path, frame.to_csv(index=False)))
        elif fmt == "json":
            out.append(write_text(path, frame.to_json(orient="records", indent=1) + "\n"))
        elif fmt == "parquet":
            buf = io.BytesIO()
            frame.to_parquet(buf, index=False)
            out.append(write_bytes(path, buf.getvalue()))
        else:
            raise ValueError(f"unknown table format {fmt!r}; allowed: {', '.join(FORMATS)}")
    return out


def read_table(run_dir: str | Path, name: str, folder: str = "tables") -> pd.DataFrame:
    """``RUN_DIR/<folder>/<name>.parquet`` if present, else ``.csv``, else ``.json`` (records)."""
    tables = Path(run_dir) / folder
    for ext, reader in _READERS:
        path = tables / f"{name}.{ext}"
        if path.exists():
            return reader(path)
    raise FileNotFoundError(f"no table {name!r} under {tables} (looked for .parquet, .csv, .json)")


def as_bool(v: object) -> bool:
    """A boolean from a bool or its CSV spelling ("True", "false", "1" ...)."""
    if isinstance(v, str):
        if v.strip().lower() in ("true", "1", "yes"):
            return True
        if v.strip().lower() in ("false", "0", "no"):
            return False
        raise ValueError(f"column 'trained': cannot read {v!r} as a boolean")
    return bool(v)


def remove_table(stem: Path) -> None:
    """Delete every format of a table (no stale table from an earlier config)."""
    for ext in FORMATS:
        Path(f"{stem}.{ext}").unlink(missing_ok=True)
