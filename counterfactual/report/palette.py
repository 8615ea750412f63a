"""One colour and one marker per feature space, the same in every plot and table of a report.

Colours are Okabe & Ito's colour-blind-safe palette (Color Universal Design, 2008) without
its yellow (too light on white); spaces take them in the run's space order. Terms of the
FD decomposition are told apart by line style, never by colour.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Okabe-Ito: blue, vermillion, bluish green, reddish purple, orange, sky blue, black.
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
# FD decomposition terms and the fitted curve: line styles (matplotlib names).
LINE_STYLES = {"fd": "-", "mean_term": "--", "trace_term": ":", "fit": "-."}
TERM_LABELS = {
    "fd": "FD",
    "mean_term": "mean term ‖μA−μB‖²",
    "trace_term": "trace term",
    "fit": "quadratic fit",
}


@dataclass(frozen=True)
class Style:
    """How one space is drawn."""

    color: str
    marker: str


def space_styles(names: Iterable[str]) -> dict[str, Style]:
    """name -> Style, assigned in the given order (pass the run's full space order so a
    space keeps its style in every figure, whichever subset a figure shows)."""
    out: dict[str, Style] = {}
    for i, name in enumerate(dict.fromkeys(names)):
        out[name] = Style(OKABE_ITO[i % len(OKABE_ITO)], MARKERS[i % len(MARKERS)])
    return out
