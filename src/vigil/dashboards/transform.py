"""A stream's `transform_function`: the seed's linear formula in `x` (the value) and `p` (the period).

The seed allows only digits, whitespace, parentheses, `x`, `p` and `+ - * /` (its regex is
`/^[\\dxp()+-\\/ ]+$/`; we also accept `.` in numbers, which that regex's `+-/` range lets through).
The text is parsed by a small LALR grammar and compiled into a numpy function: nothing is ever
handed to `eval`. Formulas that are not linear in `x` (`x*x`, `1/x`, `x/(x+1)`) are refused, as the
seed warns they give false data on aggregated values.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

MAX_LENGTH = 255
ALPHABET = re.compile(r"\A[\dxp()+\-*/. \t]+\Z")

GRAMMAR = r"""
?start: sum
?sum: product
    | sum "+" product   -> add
    | sum "-" product   -> sub
?product: unary
    | product "*" unary -> mul
    | product "/" unary -> div
?unary: atom
    | "-" unary         -> neg
    | "+" unary
?atom: NUMBER           -> number
    | X                 -> x
    | P                 -> p
    | "(" sum ")"
X: "x"
P: "p"
NUMBER: /\d+(\.\d*)?|\.\d+/
%ignore /[ \t]+/
"""

Fn = Callable[[np.ndarray, float], np.ndarray]


class TransformError(ValueError):
    pass


@cache
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", maybe_placeholders=False)


@dataclass(frozen=True, slots=True)
class Transform:
    text: str
    _fn: Fn

    def apply(self, values: np.ndarray, period: float) -> np.ndarray:
        """Transformed values; division by zero gives inf/nan, which the caller drops."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = self._fn(values.astype(np.float64, copy=False), float(period))
        return np.broadcast_to(np.asarray(out, dtype=np.float64), values.shape)


def _compile(node: Tree | Token) -> tuple[Fn, bool]:
    """(function, depends on x)."""
    if isinstance(node, Token):  # a bare `+ unary` collapses to its child token only via rules below
        raise TransformError(f"unexpected {node!s}")
    kind = node.data
    if kind == "number":
        value = float(node.children[0])
        return (lambda x, p: value), False
    if kind == "x":
        return (lambda x, p: x), True
    if kind == "p":
        return (lambda x, p: p), False
    if kind == "neg":
        fn, linear = _compile(node.children[0])
        return (lambda x, p: -fn(x, p)), linear
    if kind == "unary":  # unary plus
        return _compile(node.children[0])
    left, lx = _compile(node.children[0])
    right, rx = _compile(node.children[1])
    if kind == "add":
        return (lambda x, p: left(x, p) + right(x, p)), lx or rx
    if kind == "sub":
        return (lambda x, p: left(x, p) - right(x, p)), lx or rx
    if kind == "mul":
        if lx and rx:
            raise TransformError("multiplies x by itself, which is not linear")
        return (lambda x, p: left(x, p) * right(x, p)), lx or rx
    if kind == "div":
        if rx:
            raise TransformError("divides by an expression of x, which is not linear")
        return (lambda x, p: left(x, p) / right(x, p)), lx
    raise TransformError(f"unexpected {kind}")


def parse(text: str) -> Transform:
    """Check and compile a transform function; raises TransformError with a reason."""
    if not isinstance(text, str) or not text.strip():
        raise TransformError("must not be blank")
    if len(text) > MAX_LENGTH:
        raise TransformError(f"is too long (maximum is {MAX_LENGTH} characters)")
    if not ALPHABET.match(text):
        raise TransformError("may only contain digits, whitespace, parentheses, x, p and + - * /")
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise TransformError(f"is not a formula: unexpected input at column {exc.column}") from None
    except RecursionError:
        raise TransformError("is nested too deeply") from None
    try:
        fn, _ = _compile(tree if isinstance(tree, Tree) else Tree("number", [tree]))
    except RecursionError:
        raise TransformError("is nested too deeply") from None
    return Transform(text, fn)
