"""Region distortions: FD(base, region-distorted) normalised by FD(base, fully distorted).

For each feature space and each region intervention (e.g. "blur:eyes"), the full-set FD
between the base faces and their region-blurred twins is divided by the FD between the base
faces and the fully blurred reference ("blur:all"): 1 means the space reacts to that region as
much as to blurring everything. The spread comes from `draws` subsamples of `n_pairs` pairs
(the same pairs for the region and the reference, the dose-response draws at delta = 1).
Columns: `counterfactual.run.schemas.REGION_COLUMNS`.
"""

from __future__ import annotations

import numpy as np

from counterfactual.metrics.fd_batch import frechet_distance_matched
from counterfactual.sweep.dose import dose_response, plan_draws


def full_fd(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """FD, mean term, trace term between matched full sets (row i of y is the twin of row i of x)."""
    r = frechet_distance_matched(x, y)
    return float(r.fd[0]), float(r.mean_term[0]), float(r.trace_term[0])


def region_rows(
    base: np.ndarray,
    reference: np.ndarray,
    regions: dict[str, np.ndarray],
    names: dict[str, str],
    prefix: str,
    n_pairs: int,
    draws: int,
    seed: int,
) -> list[dict]:
    """One row per region: full-set FD, the reference FD, their ratio and its spread over draws."""
    fd_ref = full_fd(base, reference)[0]
    points = plan_draws(len(base), n_pairs, [1.0], draws, seed)
    ref_draws = dose_response(base, reference, points).fd
    rows = []
    for key, feats in regions.items():
        fd, mean_term, trace_term = full_fd(base, feats)
        ratio_draws = dose_response(base, feats, points).fd / ref_draws
        name = names.get(key, key)
        rows.append(
            {
                "intervention": key,
                "region": name[len(prefix) :] if name.startswith(prefix) else name,
                "n_pairs": int(len(base)),
                "fd": fd,
                "mean_term": mean_term,
                "trace_term": trace_term,
                "fd_reference": fd_ref,
                "normalised": fd / fd_ref if fd_ref > 0 else float("nan"),
                "draws": int(draws),
                "draw_pairs": int(n_pairs),
                "normalised_draw_mean": float(np.mean(ratio_draws)),
                "normalised_draw_sd": float(np.std(ratio_draws, ddof=1)) if draws > 1 else 0.0,
            }
        )
    return rows
