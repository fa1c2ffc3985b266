"""A chart's streams: every stream property of the seed, validated into a stored spec.

A stream is either a `metric` with `tags` filters, or a `composite` query — never both. The spec
keeps only the properties that were given, so a chart reads back as it was written.
"""

from __future__ import annotations

import re
from typing import Any

from vigil.dashboards import transform
from vigil.dashboards.fields import Fields, as_list
from vigil.metrics import composite
from vigil.metrics.names import MAX_TAGS, check_metric_name
from vigil.metrics.properties import COLOR, UNSET

GROUP_FUNCTIONS = ("average", "sum", "min", "max", "breakout")
SUMMARY_FUNCTIONS = ("max", "min", "average", "sum", "count")
DOWNSAMPLE_FUNCTIONS = SUMMARY_FUNCTIONS
# `@name` marks a dynamic tag filled from the space (the seed's `"@host"` example).
TAG_NAME = re.compile(r"\A@?[-.:_A-Za-z0-9]{1,64}\Z")
# A tag value pattern: the tag value alphabet, `*` wildcards, and a leading `!` to negate.
TAG_PATTERN = re.compile(r"\A!?[-.:_?\\/A-Za-z0-9 *]{1,255}\Z")
MAX_VALUES = 100
MAX_COMPOSITE = 4_096
MAX_PERIOD = 86_400 * 7


def _tags(f: Fields, raw: Any) -> list[dict[str, Any]] | None:
    items = as_list(raw)
    if items is None:
        f.fail("tags", "must be a list of {name, values} objects")
        return None
    if len(items) > MAX_TAGS:
        f.fail("tags", f"may hold at most {MAX_TAGS} tags")
        return None
    out: list[dict[str, Any]] = []
    names: set[str] = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            f.fail(f"tags.{i}", "must be an object with name and values")
            continue
        t = f.nested(item, f"tags.{i}.")
        name = item.get("name")
        if not isinstance(name, str) or not TAG_NAME.match(name):
            t.fail("name", "must be a tag name (1 to 64 of A-Za-z0-9.:-_, optionally after @)")
            continue
        if name.lower() in names:
            t.fail("name", "is given twice")
            continue
        names.add(name.lower())
        tag: dict[str, Any] = {"name": name}
        grouped = t.boolean("grouped", nullable=False)
        dynamic = t.boolean("dynamic", nullable=False)
        if "values" in item and item["values"] is not None:
            values = as_list(item["values"])
            if values is None and isinstance(item["values"], str):
                values = [item["values"]]
            if values is None or not values:
                t.fail("values", "must be a non-empty list of tag values (wildcards allowed)")
                continue
            if len(values) > MAX_VALUES:
                t.fail("values", f"may hold at most {MAX_VALUES} values")
                continue
            bad = [v for v in values if not isinstance(v, str) or not TAG_PATTERN.match(v)]
            if bad:
                t.fail("values", "each value must be 1 to 255 of A-Za-z0-9.:-_?\\/, space and * wildcards, "
                                 "optionally negated with a leading !")
                continue
            tag["values"] = list(values)
        elif grouped is not True and dynamic is not True:
            t.fail("values", "are required unless the tag is grouped or dynamic")
            continue
        if grouped is not UNSET:
            tag["grouped"] = grouped
        if dynamic is not UNSET:
            tag["dynamic"] = dynamic
        out.append(tag)
    return out


