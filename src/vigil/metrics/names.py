"""The seed's naming rules for metrics and tags."""

from __future__ import annotations

import re

METRIC_NAME = re.compile(r"\A[A-Za-z0-9.:\-_]{1,255}\Z")
# Ruby's \w is ASCII-only: letters, digits and underscore.
TAG_NAME = re.compile(r"\A[-.:_A-Za-z0-9]{1,64}\Z")
TAG_VALUE = re.compile(r"\A[-.:_?\\/A-Za-z0-9 ]{1,255}\Z")
MAX_TAGS = 50
RESERVED_PREFIX = "vigil."


def metric_key(name: str) -> str:
    """The metric namespace is case-insensitive."""
    return name.lower()


def is_reserved(name: str) -> bool:
    return name.lower().startswith(RESERVED_PREFIX)


def check_metric_name(name: object) -> str | None:
    """The reason a metric name is invalid, or None."""
    if not isinstance(name, str) or not name:
        return "is required"
    if len(name) > 255:
        return "is too long (maximum is 255 characters)"
    if not METRIC_NAME.match(name):
        return "may only contain A-Za-z0-9.:-_"
    return None


def normalise_tags(tags: object) -> tuple[dict[str, str] | None, str | None]:
    """Validate and lower-case a tag set. Returns (tags, None) or (None, reason).

    Numbers and booleans are accepted as values and written as their JSON text: agents often send
    `"instance": 3`.
    """
    if not isinstance(tags, dict):
        return None, "must be an object of tag names to values"
    if not tags:
        return None, "Must have at least one tag"
    if len(tags) > MAX_TAGS:
        return None, f"must have at most {MAX_TAGS} tags"
    out: dict[str, str] = {}
    for name, value in tags.items():
        if not isinstance(name, str) or not TAG_NAME.match(name):
            return None, f"tag name {str(name)[:80]!r} must match /\\A[-.:_\\w]{{1,64}}\\z/"
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = repr(value) if isinstance(value, float) else str(value)
        if not isinstance(value, str) or not TAG_VALUE.match(value):
            return None, f"tag value for {name!r} must match /\\A[-.:_?\\\\\\/\\w ]{{1,255}}\\z/"
        out[name.lower()] = value.lower()
    return out, None
