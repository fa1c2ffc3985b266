"""Reading request parameters (JSON or form) into typed values, collecting every error at once.

Shared by spaces, charts, annotations, API tokens and environments: their bodies come as JSON or as
Rails-style form fields, where every scalar is a string and a list may arrive as `{"0": …, "1": …}`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any

from vigil.errors import ParamsError
from vigil.metrics.properties import UNSET, to_bool, to_number

# Unix seconds up to the year 2286: enough for any event, small enough to stay an int64 everywhere.
MAX_TIMESTAMP = 9_999_999_999


def as_list(value: Any) -> list[Any] | None:
    """A JSON list, or a form's `x[0]=…&x[1]=…` object in index order; None for anything else."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and value and all(isinstance(k, str) and k.isdigit() for k in value):
        return [value[k] for k in sorted(value, key=int)]
    return None


class Fields:
    """Typed access to one parameter object; every problem is recorded, `check()` raises them together."""

    def __init__(self, body: dict[str, Any], prefix: str = "", errors: dict[str, list[str]] | None = None) -> None:
        self.body = body
        self.prefix = prefix
        self.errors: dict[str, list[str]] = {} if errors is None else errors

    def label(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def fail(self, name: str, reason: str) -> None:
        self.errors.setdefault(self.label(name), []).append(reason)

    def has(self, name: str) -> bool:
        return name in self.body

    def nested(self, value: dict[str, Any], prefix: str) -> Fields:
        """Fields of a sub-object whose errors go into this collection, named `prefix…`."""
        return Fields(value, f"{self.prefix}{prefix}", self.errors)

    def text(self, name: str, *, required: bool = False, max_length: int = 255, nullable: bool = True,
             empty: bool = False) -> Any:
        """A string; UNSET when absent, None when null (if allowed)."""
        if name not in self.body:
            if required:
                self.fail(name, "is required")
            return UNSET
        value = self.body[name]
        if value is None:
            if required or not nullable:
                self.fail(name, "is required")
                return UNSET
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(name, "must be a string")
            return UNSET
        value = str(value)
        if not value.strip() and not empty:
            if required or not nullable:
                self.fail(name, "must not be blank")
                return UNSET
            return None
        if len(value) > max_length:
            self.fail(name, f"is too long (maximum is {max_length} characters)")
            return UNSET
        return value

    def number(self, name: str, *, nullable: bool = True, minimum: float | None = None) -> Any:
        if name not in self.body:
            return UNSET
        value = self.body[name]
        if value is None or value == "":
            if not nullable:
                self.fail(name, "is required")
                return UNSET
            return None
        number = to_number(value)
        if number is None or not math.isfinite(number):
            self.fail(name, "must be a number")
            return UNSET
        if minimum is not None and number < minimum:
            self.fail(name, f"must be at least {minimum:g}")
            return UNSET
        return number

    def integer(self, name: str, *, minimum: int | None = None, maximum: int | None = None,
                nullable: bool = True, required: bool = False) -> Any:
        if name not in self.body:
            if required:
                self.fail(name, "is required")
            return UNSET
        value = self.body[name]
        if value is None or value == "":
            if required or not nullable:
                self.fail(name, "is required")
                return UNSET
            return None
        number = to_number(value)
        if number is None or not math.isfinite(number) or not float(number).is_integer():
            self.fail(name, "must be a whole number")
            return UNSET
        number = int(number)
        if minimum is not None and number < minimum:
            self.fail(name, f"must be at least {minimum}")
            return UNSET
        if maximum is not None and number > maximum:
            self.fail(name, f"must be at most {maximum}")
            return UNSET
        return number

    def timestamp(self, name: str, *, nullable: bool = True) -> Any:
        return self.integer(name, minimum=0, maximum=MAX_TIMESTAMP, nullable=nullable)

    def boolean(self, name: str, *, nullable: bool = True) -> Any:
        if name not in self.body:
            return UNSET
        value = self.body[name]
        if value is None or value == "":
            if not nullable:
                self.fail(name, "must be true or false")
                return UNSET
            return None
        coerced = to_bool(value)
        if coerced is None:
            self.fail(name, "must be true or false")
            return UNSET
        return coerced

    def choice(self, name: str, options: Iterable[str], *, required: bool = False, nullable: bool = True) -> Any:
        options = tuple(options)
        if name not in self.body:
            if required:
                self.fail(name, "is required")
            return UNSET
        value = self.body[name]
        if value is None or value == "":
            if required or not nullable:
                self.fail(name, "is required")
                return UNSET
            return None
        if not isinstance(value, str) or value not in options:
            self.fail(name, "must be one of " + ", ".join(options))
            return UNSET
        return value

    def check(self) -> None:
        if self.errors:
            raise ParamsError(self.errors)


def given(value: Any, default: Any = None) -> Any:
    return default if value is UNSET else value


def now() -> int:
    return int(time.time())
