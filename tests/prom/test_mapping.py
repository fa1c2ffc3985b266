"""Prometheus names and labels → metric and tags under the AppOptics rules."""

from __future__ import annotations

from vigil.metrics.ingest import series_id
from vigil.metrics.names import normalise_tags
from vigil.prom.mapping import (
    BAD_NAME,
    LABEL_COLLISION,
    NO_NAME,
    TOO_MANY_LABELS,
    Mapped,
    SeriesCache,
    map_series,
    stored_series_id,
    tag_value,
)


def test_mapping_follows_the_rules() -> None:
    m = map_series([("__name__", "http_requests_total"), ("Method", "GET"), ("path", "/api/v1/x?y=1"),
                    ("le", "+Inf"), ("__scheme__", "http"), ("empty", ""), ("weird", 'a"b,c{d}é')])
    assert isinstance(m, Mapped)
    assert (m.name, m.key) == ("http_requests_total", "http_requests_total")
    assert m.tags == {"method": "get", "path": "/api/v1/x?y_1", "le": "inf", "weird": "a_b_c_d__"}
    # What the mapping yields passes the rules unchanged: the ingestor stores exactly these tags.
    assert normalise_tags(m.tags) == (m.tags, None)
    assert map_series([("__name__", "Up")]).tags == {"source": "prometheus"}  # type: ignore[union-attr]
    assert map_series([("__name__", "a:b"), ("x", "v" * 300)]).tags["x"] == "v" * 255  # type: ignore[union-attr]


def test_dropped_series() -> None:
    assert map_series([("job", "x")]) == NO_NAME
    assert map_series([("__name__", "n" * 256), ("a", "b")]) == BAD_NAME
    assert map_series([("__name__", "m"), *((f"l{i}", "v") for i in range(51))]) == TOO_MANY_LABELS
    assert map_series([("__name__", "m"), ("Mode", "a"), ("mode", "b")]) == LABEL_COLLISION


def test_series_id_matches_the_ingestors() -> None:
    m = map_series([("__name__", "x"), ("a", "B")])
    assert isinstance(m, Mapped)
    assert stored_series_id(m, None) == series_id("x", {"a": "b"})
    assert stored_series_id(m, "Prod") == series_id("x", {"a": "b", "environment": "Prod"})
    assert tag_value("+Inf") == "inf" and tag_value("/Hello World") == "/hello world"


def test_cache_is_bounded() -> None:
    cache = SeriesCache(4)
    for i in range(10):
        cache.get((("__name__", "m"), ("i", str(i))))
        assert len(cache) <= 4
