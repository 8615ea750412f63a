"""Number formatting for everything the reports show (tables, figure labels, findings).

One rule: 3 significant digits, trailing zeros kept (so precision reads the same
everywhere: 1.10, 1.12, 0.00657), fixed notation inside [1e-3, 1e4) and scientific
("2.06e4", "6.57e-5") outside it. Missing values (None, NaN) print as "–".

    num(7113.4) -> "7110"     num(20580) -> "2.06e4"     num(0.00657) -> "0.00657"
    interval(1.02, 1.11) -> "[1.02, 1.11]"               pct(0.456) -> "46%"
"""

from __future__ import annotations

import math
from typing import Any

SIG = 3
FIXED_RANGE = (1e-3, 1e4)
MISSING = "–"


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def num(value: Any, sig: int = SIG) -> str:
    """`value` with `sig` significant digits (see the module docstring); "–" if missing;
    non-numbers are returned as text."""
    v = _float(value)
    if v is None:
        return MISSING if value is None or _is_nan(value) else str(value)
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if v == 0:
        return "0"
    rounded = float(f"{v:.{sig - 1}e}")  # round first: 9999.6 -> 1.00e4 (scientific)
    exponent = math.floor(math.log10(abs(rounded)))
    if FIXED_RANGE[0] <= abs(rounded) < FIXED_RANGE[1]:
        return f"{rounded:.{max(sig - 1 - exponent, 0)}f}"
    mantissa = rounded / 10**exponent
    return f"{mantissa:.{sig - 1}f}e{exponent}"


def _is_nan(value: Any) -> bool:
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def interval(low: Any, high: Any, sig: int = SIG) -> str:
    """A confidence interval as "[low, high]"."""
    return f"[{num(low, sig)}, {num(high, sig)}]"


def estimate(value: Any, low: Any, high: Any, sig: int = SIG) -> str:
    """A point estimate with its interval: "1.09 [1.07, 1.11]"."""
    return f"{num(value, sig)} {interval(low, high, sig)}"


def pval(value: Any, floor: Any = None, bound: Any = False) -> str:
    """A p-value in the same notation; "<floor" when it sits below the test's resolution floor
    (e.g. 1 / (permutations + 1)); "≤p" when the analysis reports p as an upper bound."""
    v, f = _float(value), _float(floor)
    if v is None:
        return MISSING
    if bound is True or (bound not in (None, False) and _float(bound)):
        return f"≤{num(v)}"
    if v == 0 and f is None:  # underflow of a normal tail, not an exact zero
        return "<1e-300"
    if f is not None and v <= f:
        return f"<{num(f)}" if v < f else f"≤{num(f)}"
    return num(v)


def pct(value: Any) -> str:
    """A share as a whole percentage ("46%")."""
    v = _float(value)
    if v is None:
        return MISSING
    return f"{100 * v:.0f}%".replace("-0%", "0%")


def count(value: Any) -> str:
    """A count (faces, pairs, draws) as an integer with thin grouping ("12 000")."""
    v = _float(value)
    if v is None:
        return MISSING
    return f"{int(round(v)):,}".replace(",", "\u202f")


def tick(value: Any) -> str:
    """An axis tick label: `num` without trailing zeros (ticks are round values: 0.04, 5)."""
    text = num(value)
    if "e" in text:
        mantissa, exp = text.split("e")
        return (mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa) + "e" + exp
    return text.rstrip("0").rstrip(".") if "." in text else text


def sort_key(value: Any) -> str:
    """The value a sortable table column sorts by (full precision; "" when missing)."""
    v = _float(value)
    return "" if v is None else repr(v)
