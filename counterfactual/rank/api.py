"""`rank_generators(...)`: rank generators against a reference in Python, tables as DataFrames.

    import counterfactual
    result = counterfactual.rank_generators(
        {"psi 1": "mobilestylegan-ffhq", "psi 0.5": "mobilestylegan-ffhq"},
        reference="folder:celeba-999",
        spaces=["inception-fid", "arcface"],
        n=500,
        truncation={"psi 0.5": 0.5},
    )
    result.metrics              # FD, KID, precision/recall, density/coverage with intervals
    result.paired_differences   # every lead, from the interval of a paired difference

The same engine as `counterfactual rank CONFIG --out RUN_DIR` (the call builds and validates
the config it would read); without `out` the run directory is temporary and only the tables
come back. (The function is not called `rank` because `counterfactual.rank` is the package.)
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

TABLES = ("rank_metrics", "rankings", "paired_differences", "reference_floor", "kendall_tau")


@dataclass(frozen=True)
class Ranking:
    """The rank run's tables (see README "Leads, the reference floor and rank settings")."""

    metrics: pd.DataFrame
    rankings: pd.DataFrame
    paired_differences: pd.DataFrame
    reference_floor: pd.DataFrame
    kendall_tau: pd.DataFrame
    run_dir: Path | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)


def rank_config(
    generators: Mapping[str, str] | Sequence[str],
    reference: str,
    *,
    spaces: Sequence[str | Mapping[str, Any]] = ("inception-fid",),
    n: int = 1000,
    reference_n: int | None = None,
    seed_start: int = 0,
    reference_seed_start: int | None = None,
    truncation: Mapping[str, float] | None = None,
    name: str = "rank_generators",
    **settings: Any,
) -> Any:
    """The validated `RankConfig` that `rank_generators` runs (settings: any other top-level
    key of a rank config, e.g. ``metrics={"n_boot": 100}``, ``seed=0``)."""
    from counterfactual.rank.config import validate_rank_config

    named = dict(generators) if isinstance(generators, Mapping) else {g: g for g in generators}
    truncation = dict(truncation or {})
    unknown = sorted(set(truncation) - set(named))
    if unknown:
        from counterfactual.errors import UserError

        raise UserError(f"truncation names unknown generators: {', '.join(unknown)}")
    entries = []
    for gid, spec in named.items():
        entry: dict[str, Any] = {"spec": spec, "id": gid}
        if gid in truncation:
            entry["truncation_psi"] = float(truncation[gid])
        entries.append(entry)
    if reference_seed_start is None:  # a generator used as its own reference: disjoint seeds
        reference_seed_start = seed_start + (n if reference in named.values() else 0)
    data = {
        "name": name,
        "seeds": {"start": seed_start, "count": n},
        "spaces": [dict(s) if isinstance(s, Mapping) else s for s in spaces],
        "generators": entries,
        "reference": {
            "spec": reference,
            "seeds": {"start": reference_seed_start, "count": reference_n or n},
        },
        **settings,
    }
    return validate_rank_config(data, source=f"{name}()")


def rank_generators(
    generators: Mapping[str, str] | Sequence[str],
    reference: str,
    *,
    out: str | Path | None = None,
    device: str | None = None,
    batch_size: int | None = None,
    progress: bool = True,
    **config: Any,
) -> Ranking:
    """Rank `generators` (id -> spec, or specs) against `reference` in every space; returns the
    tables as DataFrames. `config`: `rank_config`'s options (spaces, n, truncation, ...). With
    `out`, the run directory stays (resumable, `counterfactual report OUT` renders it)."""
    from counterfactual.rank.engine import run_rank
    from counterfactual.run.reader import load_run

    cfg = rank_config(generators, reference, **config)

    def collect(run_dir: Path, keep: bool) -> Ranking:
        run_rank(cfg, run_dir, device=device, batch_size=batch_size, progress=progress)
        data = load_run(run_dir)
        tables = {k: v.copy() for k, v in data.tables.items()}
        got = {k: tables.get(k, pd.DataFrame()) for k in TABLES}
        return Ranking(
            metrics=got["rank_metrics"],
            rankings=got["rankings"],
            paired_differences=got["paired_differences"],
            reference_floor=got["reference_floor"],
            kendall_tau=got["kendall_tau"],
            run_dir=run_dir if keep else None,
            tables=tables,
        )

    if out is not None:
        return collect(Path(out), keep=True)
    with tempfile.TemporaryDirectory(prefix="counterfactual-rank-") as tmp:
        return collect(Path(tmp) / "run", keep=False)
