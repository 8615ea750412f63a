"""`Rows`: a feature matrix read in float64 blocks, never converted or copied as a whole.

The metrics take feature arrays of any real dtype (float32 features, a `numpy.memmap` of a
file larger than memory) or a `Rows` view of selected rows (a bootstrap resample). They read
them block by block through `Rows`, converting one block at a time to float64 and checking it
for NaN/inf, so memory stays at a few blocks whatever the number of rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ._checks import check_finite

#: Default working-set size of one float64 block of rows.
DEFAULT_BLOCK_BYTES = 256 * 2**20


class Rows:
    """Rows ``index`` (default: all) of a 2-D real array ``data``, read as float64 blocks."""

    def __init__(self, data: Any, index: Any = None, name: str = "x") -> None:
        arr = data if isinstance(data, np.ndarray) else np.asarray(data)
        if arr.dtype == object or not (
            np.issubdtype(arr.dtype, np.floating)
            or np.issubdtype(arr.dtype, np.integer)
            or arr.dtype == np.bool_
        ):
            raise ValueError(f"{name}: expected a real numeric array, got dtype {arr.dtype}")
        if arr.ndim != 2:
            raise ValueError(f"{name}: expected a 2-D array, got shape {arr.shape}")
        self.data, self.name = arr, name
        self.index = None if index is None else np.asarray(index, dtype=np.intp)

    @property
    def n(self) -> int:
        return int(self.data.shape[0] if self.index is None else self.index.shape[0])

    @property
    def dim(self) -> int:
        return int(self.data.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n, self.dim)

    def __len__(self) -> int:
        return self.n

    def take(self, positions: Any) -> Rows:
        """The view of rows ``positions`` of this view (duplicates allowed: a resample)."""
        positions = np.asarray(positions, dtype=np.intp)
        index = positions if self.index is None else self.index[positions]
        return Rows(self.data, index, self.name)

    def gather(self, positions: Any) -> np.ndarray:
        """Rows ``positions`` as a float64 array [len(positions), dim] (finite-checked)."""
        positions = np.asarray(positions, dtype=np.intp)
        index = positions if self.index is None else self.index[positions]
        return self._float64(self.data[index])

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows start..stop-1 as float64 [stop - start, dim] (finite-checked)."""
        if self.index is None:
            return self._float64(self.data[start:stop])
        return self._float64(self.data[self.index[start:stop]])

    def block_rows(self, block_bytes: int = DEFAULT_BLOCK_BYTES, cols: int | None = None) -> int:
        """Rows per block so that a float64 [rows, cols] (default [rows, dim]) fits block_bytes."""
        return max(1, int(block_bytes) // (8 * max(cols or self.dim, 1)))

    def blocks(self, rows: int) -> Iterator[tuple[slice, np.ndarray]]:
        """(slice, float64 block) pairs covering all rows, ``rows`` at a time."""
        for start in range(0, self.n, max(1, int(rows))):
            stop = min(start + int(rows), self.n)
            yield slice(start, stop), self.read(start, stop)

    def materialize(self) -> np.ndarray:
        """All rows as one float64 array (for small sets only)."""
        return self.read(0, self.n)

    def _float64(self, block: np.ndarray) -> np.ndarray:
        out = np.asarray(block, dtype=np.float64)
        check_finite(out, self.name)
        return out

    def __repr__(self) -> str:
        return f"Rows({self.name!r}, n={self.n}, dim={self.dim}, dtype={self.data.dtype})"


def as_rows(x: Any, name: str, min_rows: int = 1) -> Rows:
    """A `Rows` view of x (a `Rows` is returned as is, renamed), at least ``min_rows`` rows."""
    rows = Rows(x.data, x.index, name) if isinstance(x, Rows) else Rows(x, name=name)
    if rows.n < min_rows or rows.dim < 1:
        raise ValueError(
            f"{name}: need at least {min_rows} row(s) and 1 column, got shape {rows.shape}"
        )
    return rows
