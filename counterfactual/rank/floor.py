"""The reference's own floor: how far the reference is from itself at a given n, per space.

FD has a finite-sample bias that grows with the dimension over n, so "FD 119" means little
until it is set beside the FD between two samples of the SAME distribution. Two disjoint
halves of the reference give that floor, but each half has only m = n_reference // 2 rows (or
the generators' n when smaller), and
FD at m rows sits higher than at n. To compare like with like, each generator's FD is measured
at the same m too: m of its faces (the same face indices for every generator: matched seeds)
against the reference half that the floor's first half is compared with. Both are averaged
over `splits` random half splits (the same splits for every set), with their SD over splits.

A generator whose FD at m is close to the reference's floor at m cannot be told apart from
the reference by FD at this sample size.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from counterfactual.errors import UserError
from counterfactual.metrics import RankDeficientCovarianceWarning, frechet_distance_features
from counterfactual.metrics.rows import Rows


def _fd(x: Rows, y: Rows) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
        return frechet_distance_features(x, y).value


def reference_floor(
    ref: np.ndarray, gens: Mapping[str, np.ndarray], *, splits: int, seed: int
) -> dict[str, dict[str, Any]]:
    """Per set ("reference", then each generator): mean and SD over `splits` half splits of
    FD(first half or m generator faces, second half), with m = len(ref) // 2 rows on each side
    (fewer when a generator has fewer images: m is then its count, for every set).

    Returns {set: {"fd", "fd_sd", "n_a", "n_b", "splits"}}."""
    if splits < 1:
        raise UserError(f"reference floor: splits must be >= 1, got {splits}")
    ref_rows = Rows(np.asarray(ref), name="reference features")
    n = len(ref_rows)
    m = min([n // 2, *(len(x) for x in gens.values())])
    if m < 2:
        raise UserError(
            f"reference floor: needs >= 2 rows on each side (reference {n} images, "
            f"so halves of {n // 2}; generators {[len(x) for x in gens.values()]})"
        )
    gen_rows = {g: Rows(np.asarray(x), name=f"{g} features") for g, x in gens.items()}
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {"reference": [], **{g: [] for g in gens}}
    n_gen = {len(x) for x in gen_rows.values()}
    for _ in range(splits):
        perm = rng.permutation(n)
        first, second = ref_rows.take(np.sort(perm[:m])), ref_rows.take(np.sort(perm[m : 2 * m]))
        values["reference"].append(_fd(first, second))
        # one draw of m face indices per split, shared by every generator (matched seeds)
        idx = {k: np.sort(rng.permutation(k)[:m]) for k in sorted(n_gen)}
        for g, rows in gen_rows.items():
            values[g].append(_fd(rows.take(idx[len(rows)]), second))
    return {
        k: {
            "fd": float(np.mean(v)),
            "fd_sd": float(np.std(v, ddof=1)) if len(v) > 1 else float("nan"),
            "n_a": m,
            "n_b": m,
            "splits": int(splits),
        }
        for k, v in values.items()
    }
