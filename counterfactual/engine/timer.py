"""Wall time per category of a run (generation, extraction, statistics, ...), and its one-line
summary for the console."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MAIN_CATEGORIES = ("generation", "extraction", "statistics")


class Timer:
    """Wall time per category (generation, extraction, statistics, ...)."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self._start = time.perf_counter()

    @contextmanager
    def __call__(self, category: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.totals[category] += time.perf_counter() - t0

    def summary(self) -> dict[str, Any]:
        total = time.perf_counter() - self._start
        out = {k: round(self.totals.get(k, 0.0), 3) for k in MAIN_CATEGORIES}
        out["other"] = round(
            max(0.0, total - sum(self.totals.get(k, 0.0) for k in MAIN_CATEGORIES)), 3
        )
        out["total"] = round(total, 3)
        out["details"] = {
            k: round(v, 3) for k, v in sorted(self.totals.items()) if k not in MAIN_CATEGORIES
        }
        return out


def format_timing(timing: dict[str, Any]) -> str:
    """One console line: each main category's seconds and share, then the details."""
    total = timing["total"] or 1e-9
    parts = [
        f"{k} {timing[k]:.1f} s ({100 * timing[k] / total:.1f}%)"
        for k in (*MAIN_CATEGORIES, "other")
    ]
    details = ", ".join(f"{k} {v:.1f} s" for k, v in timing.get("details", {}).items())
    return f"timing: {', '.join(parts)}; total {timing['total']:.1f} s" + (
        f" [other: {details}]" if details else ""
    )
