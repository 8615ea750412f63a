"""k-NN manifold metrics: precision/recall (Kynkäänniemi et al. 2019) and density/coverage
(Naeem et al. 2020).

Each real (fake) point gets a ball whose radius is the distance to its k-th nearest neighbour
in its own set, the point itself excluded by index (duplicates still count as neighbours).
Balls are closed: a point on the boundary is inside (``<=``; the reference prdc code uses
``<``, which differs only on exact ties). Distances are squared Euclidean in float64,
||a||^2 + ||b||^2 - 2 a.b clipped at 0, compared without square roots; ties at a boundary are
resolved up to that rounding (exact for small-integer coordinates). Pairwise distances are
computed in row blocks of at most ``block_bytes`` (default 256 MiB), so 50k x 2048 sets need
about 1.6 GB for the float64 features plus one block.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._checks import as_features, same_dim

DEFAULT_BLOCK_BYTES = 256 * 2**20


@dataclass(frozen=True)
class PRResult:
    """Improved precision and recall with k nearest neighbours."""

    precision: float
    recall: float
    k: int
    n_real: int
    n_fake: int


@dataclass(frozen=True)
class DCResult:
    """Density (can exceed 1) and coverage with k nearest neighbours of the real set."""

    density: float
    coverage: float
    k: int
    n_real: int
    n_fake: int


def _row_blocks(n_rows: int, n_cols: int, block_bytes: int) -> Iterator[slice]:
    step = max(1, int(block_bytes) // (8 * max(n_cols, 1)))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def _sq_dists(a: np.ndarray, a_sq: np.ndarray, b: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    d = a @ b.T
    d *= -2.0
    d += a_sq[:, None]
    d += b_sq[None, :]
    np.maximum(d, 0.0, out=d)
    return d


def _knn_sq_radii(x: np.ndarray, k: int, block_bytes: int) -> np.ndarray:
    n = x.shape[0]
    if not 1 <= k <= n - 1:
        raise ValueError(f"k must be between 1 and n - 1 = {n - 1} (self excluded), got {k}")
    sq = np.einsum("ij,ij->i", x, x)
    out = np.empty(n)
    for blk in _row_blocks(n, n, block_bytes):
        d = _sq_dists(x[blk], sq[blk], x, sq)
        rows = np.arange(blk.stop - blk.start)
        d[rows, rows + blk.start] = np.inf
        out[blk] = np.partition(d, k - 1, axis=1)[:, k - 1]
    return out


def knn_radii(x: Any, k: int, *, block_bytes: int = DEFAULT_BLOCK_BYTES) -> np.ndarray:
    """Distance from each row of x [n, d] to its k-th nearest other row (float64 [n])."""
    return np.sqrt(_knn_sq_radii(as_features(x, "x", 2), int(k), block_bytes))


@dataclass(frozen=True)
class _Cross:
    in_real_balls: np.ndarray   # per fake: number of real balls containing it
    in_fake_ball: np.ndarray    # per real: inside at least one fake ball
    nn_fake_sq: np.ndarray      # per real: squared distance to nearest fake


def _cross(real: np.ndarray, fake: np.ndarray, r_real: np.ndarray, r_fake: np.ndarray | None,
           block_bytes: int) -> _Cross:
    rs, fs = np.einsum("ij,ij->i", real, real), np.einsum("ij,ij->i", fake, fake)
    counts = np.zeros(fake.shape[0], dtype=np.int64)
    in_fake = np.zeros(real.shape[0], dtype=bool)
    nn = np.empty(real.shape[0])
    for blk in _row_blocks(real.shape[0], fake.shape[0], block_bytes):
        d = _sq_dists(real[blk], rs[blk], fake, fs)
        counts += (d <= r_real[blk, None]).sum(axis=0)
        if r_fake is not None:
            in_fake[blk] = (d <= r_fake[None, :]).any(axis=1)
        nn[blk] = d.min(axis=1)
    return _Cross(counts, in_fake, nn)


def _inputs(real: Any, fake: Any) -> tuple[np.ndarray, np.ndarray]:
    r, f = as_features(real, "real", 2), as_features(fake, "fake", 2)
    same_dim(r, f, "real", "fake")
    return r, f


def precision_recall(real: Any, fake: Any, k: int = 3, *,
                     block_bytes: int = DEFAULT_BLOCK_BYTES) -> PRResult:
    """Precision: share of fake rows inside some real k-NN ball; recall: the converse."""
    r, f = _inputs(real, fake)
    k = int(k)
    cross = _cross(r, f, _knn_sq_radii(r, k, block_bytes), _knn_sq_radii(f, k, block_bytes),
                   block_bytes)
    return PRResult(precision=float((cross.in_real_balls > 0).mean()),
                    recall=float(cross.in_fake_ball.mean()), k=k,
                    n_real=r.shape[0], n_fake=f.shape[0])


def density_coverage(real: Any, fake: Any, k: int = 5, *,
                     block_bytes: int = DEFAULT_BLOCK_BYTES) -> DCResult:
    """Density: mean number of real k-NN balls holding a fake row, over k; coverage: share
    of real balls holding at least one fake row."""
    r, f = _inputs(real, fake)
    k = int(k)
    radii = _knn_sq_radii(r, k, block_bytes)
    cross = _cross(r, f, radii, None, block_bytes)
    return DCResult(density=float(cross.in_real_balls.sum() / (k * f.shape[0])),
                    coverage=float((cross.nn_fake_sq <= radii).mean()), k=k,
                    n_real=r.shape[0], n_fake=f.shape[0])
