"""Metric properties and attributes: the seed's fields, validated and coerced from JSON or form input."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from vigil.errors import ParamsError
from vigil.metrics import composite

METRIC_TYPES = ("gauge", "composite")
SUMMARIZE_FUNCTIONS = ("average", "sum", "count", "min", "max")
COLOR = re.compile(r"\A#[0-9A-Fa-f]{6}\Z")
MAX_PERIOD = 86_400 * 7
MAX_EXTRA_ATTRIBUTES = 50

# Attribute name → coercion. Unknown attributes are kept when scalar (the official client's
# documented examples put other keys there), bounded in number and size.
_BOOL_ATTRS = ("display_stacked", "aggregate", "gap_detection")
_NUMBER_ATTRS = ("display_max", "display_min")
_STRING_ATTRS = ("display_units_long", "display_units_short", "created_by_ua", "display_transform")
ATTRIBUTE_NAMES = (*_BOOL_ATTRS, *_NUMBER_ATTRS, *_STRING_ATTRS, "color", "summarize_function")
PROPERTY_NAMES = ("type", "display_name", "description", "period", "source_lag", "composite", "attributes")


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


def to_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"):
        return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


def to_number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    return None


def to_int(value: Any) -> int | None:
    number = to_number(value)
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return number if isinstance(number, int) else None


@dataclass
class MetricChanges:
    """What a PUT asks to change; UNSET fields are left alone."""

    type: Any = UNSET
    display_name: Any = UNSET
    description: Any = UNSET
    period: Any = UNSET
    source_lag: Any = UNSET
    composite: Any = UNSET
    attributes: dict[str, Any] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not self.attributes and all(
            getattr(self, name) is UNSET for name in PROPERTY_NAMES if name != "attributes")


def _attribute(name: str, value: Any, errors: dict[str, list[str]]) -> Any:
    label = f"attributes.{name}"
    if value is None:
        return None
    if name in _BOOL_ATTRS:
        coerced = to_bool(value)
        if coerced is None:
            errors.setdefault(label, []).append("must be true or false")
        return coerced
    if name in _NUMBER_ATTRS:
        coerced = to_number(value)
        if coerced is None:
            errors.setdefault(label, []).append("must be a number")
        return coerced
    if name == "color":
        if not isinstance(value, str) or not COLOR.match(value):
            errors.setdefault(label, []).append("must be a seven character hex color like #52D74C")
        return value
    if name == "summarize_function":
        if value not in SUMMARIZE_FUNCTIONS:
            errors.setdefault(label, []).append("must be one of " + ", ".join(SUMMARIZE_FUNCTIONS))
        return value
    if not isinstance(value, str | int | float | bool) or (isinstance(value, str) and len(value) > 1024):
        errors.setdefault(label, []).append("must be a string, number or boolean of at most 1024 characters")
    return value


def parse_changes(body: dict[str, Any], *, top_level_attributes: bool = False) -> MetricChanges:
    """Validate a metric PUT body. With `top_level_attributes`, attribute names may also stand at
    the top level (the batch update form: `names[]=cpu&display_min=0`)."""
    errors: dict[str, list[str]] = {}
    changes = MetricChanges()
    if "type" in body:
        if body["type"] not in METRIC_TYPES:
            errors["type"] = ["must be gauge or composite"]
        changes.type = body["type"]
    for name, limit in (("display_name", 255), ("description", 4096)):
        if name in body:
            value = body[name]
            if value is not None and (not isinstance(value, str) or len(value) > limit):
                errors[name] = [f"must be a string of at most {limit} characters"]
            setattr(changes, name, value if value != "" else None)
    for name in ("period", "source_lag"):
        if name in body:
            value = body[name]
            if value is None or value == "":
                setattr(changes, name, None)
                continue
            number = to_int(value)
            if number is None or number < (1 if name == "period" else 0) or number > MAX_PERIOD:
                errors[name] = [f"must be a whole number of seconds from {1 if name == 'period' else 0}"
                                f" to {MAX_PERIOD}"]
            setattr(changes, name, number)
    if "composite" in body:
        value = body["composite"]
        if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > 16_384):
            errors["composite"] = ["must be a composite expression of at most 16384 characters"]
        elif value is not None:
            try:
                composite.parse(value)
            except composite.CompositeError as exc:
                errors["composite"] = [str(exc)]
        changes.composite = value
    attributes = body.get("attributes", {})
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, dict):
        errors["attributes"] = ["must be an object"]
        attributes = {}
    merged = dict(attributes)
    if top_level_attributes:
        merged.update({k: v for k, v in body.items() if k in ATTRIBUTE_NAMES})
    extra = [k for k in merged if k not in ATTRIBUTE_NAMES]
    if len(extra) > MAX_EXTRA_ATTRIBUTES:
        errors["attributes"] = [f"may hold at most {MAX_EXTRA_ATTRIBUTES} attributes beyond the documented ones"]
    for name, value in merged.items():
        if not isinstance(name, str) or len(name) > 64:
            errors.setdefault("attributes", []).append("attribute names are strings of at most 64 characters")
            continue
        changes.attributes[name] = _attribute(name, value, errors)
    if errors:
        raise ParamsError(errors)
    return changes
