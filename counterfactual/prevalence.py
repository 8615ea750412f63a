"""The dose-response protocol's mixing rule, shared by the sweep (`counterfactual.sweep.dose`)
and the analysis (`counterfactual.analysis.mixing`): at prevalence gap delta, n_swap of N pairs
send their twin to set A and their base to B (numpy only, so either side imports it cheaply).
"""
from __future__ import annotations

import numpy as np


def n_swapped(n_pairs: int, delta: float) -> int:
    """Pairs sending their twin to A at gap `delta`: round(N (1 - delta) / 2), halves up."""
    if not 0.0 <= float(delta) <= 1.0:
        raise ValueError(f"delta must lie in [0, 1], got {delta}")
    return int(np.floor(n_pairs * (1.0 - float(delta)) / 2.0 + 0.5))
