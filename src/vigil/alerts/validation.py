"""Alert and service bodies → validated specs, with every problem reported at once (400, `params`).

Bodies come as JSON or as Rails-style forms, so booleans and numbers may arrive as strings
("true", "600"): both are accepted. A form's list of hashes (`conditions[0][type]=above`) arrives
as a dict keyed by index and is read in index order.
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson

from vigil.alerts.model import (
    ABSENT,
    CONDITION_TYPES,
    DEFAULT_REARM,
    SUMMARY_FUNCTIONS,
    Alert,
    AlertSpec,
    ConditionSpec,
    ServiceSpec,
    TagFilter,
)
from vigil.alerts.notify import check_settings, service_types
from vigil.errors import ParamsError
from vigil.metrics.names import TAG_NAME, check_metric_name

# The seed lists A-Za-z0-9.:- but its own examples use underscores (production.web.frontend.response_time).
ALERT_NAME = re.compile(r"\A[A-Za-z0-9.:\-_]{1,255}\Z")
TAG_PATTERN = re.compile(r"\A[-.:_?\\/A-Za-z0-9 *]{1,255}\Z")
MAX_CONDITIONS = 25
MAX_TAG_FILTERS = 50
MAX_TAG_VALUES = 100
MAX_SERVICES_PER_ALERT = 50
MAX_DESCRIPTION = 4096
MAX_ATTRIBUTES_BYTES = 16_384
MAX_TITLE = 255
MIN_DURATION, MAX_DURATION = 60, 3600

_TRUE = ("true", "1", "yes", "on", "t")
_FALSE = ("false", "0", "no", "off", "f")


class Errors:
    def __init__(self) -> None:
        self.found: dict[str, list[str]] = {}

    def add(self, key: str, reason: str) -> None:
        self.found.setdefault(key, []).append(reason)

    def raise_any(self) -> None:
        if self.found:
            raise ParamsError(self.found)


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    return None


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def as_int(value: Any) -> int | None:
    number = as_number(value)
    if number is None or number != int(number):
        return None
    return int(number)


def as_list(value: Any) -> list[Any] | None:
    """A JSON array, or a form's index-keyed hash in index order."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and all(isinstance(k, str) and k.isdigit() for k in value):
        return [value[k] for k in sorted(value, key=int)]
    return None


def check_alert_name(name: Any) -> str | None:
    if not isinstance(name, str) or not name:
        return "is required"
    if len(name) > 255:
        return "is too long (maximum is 255 characters)"
    if not ALERT_NAME.match(name):
        return "may only contain A-Za-z0-9.:-_"
    return None


def _flag(body: dict[str, Any], key: str, current: bool | None, default: bool, errors: Errors) -> bool:
    if key not in body or body[key] is None:
        return current if current is not None else default
    value = as_bool(body[key])
    if value is None:
        errors.add(key, "must be true or false")
        return default
    return value


def _tag_filters(raw: Any, where: str, errors: Errors) -> tuple[TagFilter, ...]:
    if raw is None:
        return ()
    items = as_list(raw)
    if items is None:
        errors.add("conditions", f"{where}: tags must be a list of {{name, values, grouped}}")
        return ()
    if len(items) > MAX_TAG_FILTERS:
        errors.add("conditions", f"{where}: at most {MAX_TAG_FILTERS} tags")
        return ()
    filters: list[TagFilter] = []
    names: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            errors.add("conditions", f"{where}: each tag must be an object with name and values")
            continue
        name = item.get("name")
        if not isinstance(name, str) or not TAG_NAME.match(name):
            errors.add("conditions", f"{where}: tag name {str(name)[:80]!r} must match /\\A[-.:_\\w]{{1,64}}\\z/")
            continue
        name = name.lower()
        if name in names:
            errors.add("conditions", f"{where}: tag {name} is given twice")
            continue
        names.add(name)
        values = item.get("values")
        if isinstance(values, str | int | float) and not isinstance(values, bool):
            values = [values]
        values = as_list(values)
        if not values:
            errors.add("conditions", f"{where}: tag {name} needs a list of values (use \"*\" for any value)")
            continue
        if len(values) > MAX_TAG_VALUES:
            errors.add("conditions", f"{where}: tag {name} may list at most {MAX_TAG_VALUES} values")
            continue
        cleaned: list[str] = []
        for value in values:
            text = str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
            if not isinstance(text, str) or not TAG_PATTERN.match(text):
                errors.add("conditions", f"{where}: tag {name} value {str(value)[:80]!r} must match "
                                         "/\\A[-.:_?\\\\\\/\\w *]{1,255}\\z/ (* is a wildcard)")
                break
            cleaned.append(text.lower())
        else:
            grouped = as_bool(item.get("grouped", False)) if item.get("grouped") is not None else False
            if grouped is None:
                errors.add("conditions", f"{where}: tag {name} grouped must be true or false")
                continue
            filters.append(TagFilter(name, tuple(cleaned), grouped))
    return tuple(filters)


