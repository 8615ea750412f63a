"""Test stand-ins in the real registries for a fixture's lifetime, never at import time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from counterfactual.foundation.registry import Entry, Registry
from counterfactual.interventions.base import INTERVENTIONS
from extractors.registry import EXTRACTORS, VARIANTS
from extractors.scorers import SCORERS
from generators import GENERATORS

REGISTRIES: tuple[Registry, ...] = (
    GENERATORS,
    EXTRACTORS,
    VARIANTS,
    SCORERS,
    INTERVENTIONS,
)


@contextmanager
def registered(register: Callable[[], object]) -> Iterator[None]:
    """Run `register()` (which adds entries to the real registries); on exit undo exactly the
    entries it added or replaced, so entries registered meanwhile by lazy imports survive."""
    before = [dict(reg._entries) for reg in REGISTRIES]
    register()
    changed: list[tuple[Registry, dict[str, Entry], dict[str, Entry]]] = []
    for reg, old in zip(REGISTRIES, before, strict=True):
        new = {n: e for n, e in reg._entries.items() if old.get(n) is not e}
        changed.append((reg, old, new))
    try:
        yield
    finally:
        for reg, old, new in changed:
            for name, entry in new.items():
                if reg._entries.get(name) is not entry:
                    continue  # replaced again since: not ours to undo
                if name in old:
                    reg._entries[name] = old[name]
                else:
                    del reg._entries[name]
