"""Matched-pair mixtures: the dose-response protocol's sets A and B built from base/twin features.

For a prevalence gap ``delta`` in [0, 1] and N pairs, ``round(N * (1 - delta) / 2)`` pairs chosen
at random send their twin to set A and their base to set B; every other pair sends its base to A
and its twin to B. So A holds a fraction (1 - delta)/2 of counterfactual members and B a fraction
(1 + delta)/2; at delta = 1, A is the base set and B the twin set; at delta = 0 both are
half/half mixtures. Row i of ``twin`` must be the twin of row i of ``base``.
"""
from __future__ import annotations

import numpy as np

from counterfactual.prevalence import n_swapped

__all__ = ["mix_pairs", "n_swapped", "random_swap", "split_pairs"]


def split_pairs(base: np.ndarray, twin: np.ndarray, swap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sets A and B given a boolean per-pair mask (True: twin goes to A, base to B)."""
    swap = np.asarray(swap, dtype=bool)[:, None]
    return np.where(swap, twin, base), np.where(swap, base, twin)


def mix_pairs(base: np.ndarray, twin: np.ndarray, delta: float,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sets A and B at prevalence gap ``delta`` (a random choice of the swapped pairs)."""
    if base.shape != twin.shape:
        raise ValueError(f"base and twin features differ in shape: {base.shape} vs {twin.shape}")
    n = base.shape[0]
    swap = np.zeros(n, dtype=bool)
    swap[rng.choice(n, size=n_swapped(n, delta), replace=False)] = True
    return split_pairs(base, twin, swap)


def random_swap(base: np.ndarray, twin: np.ndarray,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sets A and B after swapping each pair's members with probability 1/2 (the delta = 0 null)."""
    return split_pairs(base, twin, rng.random(base.shape[0]) < 0.5)