def _duration(raw: Any, where: str, required: bool, errors: Errors) -> int | None:
    if raw is None or (not required and as_number(raw) == 0):
        if required:
            errors.add("conditions", f"{where}: duration is required for absent conditions")
        return None
    value = as_int(raw)
    if value is None or not MIN_DURATION <= value <= MAX_DURATION:
        errors.add("conditions", f"{where}: duration must be a whole number of seconds from "
                                 f"{MIN_DURATION} to {MAX_DURATION}")
        return None
    return value


def parse_condition(raw: Any, index: int, errors: Errors) -> ConditionSpec | None:
    where = f"condition {index + 1}"
    if not isinstance(raw, dict):
        errors.add("conditions", f"{where}: must be an object")
        return None
    before = len(errors.found.get("conditions", []))
    kind = raw.get("type", raw.get("condition_type"))
    if kind not in CONDITION_TYPES:
        errors.add("conditions", f"{where}: type must be one of {', '.join(CONDITION_TYPES)}")
    metric_name = raw.get("metric_name")
    reason = check_metric_name(metric_name)
    if reason:
        errors.add("conditions", f"{where}: metric_name {reason}")
    source = raw.get("source")
    if source is not None and (not isinstance(source, str) or len(source) > 255):
        errors.add("conditions", f"{where}: source must be a string of at most 255 characters")
    tags = _tag_filters(raw.get("tags"), where, errors)
    threshold = None
    summary = None
    detect_reset = False
    if kind == ABSENT:
        duration = _duration(raw.get("duration"), where, True, errors)
    else:
        duration = _duration(raw.get("duration"), where, False, errors)
        threshold = as_number(raw.get("threshold"))
        if threshold is None:
            errors.add("conditions", f"{where}: threshold must be a number")
        summary = raw.get("summary_function")
        if summary is None or summary == "":
            summary = "average"
        elif summary not in SUMMARY_FUNCTIONS:
            errors.add("conditions", f"{where}: summary_function must be one of {', '.join(SUMMARY_FUNCTIONS)}")
        reset = raw.get("detect_reset")
        if reset is not None:
            flag = as_bool(reset)
            if flag is None:
                errors.add("conditions", f"{where}: detect_reset must be true or false")
            detect_reset = bool(flag)
    if len(errors.found.get("conditions", [])) > before:
        return None
    return ConditionSpec(type=str(kind), metric_name=str(metric_name), source=source, threshold=threshold,
                         duration=duration, summary_function=summary, detect_reset=detect_reset, tags=tags)


def _service_ids(raw: Any, errors: Errors) -> list[int]:
    if raw is None:
        return []
    items = as_list(raw)
    if items is None and (isinstance(raw, int | str) and not isinstance(raw, bool)):
        items = [raw]
    if items is None:
        errors.add("services", "must be a list of service ids")
        return []
    ids: list[int] = []
    for item in items:
        if isinstance(item, dict):  # an object as GET shows it: use its id
            item = item.get("id")
        value = as_int(item)
        if value is None or value <= 0:
            errors.add("services", f"{str(item)[:40]!r} is not a service id")
            continue
        if value not in ids:
            ids.append(value)
    if len(ids) > MAX_SERVICES_PER_ALERT:
        errors.add("services", f"at most {MAX_SERVICES_PER_ALERT} services per alert")
    return ids


