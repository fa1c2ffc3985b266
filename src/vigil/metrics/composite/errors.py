"""The single exception type of the composite language."""

from __future__ import annotations


class CompositeError(ValueError):
    """A composite expression is malformed, or could not be evaluated within its limits.

    ``column`` (1-based) and ``line`` are set when the problem has a position in the text;
    the message then already says where, so callers can show it as is.
    """

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def where(line: int, column: int) -> str:
    """Human position suffix; single-line composites (the norm) only mention the column."""
    if line > 1:
        return f"at column {column} of line {line}"
    return f"at column {column}"
