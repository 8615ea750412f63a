"""Embedding maps: seeded 2-d coordinates of cached features, for the report's scatter plots.

One map is one joint embedding of two sets' features in one space: a sweep's base faces and
an edit's twins (per intervention x space), or a rank run's reference and one generator (per
generator x space). Methods (`EMBEDDERS`, a registry):

- ``pacmap``: PaCMAP (Wang et al., JMLR 2021, the tool of the seed study; the
  ``pacmap`` package, a dependency whose absence leaves a note instead of a map; its defaults: 10 neighbours, PCA to 100 dimensions first, PCA
  initialisation), with ``random_state = seed`` on one thread (numba and BLAS): the same
  features and seed give identical coordinates whatever the machine's core count (PaCMAP's
  parallel gradient sums in thread order, so two threads give other coordinates).
- ``pca``: the first two principal components (deterministic; signs fixed so that each
  component's largest loading is positive).

Each set contributes its first ``max_faces`` faces (seed order), so the cost is bounded. A map
is a picture of neighbourhoods, not a statistic: its axes have no units and distances between
clusters are not comparable across maps.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from counterfactual.foundation.registry import Registry
from counterfactual.metrics import as_features
from counterfactual.run.reader import RunData
from counterfactual.run.schemas import BASE_SET, REFERENCE_ID

from ._common import check_count, frame
from .pairs import PairFeatures

Embedder = Callable[[np.ndarray, int], np.ndarray]
EMBEDDERS = Registry("embedding method")
DEFAULT_METHOD = "pacmap"
MAX_FACES = 300
MIN_POINTS = 8  # fewer points than this make no useful map (PaCMAP needs neighbours)
MAPS_WHAT = "embedding maps"  # how the analysis names itself in notes

MAP_COLUMNS: tuple[str, ...] = (
    "map",
    "space",
    "space_label",
    "trained",
    "set",
    "role",
    "face",
    "x",
    "y",
    "method",
    "seed",
)


def pca_2d(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """The first two principal-component scores of x [n, d] (float64; `seed` unused)."""
    xc = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    vt = vt[:2]
    signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])
    scores = np.asarray(xc @ (vt * signs[:, None]).T, dtype=np.float64)
    if scores.shape[1] < 2:  # one feature: a flat second axis
        scores = np.hstack([scores, np.zeros((len(scores), 2 - scores.shape[1]))])
    return scores


def pacmap_2d(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """PaCMAP coordinates of x [n, d] with random_state = seed (its chatter silenced)."""
    try:
        import numba
        import pacmap
    except ImportError as exc:  # optional: the report says why there is no map
        raise RuntimeError(f"the pacmap package cannot be imported ({exc})") from None
    from threadpoolctl import threadpool_limits

    sink = io.StringIO()
    threads = numba.get_num_threads()
    logger = logging.getLogger("pacmap")
    level = logger.level
    try:
        logger.setLevel(logging.ERROR)  # "random state is set" and sample-size notices
        # One thread (numba and BLAS): the coordinates do not depend on the machine's core
        # count, and on a busy machine it is also several times faster.
        numba.set_num_threads(1)
        with (
            threadpool_limits(1),
            contextlib.redirect_stdout(sink),
            contextlib.redirect_stderr(sink),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")
            model = pacmap.PaCMAP(n_components=2, random_state=int(seed))
            out = model.fit_transform(np.ascontiguousarray(x, dtype=np.float32), init="pca")
    finally:
        numba.set_num_threads(threads)
        logger.setLevel(level)
    return np.asarray(out, dtype=np.float64)


EMBEDDERS.register("pacmap", pacmap_2d, description="PaCMAP (optional pacmap package), seeded")
EMBEDDERS.register("pca", pca_2d, description="first two principal components")


def check_method(method: str) -> str:
    """A registered method's name (one clear error naming the allowed ones)."""
    entry, _ = EMBEDDERS.lookup(method)
    return entry.name


def embed(x: np.ndarray, method: str = DEFAULT_METHOD, seed: int = 0) -> np.ndarray:
    """2-d coordinates [n, 2] (float64) of the rows of x [n, d] by `method`, seeded."""
    arr = as_features(x, "features to map", min_rows=2)
    if len(arr) < MIN_POINTS:
        raise ValueError(f"a map needs at least {MIN_POINTS} points, got {len(arr)}")
    entry, _ = EMBEDDERS.lookup(method)
    fn: Embedder = entry.resolve()
    out = np.asarray(fn(arr, int(seed)), dtype=np.float64)
    if out.shape != (len(arr), 2) or not np.isfinite(out).all():
        raise RuntimeError(f"{method} returned {out.shape} coordinates, not finite [{len(arr)}, 2]")
    return out