def parse_alert(body: dict[str, Any], current: Alert | None = None) -> AlertSpec:
    """A create (`current` None) or a full update of `current`.

    On update, as the seed says, a missing `conditions` removes the conditions and a missing
    `attributes` removes the attributes; any other missing field keeps its value.
    """
    errors = Errors()
    if "name" in body or current is None:
        name = body.get("name")
        reason = check_alert_name(name)
        if reason:
            errors.add("name", reason)
    else:
        name = current.name
    description = current.description if current is not None and "description" not in body else body.get(
        "description")
    if description is not None and (not isinstance(description, str) or len(description) > MAX_DESCRIPTION):
        errors.add("description", f"must be a string of at most {MAX_DESCRIPTION} characters")
    conditions: list[ConditionSpec] = []
    raw_conditions = body.get("conditions")
    if raw_conditions is not None and raw_conditions != "":
        items = as_list(raw_conditions)
        if items is None:
            errors.add("conditions", "must be a list of conditions")
        elif len(items) > MAX_CONDITIONS:
            errors.add("conditions", f"at most {MAX_CONDITIONS} conditions per alert")
        else:
            for i, item in enumerate(items):
                spec = parse_condition(item, i, errors)
                if spec is not None:
                    conditions.append(spec)
    if "services" in body or current is None:
        service_ids = _service_ids(body.get("services"), errors)
    else:
        service_ids = list(current.service_ids)
    attributes = body.get("attributes")
    if attributes is None or attributes == "":
        attributes = {}
    if not isinstance(attributes, dict):
        errors.add("attributes", "must be an object")
        attributes = {}
    elif len(orjson.dumps(attributes)) > MAX_ATTRIBUTES_BYTES:
        errors.add("attributes", f"must be at most {MAX_ATTRIBUTES_BYTES} bytes as JSON")
    elif attributes.get("runbook_url") is not None and not isinstance(attributes["runbook_url"], str):
        errors.add("attributes", "runbook_url must be a string")
    active = _flag(body, "active", current.active if current else None, True, errors)
    rearm_per_signal = _flag(body, "rearm_per_signal", current.rearm_per_signal if current else None, False, errors)
    md = _flag(body, "md", current.md if current else None, False, errors)
    if "rearm_seconds" not in body and current is not None:
        rearm = current.rearm_seconds
    elif body.get("rearm_seconds") in (None, ""):
        rearm = DEFAULT_REARM  # the seed: "when unset or null will default to 600"
    else:
        rearm = as_int(body["rearm_seconds"]) or -1
        if rearm < 60 or rearm % 60 or rearm > 2**31 - 1:
            errors.add("rearm_seconds", "must be a positive multiple of 60")
    version = body.get("version")
    if version is not None and as_int(version) != 2:
        errors.add("version", "only version 2 alerts exist")
    errors.raise_any()
    return AlertSpec(name=str(name), description=description, conditions=conditions, service_ids=service_ids,
                     attributes=attributes, active=active, rearm_seconds=rearm, rearm_per_signal=rearm_per_signal,
                     md=md)


def parse_service(body: dict[str, Any], current: ServiceSpec | None = None) -> ServiceSpec:
    """A new service, or `current` with the fields the body gives (settings are replaced whole)."""
    errors = Errors()
    kind = body.get("type", current.type if current else None)
    if not isinstance(kind, str) or kind.lower() not in service_types():
        errors.add("type", "must be one of " + ", ".join(service_types()))
        kind = None
    else:
        kind = kind.lower()
    title = body.get("title", current.title if current else None)
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
        errors.add("title", f"is required (at most {MAX_TITLE} characters)")
    settings = body.get("settings", current.settings if current else None)
    if settings is None:
        settings = {}
    if not isinstance(settings, dict):
        errors.add("settings", "must be an object")
    elif len(orjson.dumps(settings)) > MAX_ATTRIBUTES_BYTES:
        errors.add("settings", f"must be at most {MAX_ATTRIBUTES_BYTES} bytes as JSON")
    elif kind is not None:
        for reason in check_settings(kind, settings):
            errors.add("settings", reason)
    errors.raise_any()
    return ServiceSpec(type=str(kind), title=str(title).strip(), settings=dict(settings))
