"""`FeatureStats`: float64 mean and covariance of features, streamed and mergeable.

Chunks are combined with the pairwise update of Chan, Golub & LeVeque: each chunk's mean and
centred sum of outer products are computed in float64 around the chunk's own mean, then merged
exactly (no running sum of raw squares, so large means do not cancel the covariance).
Files are ``.npz`` with pytorch-fid's keys ``mu`` and ``sigma`` (plus ``n`` when known).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from counterfactual.foundation.files import atomic_write

from ._checks import as_float64, as_mean_cov
from .rows import Rows

#: Rows converted to float64 at a time by `FeatureStats.from_features` (bounds memory).
DEFAULT_CHUNK_ROWS = 8192


class FeatureStats:
    """Sample count, mean and unbiased (N-1) covariance of feature vectors, all float64.

    Build with `from_features`, or create empty (``FeatureStats(dim)``) and `append` chunks.
    ``keep_features=True`` also keeps the raw rows (needed by the exact SVD route of the
    Fréchet distance when n <= d). Statistics loaded from a file without ``n`` can be used
    for distances but not appended to or merged.
    """

    def __init__(self, dim: int, *, keep_features: bool = False) -> None:
        if int(dim) < 1:
            raise ValueError(f"FeatureStats: dim must be >= 1, got {dim}")
        self._dim = int(dim)
        self._n: int | None = 0
        self._mean = np.zeros(self._dim)
        self._m2: np.ndarray | None = np.zeros((self._dim, self._dim))
        self._cov_fixed: np.ndarray | None = None  # only for loaded stats without n
        self._keep = bool(keep_features)
        self._chunks: list[np.ndarray] = []

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_features(
        cls, x: Any, *, keep_features: bool = False, chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> FeatureStats:
        """Statistics of a feature array [n, d] or `Rows` view (a memory-mapped array is
        streamed: converted to float64 ``chunk_rows`` at a time)."""
        if isinstance(x, Rows):
            stats = cls(x.dim, keep_features=keep_features)
            for _, block in x.blocks(chunk_rows):
                stats.append(block)
            return stats
        arr = np.asarray(x)
        if arr.ndim != 2:
            raise ValueError(f"features: expected a 2-D array [n, d], got shape {arr.shape}")
        stats = cls(arr.shape[1], keep_features=keep_features)
        for start in range(0, arr.shape[0], max(1, int(chunk_rows))):
            stats.append(arr[start : start + chunk_rows])
        return stats

    @classmethod
    def from_moments(cls, mean: Any, cov: Any, n: int | None = None) -> FeatureStats:
        """Statistics from a known mean and covariance (``n`` = sample count, if known)."""
        m, s = as_mean_cov(mean, cov, "")
        stats = cls(m.shape[0])
        stats._mean = m
        if n is None:
            stats._n, stats._m2, stats._cov_fixed = None, None, s
        else:
            n = int(n)
            if n < 2:
                raise ValueError(f"FeatureStats.from_moments: n must be >= 2, got {n}")
            stats._n, stats._m2 = n, s * (n - 1)
        return stats

    # -------------------------------------------------------------------- updating
    def append(self, chunk: Any) -> FeatureStats:
        """Add rows [b, d] (any real dtype; accumulated in float64). Returns ``self``."""
        self._require_n("append to")
        x = as_float64(chunk, "chunk", 2)
        if x.shape[1] != self._dim:
            raise ValueError(f"chunk: expected {self._dim} columns, got shape {x.shape}")
        if x.shape[0] == 0:
            return self
        if self._keep:
            self._chunks.append(np.array(chunk, copy=True))
        b_mean = x.mean(axis=0)
        xc = x - b_mean
        self._combine(x.shape[0], b_mean, xc.T @ xc)
        return self

    def _combine(self, nb: int, mean_b: np.ndarray, m2_b: np.ndarray) -> None:
        na = self._n
        assert na is not None and self._m2 is not None
        n = na + nb
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (nb / n)
        self._m2 = self._m2 + m2_b + np.outer(delta, delta * (na * nb / n))
        self._n = n

    def merge(self, other: FeatureStats) -> FeatureStats:
        """A new `FeatureStats` for the union of both samples (exact pairwise update)."""
        if not isinstance(other, FeatureStats):
            raise TypeError(f"merge: expected FeatureStats, got {type(other).__name__}")
        if other._dim != self._dim:
            raise ValueError(f"merge: dimensions differ ({self._dim} vs {other._dim})")
        self._require_n("merge")
        other._require_n("merge")
        assert self._m2 is not None and other._m2 is not None  # a known n keeps its m2
        keep = self._keep and other._keep
        out = FeatureStats(self._dim, keep_features=keep)
        out._n, out._mean, out._m2 = self._n, self._mean.copy(), self._m2.copy()
        if other._n:
            out._combine(other._n, other._mean, other._m2)
        if keep:
            out._chunks = self._chunks + other._chunks
        return out

    @classmethod
    def merge_all(cls, parts: Iterable[FeatureStats]) -> FeatureStats:
        """Merge `FeatureStats` (at least one) in order; a single part is returned as is."""
        parts = list(parts)
        if not parts:
            raise ValueError("merge_all: no statistics given")
        out = parts[0]
        for p in parts[1:]:
            out = out.merge(p)
        return out

    def _require_n(self, what: str) -> None:
        if self._n is None:
            raise ValueError(
                f"cannot {what} statistics with unknown sample count n "
                "(loaded from a file without an 'n' entry)"
            )

    # ------------------------------------------------------------------ properties
    @property
    def dim(self) -> int:
        """Feature dimension d."""
        return self._dim

    @property
    def n(self) -> int | None:
        """Number of samples (None when loaded from a file that does not record it)."""
        return self._n

    @property
    def mean(self) -> np.ndarray:
        """Mean vector [d], float64."""
        if self._n == 0:
            raise ValueError("FeatureStats: no samples yet (mean undefined)")
        return self._mean.copy()

    @property
    def cov(self) -> np.ndarray:
        """Unbiased covariance [d, d] (divides by n - 1), float64, exactly symmetric."""
        if self._cov_fixed is not None:
            return self._cov_fixed.copy()
        assert self._n is not None and self._m2 is not None
        if self._n < 2:
            raise ValueError(f"FeatureStats: covariance needs at least 2 samples, have {self._n}")
        c = self._m2 / (self._n - 1)
        return (c + c.T) * 0.5

    @property
    def keeps_features(self) -> bool:
        """Whether raw rows are kept (``keep_features=True``)."""
        return self._keep

    @property
    def features(self) -> np.ndarray:
        """The raw rows [n, d] appended so far (requires ``keep_features=True``)."""
        if not self._keep:
            raise ValueError(
                "FeatureStats: raw features were not kept (build with keep_features=True)"
            )
        if not self._chunks:
            return np.zeros((0, self._dim))
        return np.concatenate(self._chunks, axis=0)

    def __repr__(self) -> str:
        return f"FeatureStats(dim={self._dim}, n={self._n}, keep_features={self._keep})"

    # ---------------------------------------------------------------------- files
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``mu``, ``sigma`` (and ``n`` when known) to an ``.npz`` file, atomically.

        pytorch-fid and clean-fid read such files directly. The path is used as given.
        """
        path = Path(path)
        arrays: dict[str, np.ndarray] = {"mu": self.mean, "sigma": self.cov}
        if self._n is not None:
            arrays["n"] = np.asarray(self._n, dtype=np.int64)

        def write(fh: Any) -> None:
            # numpy's savez stub takes the keyword arrays for its allow_pickle flag (a bool).
            np.savez(fh, **arrays)  # type: ignore[arg-type]

        return atomic_write(path, write, sync=False)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FeatureStats:
        """Read an ``.npz`` with ``mu`` [d] and ``sigma`` [d, d] (``n`` optional)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"statistics file not found: {path}")
        try:
            data = np.load(path, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("a single array, not an archive of named arrays")
            with data:
                contents = {key: data[key] for key in data.files}
        except Exception as exc:  # zipfile, pickle and format errors
            raise ValueError(f"{path}: not a readable .npz statistics file ({exc})") from exc
        for key in ("mu", "sigma"):
            if key not in contents:
                raise ValueError(f"{path}: missing key '{key}' (found keys: {sorted(contents)})")
        mu, sigma, n = contents["mu"], contents["sigma"], contents.get("n")
        if mu.ndim != 1:
            raise ValueError(f"{path}: key 'mu' must be 1-D [d], got shape {mu.shape}")
        if sigma.shape != (mu.shape[0], mu.shape[0]):
            raise ValueError(
                f"{path}: key 'sigma' must have shape ({mu.shape[0]}, "
                f"{mu.shape[0]}) to match 'mu', got {sigma.shape}"
            )
        count = None
        if n is not None:
            if n.size != 1 or not np.issubdtype(n.dtype, np.number):
                raise ValueError(f"{path}: key 'n' must be one number, got {n!r}")
            count = int(n.reshape(()))
        try:
            return cls.from_moments(mu, sigma, count)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc
