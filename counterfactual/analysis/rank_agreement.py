"""Agreement of a rank run's rankings across feature spaces, as a matrix (from
tables/kendall_tau, see `counterfactual.rank.ranking.kendall_tau_table`), and the paired
difference of two generators (from tables/paired_differences, see
`counterfactual.rank.paired`)."""

from __future__ import annotations

import pandas as pd

# With fewer generators than this, Kendall tau between two rankings is +-1 (two generators:
# the rankings either agree or not) by construction: it carries no evidence.
MIN_TAU_GENERATORS = 3


def tau_matrix(tau: pd.DataFrame, metric: str = "fd", value: str = "tau") -> pd.DataFrame:
    """Space x space matrix (rows space_a, columns space_b, in table order) of one metric."""
    part = tau[tau["metric"] == metric]
    order = list(dict.fromkeys(part["space_a"]))
    return part.pivot(index="space_a", columns="space_b", values=value).loc[order, order]


def paired_lookup(
    table: pd.DataFrame, metric: str, space: str, a: str, b: str
) -> dict[str, float] | None:
    """The paired difference a - b ({"diff", "lo", "hi"}) from a table that holds either
    orientation; None when the pair is absent."""
    part = table[(table["metric"] == metric) & (table["space"] == space)]
    for first, second, sign in ((a, b, 1.0), (b, a, -1.0)):
        row = part[(part["generator_a"] == first) & (part["generator_b"] == second)]
        if len(row):
            r = row.iloc[0]
            lo, hi = sign * float(r["lo"]), sign * float(r["hi"])
            return {"diff": sign * float(r["diff"]), "lo": min(lo, hi), "hi": max(lo, hi)}
    return None
