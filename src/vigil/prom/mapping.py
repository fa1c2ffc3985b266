"""Prometheus series → Vigil metric and tags, under the AppOptics naming rules.

The rules (vigil.metrics.names) are narrower than Prometheus': metric names are
`[A-Za-z0-9.:_-]{1,255}` and case-insensitive; tag names `[-.:_A-Za-z0-9]{1,64}`, tag values
`[-.:_?\\/A-Za-z0-9 ]{1,255}`, both lower-cased; at most 50 tags and at least one. So:

- `__name__` is the metric. Other labels starting with `__` are internal to Prometheus and dropped.
- A label with an empty value is absent (as in Prometheus).
- Every character the rules reject becomes `_` (names and values alike, so `path="/a b+c"` keeps its
  slash and space and becomes `/a b_c`); the value `+Inf` (histogram buckets' `le`) becomes `inf`.
  Tag names and values longer than the rules allow are cut to 64 / 255 characters.
- A metric name longer than 255 characters, a series with more than 50 labels, and a series whose
  sanitised label names collide are dropped and counted (a silent merge would corrupt both series).
- A series with no label but its name gets the tag `source=prometheus`: the rules demand one tag.
- Names and values are lower-cased, so series differing only in case are one series in Vigil.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from vigil.metrics.ingest import series_id
from vigil.metrics.names import MAX_TAGS, metric_key

_BAD_NAME = re.compile(r"[^A-Za-z0-9.:_\-]")
_BAD_TAG_NAME = re.compile(r"[^-.:_A-Za-z0-9]")
_BAD_TAG_VALUE = re.compile(r"[^-.:_?\\/A-Za-z0-9 ]")
_SPECIAL_VALUES = {"+Inf": "inf", "-Inf": "-inf", "+inf": "inf"}
MAX_NAME = 255
MAX_TAG_NAME = 64
MAX_TAG_VALUE = 255
EMPTY_TAGS = {"source": "prometheus"}


def metric_name(name: str) -> str | None:
    """The Vigil metric for a Prometheus metric name, or None if it cannot be one."""
    if not name or len(name) > MAX_NAME:
        return None
    return _BAD_NAME.sub("_", name)


def tag_name(label: str) -> str:
    return _BAD_TAG_NAME.sub("_", label[:MAX_TAG_NAME]).lower()


def tag_value(value: str) -> str:
    """The stored form of a label value (also what a query for that value must look for)."""
    value = _SPECIAL_VALUES.get(value, value)
    return _BAD_TAG_VALUE.sub("_", value[:MAX_TAG_VALUE]).lower()


@dataclass(frozen=True, slots=True)
class Mapped:
    name: str  # the metric name as sent to the ingestor
    key: str  # the metric key (lower-cased)
    tags: dict[str, str]  # normalised: what the series index will hold
    raw: bytes  # the tags as JSON, what the ingestor's series cache is keyed on


# Why a series was dropped (the label of the dropped-series counter).
NO_NAME = "no_name"
BAD_NAME = "bad_name"
TOO_MANY_LABELS = "too_many_labels"
LABEL_COLLISION = "label_collision"


def map_series(labels: Sequence[tuple[str, str]], extra: dict[str, str] | None = None) -> Mapped | str:
    """Map a label set (with `__name__`) to a metric and tags; or the reason it is dropped.
    `extra` tags are added last (the caller has already resolved any conflict)."""
    name = ""
    tags: dict[str, str] = {}
    for label, value in labels:
        if label == "__name__":
            name = value
            continue
        if label.startswith("__") or value == "":
            continue
        key = tag_name(label)
        if key in tags:
            return LABEL_COLLISION
        tags[key] = tag_value(value)
    if extra:
        tags.update(extra)
    if not name:
        return NO_NAME
    mapped_name = metric_name(name)
    if mapped_name is None:
        return BAD_NAME
    if len(tags) > MAX_TAGS:
        return TOO_MANY_LABELS
    if not tags:
        tags = dict(EMPTY_TAGS)
    return Mapped(mapped_name, metric_key(mapped_name), tags, orjson.dumps(tags))


def stored_series_id(mapped: Mapped, environment: str | None) -> int:
    """The series id the ingestor gives this series (it adds the token's environment as a tag)."""
    tags = mapped.tags
    if environment and "environment" not in tags:
        tags = {**tags, "environment": environment}
    return series_id(mapped.key, tags)


class SeriesCache:
    """Label set → mapping, for series seen again and again (every scrape, every remote write).
    Bounded: past `limit` entries the older half is forgotten."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._map: dict[tuple[tuple[str, str], ...], Mapped | str] = {}

    def __len__(self) -> int:
        return len(self._map)

    def get(self, labels: tuple[tuple[str, str], ...]) -> Mapped | str:
        found = self._map.get(labels)
        if found is None:
            found = map_series(labels)
            if len(self._map) >= self.limit:
                for stale in list(self._map)[: max(1, self.limit // 2)]:
                    del self._map[stale]
            self._map[labels] = found
        return found
