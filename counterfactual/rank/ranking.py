"""Rankings of generators per feature space, their agreement across spaces, and their stability.

- rank: per space and metric, 1 = best (lowest FD/KID; highest precision, recall, density,
  coverage); ties share the lowest rank (`scipy.stats.rankdata(method="min")`).
- Kendall tau between the rankings of every two spaces (`scipy.stats.kendalltau`, tau-b, with
  its p-value); the matrix is symmetric with tau = 1 on the diagonal (NaN when a ranking is
  constant or there are fewer than 2 generators).
- rank stability: the fraction of bootstrap replicates in which a generator keeps its rank
  in that space (replicate b resamples every set jointly, see `counterfactual.rank.compare`),
  with the mean rank and a percentile interval of the rank over replicates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from counterfactual.rank.compare import LOWER_IS_BETTER
from counterfactual.run.schemas import METRIC_COLUMNS, METRICS, RANKING_COLUMNS, TAU_COLUMNS


def metric_table(results: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per generator x space (columns `METRIC_COLUMNS`) from `compare` results that
    carry their labels (generator, spec, truncation, space, space_label, trained, settings)."""
    rows = []
    for r in results:
        row = {
            "generator": r["generator"],
            "spec": r["spec"],
            "truncation_psi": r["truncation_psi"],
            "truncation_cutoff": r["truncation_cutoff"],
            "space": r["space"],
            "space_label": r["space_label"],
            "trained": bool(r["trained"]),
            "dim": r["dim"],
            "n_generator": r["n_generator"],
            "n_reference": r["n_reference"],
            "rank_deficient": min(r["n_generator"], r["n_reference"]) <= r["dim"],
            "fd_mean_term": r["point"]["fd_mean_term"],
            "fd_trace_term": r["point"]["fd_trace_term"],
            "kid_subset_std": r["point"]["kid_subset_std"],
            "kid_subsets": r["kid_subsets"],
            **{k: r["settings"][k] for k in ("pr_k", "dc_k", "kid_subset_size", "n_boot", "seed")},
            # rows per KID subset actually drawn (`counterfactual.metrics.kid`: never more
            # than the smaller set)
            "kid_subset_size_used": min(
                r["n_generator"], r["n_reference"], r["settings"]["kid_subset_size"]
            ),
            "ci_level": r["settings"]["ci"],
        }
        for m in METRICS:
            row[m] = r["point"][m]
            row[f"{m}_ci_low"], row[f"{m}_ci_high"] = r["ci_low"][m], r["ci_high"][m]
            row[f"{m}_se"], row[f"{m}_bias"] = r["se"][m], r["bias"][m]
            row[f"{m}_pct_low"], row[f"{m}_pct_high"] = r["pct_low"][m], r["pct_high"][m]
        rows.append(row)
    df = pd.DataFrame(rows, columns=list(METRIC_COLUMNS))
    df["truncation_cutoff"] = df["truncation_cutoff"].astype("Int64")
    return df


def ranks(values: np.ndarray, lower_is_better: bool, axis: int = 0) -> np.ndarray:
    """1 = best along `axis`; ties share the lowest rank; NaN values rank last."""
    v = np.asarray(values, dtype=np.float64)
    v = v if lower_is_better else -v
    v = np.where(np.isnan(v), np.inf, v)
    return stats.rankdata(v, method="min", axis=axis).astype(np.int64)


def ranking_table(
    results: list[dict[str, Any]], generators: list[str], spaces: list[dict[str, Any]], ci: float
) -> pd.DataFrame:
    """Per metric x space x generator: value, rank, rank stability over bootstrap replicates."""
    by_key = {(r["generator"], r["space"]): r for r in results}
    alpha = (1.0 - ci) / 2.0
    rows = []
    for metric in METRICS:
        lower = LOWER_IS_BETTER[metric]
        for sp in spaces:
            cells = [by_key[(g, sp["name"])] for g in generators]
            point = np.array([c["point"][metric] for c in cells])
            reps = np.array([c["replicates"][metric] for c in cells])  # [G, B]
            rank = ranks(point, lower)
            rep_rank = ranks(reps, lower, axis=0)  # [G, B]
            for i, g in enumerate(generators):
                rows.append(
                    {
                        "metric": metric,
                        "space": sp["name"],
                        "space_label": sp["label"],
                        "trained": bool(sp["trained"]),
                        "generator": g,
                        "value": float(point[i]),
                        "ci_low": cells[i]["ci_low"][metric],
                        "ci_high": cells[i]["ci_high"][metric],
                        "rank": int(rank[i]),
                        "lower_is_better": lower,
                        "stability": float(np.mean(rep_rank[i] == rank[i])),
                        "rank_mean": float(rep_rank[i].mean()),
                        "rank_ci_low": float(np.quantile(rep_rank[i], alpha)),
                        "rank_ci_high": float(np.quantile(rep_rank[i], 1.0 - alpha)),
                        "n_boot": int(reps.shape[1]),
                    }
                )
    return pd.DataFrame(rows, columns=list(RANKING_COLUMNS))


def kendall_tau_table(
    rankings: pd.DataFrame, generators: list[str], spaces: list[dict[str, Any]]
) -> pd.DataFrame:
    """Kendall tau between the rankings of every ordered pair of spaces, per metric."""
    rows = []
    for metric, g in rankings.groupby("metric", sort=False):
        rank_of = {
            sp: part.set_index("generator").loc[generators, "rank"].to_numpy(np.float64)
            for sp, part in g.groupby("space", sort=False)
        }
        for a in spaces:
            for b in spaces:
                ra, rb = rank_of[a["name"]], rank_of[b["name"]]
                if len(generators) < 2 or np.ptp(ra) == 0 or np.ptp(rb) == 0:
                    tau, p = np.nan, np.nan
                else:
                    res = stats.kendalltau(ra, rb)
                    tau, p = float(res.statistic), float(res.pvalue)
                rows.append(
                    {
                        "metric": metric,
                        "space_a": a["name"],
                        "space_label_a": a["label"],
                        "trained_a": bool(a["trained"]),
                        "space_b": b["name"],
                        "space_label_b": b["label"],
                        "trained_b": bool(b["trained"]),
                        "tau": tau,
                        "p_value": p,
                        "n_generators": len(generators),
                    }
                )
    return pd.DataFrame(rows, columns=list(TAU_COLUMNS))
