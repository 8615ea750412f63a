"""k-NN manifold metrics: precision/recall (Kynkäänniemi et al. 2019) and density/coverage
(Naeem et al. 2020).

Each real (fake) point gets a ball whose radius is the distance to its k-th nearest neighbour
in its own set, the point itself excluded by index (duplicates still count as neighbours).
Balls are closed: a point on the boundary is inside (``<=``; the reference prdc code uses
``<``, which differs only on exact ties). Distances are squared Euclidean in float64,
||a||^2 + ||b||^2 - 2 a.b clipped at 0, compared without square roots; ties at a boundary are
resolved up to that rounding (exact for small-integer coordinates).

Memory: the feature sets are read through `Rows` (any real dtype, memory-mapped files, bootstrap
resamples as index views) one float64 block at a time, and distances are computed in tiles of
at most ``block_bytes`` (default 256 MiB; row block x column block), keeping the k smallest
distances per row. 50k x 2048 sets therefore need a few tiles of memory, not the 0.8 GB of a
float64 copy of each set. `manifold_metrics` computes precision/recall and density/coverage
with shared passes (three N x N distance passes instead of five).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._checks import same_dim
from .rows import DEFAULT_BLOCK_BYTES, Rows, as_rows


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


def _tile_rows(dim: int, block_bytes: int) -> int:
    """Rows per block: a square distance tile and one block of rows each fit block_bytes."""
    side = max(1, math.isqrt(max(int(block_bytes), 8) // 8))
    return max(1, min(side, int(block_bytes) // (8 * max(dim, 1))))


def _with_norms(
    blocks: Iterator[tuple[slice, np.ndarray]],
) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
    for blk, a in blocks:
        yield blk, a, np.einsum("ij,ij->i", a, a)


def _sq_dists(a: np.ndarray, a_sq: np.ndarray, b: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    d = a @ b.T
    d *= -2.0
    d += a_sq[:, None]
    d += b_sq[None, :]
    np.maximum(d, 0.0, out=d)
    out: np.ndarray = d
    return out


def _knn_sq_radii(x: Rows, ks: Sequence[int], block_bytes: int) -> dict[int, np.ndarray]:
    """Squared distance of each row to its k-th nearest other row, for every k in ks."""
    n = x.n
    for k in ks:
        if not 1 <= k <= n - 1:
            raise ValueError(f"k must be between 1 and n - 1 = {n - 1} (self excluded), got {k}")
    kmax = max(ks)
    step = _tile_rows(x.dim, block_bytes)
    out = {k: np.empty(n) for k in ks}
    for rblk, a, a_sq in _with_norms(x.blocks(step)):
        best = np.empty((a.shape[0], 0))
        for cblk, b, b_sq in _with_norms(x.blocks(step)):
            d = _sq_dists(a, a_sq, b, b_sq)
            lo, hi = max(rblk.start, cblk.start), min(rblk.stop, cblk.stop)
            if lo < hi:  # the tile holds the diagonal
                own = np.arange(lo, hi)
                d[own - rblk.start, own - cblk.start] = np.inf
            best = np.concatenate([best, d], axis=1)
            if best.shape[1] > kmax:
                best = np.partition(best, kmax - 1, axis=1)[:, :kmax]
        best.sort(axis=1)
        for k in ks:
            out[k][rblk] = best[:, k - 1]
    return out


def knn_radii(x: Any, k: int, *, block_bytes: int = DEFAULT_BLOCK_BYTES) -> np.ndarray:
    """Distance from each row of x [n, d] to its k-th nearest other row (float64 [n])."""
    radii: np.ndarray = np.sqrt(_knn_sq_radii(as_rows(x, "x", 2), [int(k)], block_bytes)[int(k)])
    return radii


@dataclass(frozen=True)
class _Cross:
    in_real_balls: list[np.ndarray]  # per real radius set, per fake: real balls containing it
    in_fake_ball: np.ndarray  # per real: inside at least one fake ball
    nn_fake_sq: np.ndarray  # per real: squared distance to nearest fake


def _cross(
    real: Rows,
    fake: Rows,
    r_real: Sequence[np.ndarray],
    r_fake: np.ndarray | None,
    block_bytes: int,
) -> _Cross:
    counts = [np.zeros(fake.n, dtype=np.int64) for _ in r_real]
    in_fake = np.zeros(real.n, dtype=bool)
    nn = np.full(real.n, np.inf)
    step = _tile_rows(real.dim, block_bytes)
    for rblk, a, a_sq in _with_norms(real.blocks(step)):
        for cblk, b, b_sq in _with_norms(fake.blocks(step)):
            d = _sq_dists(a, a_sq, b, b_sq)
            for count, radii in zip(counts, r_real):
                count[cblk] += (d <= radii[rblk, None]).sum(axis=0)
            if r_fake is not None:
                in_fake[rblk] |= (d <= r_fake[None, cblk]).any(axis=1)
            np.minimum(nn[rblk], d.min(axis=1), out=nn[rblk])
    return _Cross(counts, in_fake, nn)


def _inputs(real: Any, fake: Any) -> tuple[Rows, Rows]:
    r, f = as_rows(real, "real"), as_rows(fake, "fake")
    same_dim(r, f, "real", "fake")
    return r, f


def _pr(r: Rows, f: Rows, k: int, cross: _Cross, which: int) -> PRResult:
    return PRResult(
        precision=float((cross.in_real_balls[which] > 0).mean()),
        recall=float(cross.in_fake_ball.mean()),
        k=k,
        n_real=r.n,
        n_fake=f.n,
    )


def _dc(r: Rows, f: Rows, k: int, radii: np.ndarray, cross: _Cross, which: int) -> DCResult:
    return DCResult(
        density=float(cross.in_real_balls[which].sum() / (k * f.n)),
        coverage=float((cross.nn_fake_sq <= radii).mean()),
        k=k,
        n_real=r.n,
        n_fake=f.n,
    )


def precision_recall(
    real: Any, fake: Any, k: int = 3, *, block_bytes: int = DEFAULT_BLOCK_BYTES
) -> PRResult:
    """Precision: share of fake rows inside some real k-NN ball; recall: the converse."""
    r, f = _inputs(real, fake)
    k = int(k)
    r_real = _knn_sq_radii(r, [k], block_bytes)[k]
    cross = _cross(r, f, [r_real], _knn_sq_radii(f, [k], block_bytes)[k], block_bytes)
    return _pr(r, f, k, cross, 0)


def density_coverage(
    real: Any, fake: Any, k: int = 5, *, block_bytes: int = DEFAULT_BLOCK_BYTES
) -> DCResult:
    """Density: mean number of real k-NN balls holding a fake row, over k; coverage: share
    of real balls holding at least one fake row."""
    r, f = _inputs(real, fake)
    k = int(k)
    radii = _knn_sq_radii(r, [k], block_bytes)[k]
    return _dc(r, f, k, radii, _cross(r, f, [radii], None, block_bytes), 0)


def manifold_metrics(
    real: Any, fake: Any, pr_k: int = 3, dc_k: int = 5, *, block_bytes: int = DEFAULT_BLOCK_BYTES
) -> tuple[PRResult, DCResult]:
    """`precision_recall` (k = pr_k) and `density_coverage` (k = dc_k) with shared distance
    passes; identical to the two separate calls."""
    r, f = _inputs(real, fake)
    pr_k, dc_k = int(pr_k), int(dc_k)
    real_radii = _knn_sq_radii(r, sorted({pr_k, dc_k}), block_bytes)
    fake_radii = _knn_sq_radii(f, [pr_k], block_bytes)[pr_k]
    cross = _cross(r, f, [real_radii[pr_k], real_radii[dc_k]], fake_radii, block_bytes)
    return _pr(r, f, pr_k, cross, 0), _dc(r, f, dc_k, real_radii[dc_k], cross, 1)
