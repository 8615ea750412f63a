"""The report's one number format, checked against Python's own rounding (format 'g'/'e')."""

from __future__ import annotations

import math

import numpy as np
import pytest

from counterfactual.report.numbers import count, estimate, interval, num, pct, pval, sort_key, tick


@pytest.mark.parametrize(
    "value, text",
    [
        (7113.4, "7110"),
        (20580, "2.06e4"),
        (0.00657, "0.00657"),
        (1.12, "1.12"),
        (1.119, "1.12"),
        (1.1, "1.10"),
        (58.95, "59.0"),
        (9999.6, "1.00e4"),
        (0.0009996, "0.00100"),
        (0.00099949, "9.99e-4"),
        (297000, "2.97e5"),
        (-3.2e-5, "-3.20e-5"),
        (0, "0"),
        (200, "200"),
    ],
)
def test_examples(value, text):
    assert num(value) == text


def test_three_significant_digits_and_the_notation_rule():
    rng = np.random.default_rng(0)
    values = np.concatenate([10 ** rng.uniform(-8, 9, 3000), -(10 ** rng.uniform(-8, 9, 300))])
    for v in values:
        text = num(v)
        # the same number as Python's 3-significant-digit rounding
        assert float(text) == pytest.approx(float(f"{v:.2e}"), rel=1e-12), (v, text)
        rounded = abs(float(f"{v:.2e}"))
        assert ("e" in text) == (not 1e-3 <= rounded < 1e4), (v, text)
        mantissa = text.split("e")[0].lstrip("-")
        digits = mantissa.replace(".", "").lstrip("0")
        assert len(digits) == 3 or (
            rounded >= 1000 and len(digits) == 4 and digits.endswith("0")
        ), text


def test_missing_and_special_values():
    assert num(None) == num(float("nan")) == num(np.nan) == "–"
    assert num(math.inf) == "∞" and num(-math.inf) == "-∞"
    assert num("abc") == "abc"
    assert interval(1.02, 1.111) == "[1.02, 1.11]"
    assert estimate(1.09, 1.07, 1.111) == "1.09 [1.07, 1.11]"
    assert pct(0.456) == "46%" and pct(None) == "–"
    assert count(12000) == "12\u202f000"
    assert sort_key(None) == "" and float(sort_key(0.1234567)) == 0.1234567


def test_p_values_and_ticks():
    assert pval(0.2) == "0.200" and pval(1.2e-18) == "1.20e-18"
    assert pval(0.0) == "<1e-300"  # an underflowed normal tail
    assert pval(0.0001, floor=0.001) == "<0.00100" and pval(0.001, floor=0.001) == "≤0.00100"
    assert [tick(v) for v in (0.04, 5.0, 0.0, 20000.0, 0.5)] == ["0.04", "5", "0", "2e4", "0.5"]


def test_p_value_bounds():
    assert pval(0.002, bound=True) == "≤0.00200" and pval(0.002, bound=False) == "0.00200"
    assert pval(0.002, bound=None) == "0.00200"


def test_ratio_estimate_names_an_unbounded_interval():
    from counterfactual.report.headline import ratio_estimate
    from counterfactual.report.numbers import estimate

    assert ratio_estimate(0.00605, 1.46e-22, 2.51e17) == "0.00605, interval unbounded"
    assert ratio_estimate(0.29, 0.104, 0.809) == estimate(0.29, 0.104, 0.809)
    assert ratio_estimate(1.5, -0.2, 3.0) == estimate(1.5, -0.2, 3.0)  # a raw sensitivity
