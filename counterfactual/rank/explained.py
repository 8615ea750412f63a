"""Explained FD in a rank run: attribute prevalence per set, and how much of each generator's
FD to the reference each attribute's prevalence gap explains, per feature space.

The statistics are `counterfactual.analysis.explained` (its docstring states the method and
its assumptions). This module adds what the rank engine needs around them:

- per-image scores of a set come from `counterfactual.engine.scoring.explained_scores`, which
  uses `score_images` (the project's one, from `counterfactual.interventions.directions`): per-image
  scores of a set (float64 [N]) in fixed-size chunks, so scores do not depend on the generation
  batch size; a score the scorer could not give is NaN and stops the explained FD with an error
  naming the attribute and set (`analysis.explained.binarise`);
- features reduced by `counterfactual.metrics.span_coordinates` (exact, lossless: at most
  n_gen + n_ref - 1 dimensions, FD of any weighted or resampled rows unchanged), which keeps
  the bootstrap affordable in 2048-d spaces;
- `prevalence_table` / `explained_rows`: the rows of tables/prevalence and tables/explained_fd.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from counterfactual.analysis.explained import binarise, explained_fd
from counterfactual.interventions.directions import score_images
from counterfactual.metrics import span_coordinates
from counterfactual.metrics.fd_factors import equal_n_sets
from counterfactual.run.schemas import SET_PREVALENCE_COLUMNS


def prevalence_table(
    scores: Mapping[str, Mapping[str, np.ndarray]],
    roles: Mapping[str, str],
    thresholds: Mapping[str, float],
) -> pd.DataFrame:
    """Prevalence (share with score >= threshold), mean and SD of each set's scores."""
    rows = []
    for set_id, per_attr in scores.items():
        for attr, s in per_attr.items():
            present = binarise(s, thresholds[attr], f"scores of {attr!r} in set {set_id!r}")
            rows.append(
                {
                    "set": set_id,
                    "role": roles[set_id],
                    "attribute": attr,
                    "threshold": float(thresholds[attr]),
                    "n": int(s.size),
                    "prevalence": float(present.mean()),
                    "score_mean": float(np.mean(s)),
                    "score_sd": float(np.std(s, ddof=1)) if s.size > 1 else float("nan"),
                }
            )
    return pd.DataFrame(rows, columns=list(SET_PREVALENCE_COLUMNS))


def explained_rows(
    generator: str,
    gen_features: Mapping[str, np.ndarray],
    ref_features: Mapping[str, np.ndarray],
    gen_scores: Mapping[str, np.ndarray],
    ref_scores: Mapping[str, np.ndarray],
    thresholds: Mapping[str, float],
    *,
    n_boot: int,
    ci: float,
    seed: int,
    method: str,
    trained: Mapping[str, bool],
    space_labels: Mapping[str, str],
) -> list[dict[str, Any]]:
    """`explained_fd` of one generator against the reference in every space (features reduced
    by `span_coordinates`, which leaves every FD unchanged), as table rows with a
    `generator` column first."""
    gen_c, ref_c = {}, {}
    for space in gen_features:
        gen_c[space], ref_c[space] = span_coordinates(gen_features[space], ref_features[space])
    with equal_n_sets():  # replicates keep n: the rank-deficiency warning is moot
        frame = explained_fd(
            gen_c,
            ref_c,
            gen_scores,
            ref_scores,
            thresholds=dict(thresholds),
            n_boot=n_boot,
            ci=ci,
            seed=seed,
            method=method,
            trained=trained,
            space_labels=space_labels,
        )
    frame.insert(0, "generator", generator)
    return frame.to_dict(orient="records")


__all__ = ["explained_rows", "prevalence_table", "score_images"]
