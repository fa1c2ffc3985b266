"""Transform functions: the seed's linear formula alphabet, evaluated without eval."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.dashboards.transform import TransformError, parse

VALUES = np.array([212.0, 32.0, -40.0])


@pytest.mark.parametrize(("text", "period", "expected"), [
    ("x", 60, [212.0, 32.0, -40.0]),
    ("(x-32)*5/9", 60, [100.0, 0.0, -40.0]),
    ("x / 1000", 60, [0.212, 0.032, -0.04]),
    ("x/p", 4, [53.0, 8.0, -10.0]),
    ("p * x * 2", 0.5, [212.0, 32.0, -40.0]),
    ("-x + +3", 1, [-209.0, -29.0, 43.0]),
    (" 2.5 * ( x - .5 ) ", 1, [528.75, 78.75, -101.25]),
    ("7", 1, [7.0, 7.0, 7.0]),
    ("x - x", 1, [0.0, 0.0, 0.0]),
])
def test_evaluates(text: str, period: float, expected: list[float]) -> None:
    assert parse(text).apply(VALUES, period).tolist() == pytest.approx(expected)


def test_division_by_zero_gives_non_finite_values_for_the_caller_to_drop() -> None:
    out = parse("x/(p-60)").apply(VALUES, 60)
    assert not np.isfinite(out).any()


@pytest.mark.parametrize(("text", "reason"), [
    ("x*x", "not linear"), ("(x+1)*(x-1)", "not linear"), ("1/x", "not linear"), ("p/(x+1)", "not linear"),
    ("2x", "not a formula"), ("x**2", "not a formula"), ("x +", "not a formula"), ("()", "not a formula"),
    ("xp", "not a formula"), ("abs(x)", "may only contain"), ("__import__('os').system('id')", "may only contain"),
    ("x % 2", "may only contain"), ("x;1", "may only contain"), ("", "blank"), ("   ", "blank"),
    ("x" + "+1" * 200, "too long"),
])
def test_refuses(text: str, reason: str) -> None:
    with pytest.raises(TransformError, match=reason):
        parse(text)
