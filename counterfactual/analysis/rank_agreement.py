"""Agreement of a rank run's rankings across feature spaces, as a matrix (from
tables/kendall_tau, see `counterfactual.rank.ranking.kendall_tau_table`)."""
from __future__ import annotations

import pandas as pd


def tau_matrix(tau: pd.DataFrame, metric: str = "fd", value: str = "tau") -> pd.DataFrame:
    """Space x space matrix (rows space_a, columns space_b, in table order) of one metric."""
    part = tau[tau["metric"] == metric]
    order = list(dict.fromkeys(part["space_a"]))
    return part.pivot(index="space_a", columns="space_b", values=value).loc[order, order]