def joint_map(
    sets: Mapping[str, np.ndarray],
    roles: Mapping[str, str],
    method: str = DEFAULT_METHOD,
    seed: int = 0,
    max_faces: int = MAX_FACES,
) -> pd.DataFrame:
    """One joint embedding of several sets' features (the first `max_faces` rows of each):
    rows ``set, role, face, x, y`` (``face`` = the row in its set, i.e. seed order)."""
    check_count(max_faces, "max_faces")
    names = list(sets)
    parts = [as_features(sets[n], f"features of {n!r}", min_rows=2)[:max_faces] for n in names]
    if len({p.shape[1] for p in parts}) > 1:
        raise ValueError(f"sets {names} have different feature dimensions")
    xy = embed(np.vstack(parts), method, seed)
    rows: list[dict[str, Any]] = []
    start = 0
    for name, part in zip(names, parts):
        for i in range(len(part)):
            x, y = xy[start + i]
            rows.append({"set": name, "role": roles[name], "face": i, "x": x, "y": y})
        start += len(part)
    return pd.DataFrame(rows)


def embedding_maps(
    groups: Sequence[tuple[str, str, str, bool, Mapping[str, np.ndarray], Mapping[str, str]]],
    method: str = DEFAULT_METHOD,
    seed: int = 0,
    max_faces: int = MAX_FACES,
) -> pd.DataFrame:
    """Every map (columns `MAP_COLUMNS`). `groups`: (map name, space, space label, trained,
    {set: features}, {set: role}) per map; each map is embedded on its own with `seed`."""
    method = check_method(method)
    frames = []
    for name, space, label, trained, sets, roles in groups:
        part = joint_map(sets, roles, method, seed, max_faces)
        part.insert(0, "trained", bool(trained))
        part.insert(0, "space_label", label)
        part.insert(0, "space", space)
        part.insert(0, "map", name)
        part["method"], part["seed"] = method, int(seed)
        frames.append(part)
    if not frames:
        raise ValueError("no features to map")
    return frame(pd.concat(frames, ignore_index=True).to_dict(orient="records"), MAP_COLUMNS)


def pair_maps(
    pairs: Sequence[PairFeatures],
    method: str = DEFAULT_METHOD,
    seed: int = 0,
    max_faces: int = MAX_FACES,
) -> pd.DataFrame:
    """A sweep's maps: base faces (role "base") and an edit's twins (role "twin") per
    intervention x space."""
    return embedding_maps(
        [
            (
                pf.intervention,
                pf.space,
                pf.space_label,
                pf.trained,
                {BASE_SET: pf.base, pf.intervention: pf.twin},
                {BASE_SET: "base", pf.intervention: "twin"},
            )
            for pf in pairs
        ],
        method,
        seed,
        max_faces,
    )


def rank_maps(
    run: RunData, method: str = DEFAULT_METHOD, seed: int = 0, max_faces: int = MAX_FACES
) -> pd.DataFrame:
    """A rank run's maps: the reference (role "reference") and each generator (role
    "generator") per generator x space, from the run's cached features."""

    entries = run.feature_index.entries()
    spaces = list(dict.fromkeys(sp for (s, sp) in entries if s == REFERENCE_ID))
    generators = list(dict.fromkeys(s for (s, _) in entries if s != REFERENCE_ID))
    index = run.feature_index
    groups = []
    for sp in spaces:
        reference = index.load(REFERENCE_ID, sp)
        space = run.space(sp)
        for g in generators:
            if (g, sp) in entries:
                groups.append(
                    (
                        g,
                        sp,
                        space.label,
                        space.trained,
                        {REFERENCE_ID: reference, g: index.load(g, sp)},
                        {REFERENCE_ID: "reference", g: "generator"},
                    )
                )
    return embedding_maps(groups, method, seed, max_faces)


__all__ = [
    "DEFAULT_METHOD",
    "EMBEDDERS",
    "MAPS_WHAT",
    "MAP_COLUMNS",
    "MAX_FACES",
    "check_method",
    "embed",
    "embedding_maps",
    "joint_map",
    "pacmap_2d",
    "pair_maps",
    "pca_2d",
    "rank_maps",
]
