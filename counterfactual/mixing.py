"""The dose-response protocol's mixing rule: which member of each matched pair goes to set A
and which to set B at prevalence gap ``delta`` (the one definition; the sweep and the
analysis both use it).

For a gap ``delta`` in [0, 1] and N pairs, ``n_swapped(N, delta) = round(N (1 - delta) / 2)``
pairs (halves up) send their twin to set A and their base to set B; every other pair sends its
base to A and its twin to B. So A holds a fraction (1 - delta)/2 of counterfactual members and
B a fraction (1 + delta)/2; at delta = 1, A is the base set and B the twin set; at delta = 0
both are half/half mixtures (exactly, with N even). Row i of ``twin`` is the twin of row i of
``base``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mix_pairs", "n_swapped", "pool_rows", "random_swap", "split_pairs"]


def n_swapped(n_pairs: int, delta: float) -> int:
    """Pairs sending their twin to A at gap `delta`: round(N (1 - delta) / 2), halves up."""
    if not 0.0 <= float(delta) <= 1.0:
        raise ValueError(f"delta must lie in [0, 1], got {delta}")
    return int(np.floor(n_pairs * (1.0 - float(delta)) / 2.0 + 0.5))


def pool_rows(pairs: np.ndarray, n_swap: int, n_total: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of A and B in the pool [base_0..base_{M-1}, twin_0..twin_{M-1}] (M = n_total) when
    the first `n_swap` of the sampled `pairs` send their twin to A."""
    pairs = np.asarray(pairs)
    swap = np.zeros(len(pairs), dtype=bool)
    swap[:n_swap] = True
    return np.where(swap, pairs + n_total, pairs), np.where(swap, pairs, pairs + n_total)


def split_pairs(
    base: np.ndarray, twin: np.ndarray, swap: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sets A and B given a boolean per-pair mask (True: twin goes to A, base to B)."""
    swap = np.asarray(swap, dtype=bool)[:, None]
    return np.where(swap, twin, base), np.where(swap, base, twin)


def mix_pairs(
    base: np.ndarray, twin: np.ndarray, delta: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Sets A and B at prevalence gap ``delta`` (a random choice of the swapped pairs)."""
    if base.shape != twin.shape:
        raise ValueError(f"base and twin features differ in shape: {base.shape} vs {twin.shape}")
    n = base.shape[0]
    swap = np.zeros(n, dtype=bool)
    swap[rng.choice(n, size=n_swapped(n, delta), replace=False)] = True
    return split_pairs(base, twin, swap)


def random_swap(
    base: np.ndarray, twin: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Sets A and B after swapping each pair's members with probability 1/2 (the delta = 0 null)."""
    return split_pairs(base, twin, rng.random(base.shape[0]) < 0.5)
