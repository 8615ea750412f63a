"""Matched base/twin features of one intervention in one feature space (the analysis input)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from counterfactual.metrics import as_features


@dataclass(frozen=True)
class PairFeatures:
    """Cached features of N matched pairs: row i of ``twin`` is the counterfactual of row i of ``base``.

    ``space_label`` is the display label (``"<name> (untrained)"`` for random weights); it defaults
    to ``space`` for trained spaces and to ``"<space> (untrained)"`` otherwise.
    """

    intervention: str
    space: str
    base: np.ndarray
    twin: np.ndarray
    trained: bool = True
    space_label: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        what = f"features of {self.intervention!r} in space {self.space!r}"
        base = as_features(self.base, f"{what} (base)", min_rows=2)
        twin = as_features(self.twin, f"{what} (twin)", min_rows=2)
        if base.shape != twin.shape:
            raise ValueError(
                f"{what}: base shape {base.shape} != twin shape {twin.shape} "
                "(row i of twin must pair with row i of base)"
            )
        object.__setattr__(self, "base", base)
        object.__setattr__(self, "twin", twin)
        object.__setattr__(self, "trained", bool(self.trained))
        if not self.space_label:
            label = self.space if self.trained else f"{self.space} (untrained)"
            object.__setattr__(self, "space_label", label)

    @property
    def n_pairs(self) -> int:
        return int(self.base.shape[0])

    @property
    def dim(self) -> int:
        return int(self.base.shape[1])

    def labels(self) -> dict[str, Any]:
        """The key and label columns every result row about these pairs carries."""
        return {
            "intervention": self.intervention,
            "space": self.space,
            "space_label": self.space_label,
            "trained": self.trained,
        }
