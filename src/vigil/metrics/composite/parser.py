"""Text -> checked expression."""

from __future__ import annotations

from .analyze import analyze
from .expr import Expr
from .grammar import parse_syntax


def parse(text: str) -> Expr:
    """Parse and check a composite definition; raises CompositeError naming the position."""
    return analyze(parse_syntax(text))