def parse_stream(raw: Any, prefix: str, errors: dict[str, list[str]],
                 previous: dict[int, dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """A validated stream spec, or None with the reasons added to `errors` under `prefix…`.

    `previous` maps the chart's current stream ids to their specs: a stream sent back with its id
    keeps that id, and keeps its tags when it carries none (the official client drops `tags` when it
    saves a chart it has read).
    """
    if not isinstance(raw, dict):
        errors.setdefault(prefix.rstrip("."), []).append("must be an object")
        return None
    f = Fields(raw, prefix, errors)
    before = len(errors)
    spec: dict[str, Any] = {}
    stream_id = f.integer("id", minimum=1)
    if isinstance(stream_id, int) and previous and stream_id in previous:
        spec["id"] = stream_id
    metric = raw.get("metric")
    expression = raw.get("composite")
    if metric is not None and expression is not None:
        f.fail("composite", "cannot be combined with metric")
    elif expression is not None:
        if not isinstance(expression, str) or not expression.strip():
            f.fail("composite", "must be a composite query")
        elif len(expression) > MAX_COMPOSITE:
            f.fail("composite", f"is too long (maximum is {MAX_COMPOSITE} characters)")
        else:
            try:
                composite.parse(expression)
            except composite.CompositeError as exc:
                f.fail("composite", str(exc))
            spec["composite"] = expression
        for name in ("tags", "group_function"):
            if raw.get(name) not in (None, [], {}):
                f.fail(name, "cannot be combined with composite")
    elif metric is not None:
        reason = check_metric_name(metric)
        if reason:
            f.fail("metric", reason)
        spec["metric"] = metric
    else:
        f.fail("metric", "is required (or composite)")
    source = raw.get("source")
    if source not in (None, "*"):
        f.fail("source", "only * is supported; filter with tags")
    if "metric" in spec:
        if raw.get("tags") is not None:
            tags = _tags(f, raw["tags"])
            if tags is not None:
                spec["tags"] = tags
        elif "id" in spec and "tags" in previous[spec["id"]]:  # type: ignore[index]
            spec["tags"] = previous[spec["id"]]["tags"]  # type: ignore[index]
        else:
            spec["tags"] = []
        group = f.choice("group_function", GROUP_FUNCTIONS)
        if isinstance(group, str):
            spec["group_function"] = group
    for name, options in (("summary_function", SUMMARY_FUNCTIONS), ("downsample_function", DOWNSAMPLE_FUNCTIONS)):
        value = f.choice(name, options)
        if isinstance(value, str):
            spec[name] = value
    color = f.text("color")
    if isinstance(color, str):
        if COLOR.match(color):
            spec["color"] = color
        else:
            f.fail("color", "must be a hex colour like #52D74C")
    for name in ("name", "units_short", "units_long"):
        value = f.text(name)
        if isinstance(value, str):
            spec[name] = value
    for name in ("min", "max"):
        value = f.number(name)
        if value is not UNSET and value is not None:
            spec[name] = value
    if "min" in spec and "max" in spec and spec["min"] > spec["max"]:
        f.fail("min", "must not be greater than max")
    function = f.text("transform_function")
    if isinstance(function, str):
        try:
            transform.parse(function)
        except transform.TransformError as exc:
            f.fail("transform_function", str(exc))
        spec["transform_function"] = function
    period = f.integer("period", minimum=1, maximum=MAX_PERIOD)
    if isinstance(period, int):
        spec["period"] = period
    for name in ("split_axis", "gap_detection"):
        value = f.boolean(name)
        if isinstance(value, bool):
            spec[name] = value
    return spec if len(errors) == before else None


def parse_streams(raw: Any, limit: int, errors: dict[str, list[str]],
                  previous: dict[int, dict[str, Any]] | None = None) -> list[dict[str, Any]] | None:
    items = as_list(raw) if raw not in ({}, "") else []
    if items is None:
        errors.setdefault("streams", []).append("must be a list of streams")
        return None
    if len(items) > limit:
        errors.setdefault("streams", []).append(f"may hold at most {limit} streams")
        return None
    specs = [parse_stream(item, f"streams.{i}.", errors, previous) for i, item in enumerate(items)]
    ids = [s["id"] for s in specs if s and "id" in s]
    if len(ids) != len(set(ids)):
        errors.setdefault("streams", []).append("name the same stream id twice")
    return None if any(s is None for s in specs) else specs  # type: ignore[return-value]


def stream_json(stream_id: int, spec: dict[str, Any], metric_type: str | None) -> dict[str, Any]:
    """The seed's stream object: id, metric or composite, type, tags, then whatever else was set."""
    out: dict[str, Any] = {"id": stream_id}
    if "composite" in spec:
        out["composite"] = spec["composite"]
        out["type"] = "composite"
    else:
        out["metric"] = spec["metric"]
        out["type"] = metric_type or "gauge"
        out["tags"] = spec.get("tags", [])
    for key, value in spec.items():
        if key not in out and key != "id":
            out[key] = value
    return out
