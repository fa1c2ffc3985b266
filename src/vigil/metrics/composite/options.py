"""Reading option values (always written as strings or numbers) into typed values."""

from __future__ import annotations

import math
import re

from .errors import CompositeError, where
from .syntax import Node, Num, Pos, Str, describe

_FRACTION = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*$")
_SHIFT = re.compile(r"^([+-]?)(\d+(?:\.\d+)?)([smhdw]?)$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def fail_at(message: str, pos: Pos) -> CompositeError:
    return CompositeError(f"{message} {where(pos.line, pos.column)}", line=pos.line, column=pos.column)


def fail(message: str, node: Node) -> CompositeError:
    return fail_at(message, node.pos)


def text(fn: str, key: str, node: Node) -> str:
    if isinstance(node, Str):
        return node.value
    if isinstance(node, Num):
        return node.text
    raise fail(f"{fn}(): option '{key}' must be a string or a number, got {describe(node)}", node)


def number(fn: str, key: str, node: Node) -> float:
    raw = text(fn, key, node)
    try:
        value = float(raw)
    except ValueError:
        raise fail(f"{fn}(): option '{key}' must be a number, got {raw!r}", node) from None
    if not math.isfinite(value):
        raise fail(f"{fn}(): option '{key}' must be a finite number, got {raw!r}", node)
    return value


def positive(fn: str, key: str, node: Node) -> float:
    value = number(fn, key, node)
    if value <= 0:
        raise fail(f"{fn}(): option '{key}' must be greater than 0, got {text(fn, key, node)!r}", node)
    return value


def integer(fn: str, key: str, node: Node, *, low: int, high: int | None = None) -> int:
    raw = text(fn, key, node).strip()
    try:
        value = int(raw)
    except ValueError:
        raise fail(f"{fn}(): option '{key}' must be a whole number, got {raw!r}", node) from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise fail(f"{fn}(): option '{key}' must be {bound}, got {value}", node)
    return value


def boolean(fn: str, key: str, node: Node) -> bool:
    raw = text(fn, key, node).strip().lower()
    if raw == "true":
        return True
    if raw == "false":
        return False
    raise fail(f'{fn}(): option \'{key}\' must be "true" or "false", got {raw!r}', node)


def choice(fn: str, key: str, node: Node, allowed: tuple[str, ...]) -> str:
    raw = text(fn, key, node)
    if raw not in allowed:
        raise fail(f"{fn}(): option '{key}' must be one of {', '.join(allowed)}; got {raw!r}", node)
    return raw


def factor(fn: str, key: str, node: Node) -> float:
    """A float ("0.1", "1024") or a simple fraction ("1/1024")."""
    raw = text(fn, key, node)
    match = _FRACTION.match(raw)
    if match:
        denominator = float(match.group(2))
        if denominator == 0:
            raise fail(f"{fn}(): option '{key}' divides by zero: {raw!r}", node)
        return float(match.group(1)) / denominator
    try:
        value = float(raw)
    except ValueError:
        raise fail(
            f"{fn}(): option '{key}' must be a number or a fraction like \"1/1024\", got {raw!r}", node
        ) from None
    if not math.isfinite(value):
        raise fail(f"{fn}(): option '{key}' must be a finite number, got {raw!r}", node)
    return value


def shifts(node: Node) -> tuple[int, ...]:
    """timeshift()'s offsets, e.g. "0,1,2,3w", "1h,1d", "+7d"; seconds, positive = back.

    An offset without a unit takes the unit of the next offset that has one, so the
    original's "0,1,2,3w" (one trailing unit for the list) and "1h,1d" both read naturally.
    """
    if not isinstance(node, Str):
        raise fail(f"timeshift(): the first argument must be a string of offsets, got {describe(node)}", node)
    parts = [p.strip() for p in node.value.split(",")]
    parsed: list[tuple[int, float, str]] = []
    for part in parts:
        match = _SHIFT.match(part)
        if not match:
            raise fail(
                f"timeshift(): bad offset {part!r}; expected a number with an optional sign and "
                "a unit of s, m, h, d or w",
                node,
            )
        sign = -1 if match.group(1) == "+" else 1  # '-' and no sign both mean back in time
        parsed.append((sign, float(match.group(2)), match.group(3)))
    result: list[int] = []
    unit = ""
    for sign, amount, own_unit in reversed(parsed):
        unit = own_unit or unit
        if not unit and amount != 0:
            raise fail(f"timeshift(): offset '{amount:g}' has no unit (s, m, h, d or w)", node)
        result.append(sign * round(amount * UNIT_SECONDS.get(unit, 1)))
    return tuple(reversed(result))
