"""Annotation link lists: form or JSON lists, unique rel, bounded."""

from __future__ import annotations

from vigil.annotations.store import MAX_LINKS, _like, _links
from vigil.dashboards.fields import Fields


def parse(raw: object) -> tuple[object, dict]:
    f = Fields({})
    return _links(f, raw), f.errors


def test_form_and_json_lists() -> None:
    form = {"1": {"rel": "ci", "href": "http://ci/2"}, "0": {"rel": "github", "href": "http://gh", "label": "GH"}}
    links, errors = parse(form)
    assert not errors
    assert links == [{"rel": "github", "label": "GH", "href": "http://gh"}, {"rel": "ci", "label": None,
                                                                          "href": "http://ci/2"}]
    assert parse(None) == ([], {}) and parse("") == ([], {})


def test_rules() -> None:
    assert parse([{"rel": "a", "href": "h"}, {"rel": "a", "href": "i"}])[1] == {
        "links.1.rel": ["must be unique within the event"]}
    assert parse([{"rel": "a"}])[1] == {"links.0.href": ["is required"]}
    assert parse(["x"])[1] == {"links.0": ["must be an object with rel and href"]}
    assert parse([{"rel": str(i), "href": "h"} for i in range(MAX_LINKS + 1)])[1] == {
        "links": [f"may hold at most {MAX_LINKS} links"]}
    assert parse([{"rel": "a", "href": "h" * 2049}])[1] == {
        "links.0.href": ["is too long (maximum is 2048 characters)"]}


def test_source_patterns_escape_sql_wildcards() -> None:
    assert _like("DB-*") == "db-%"
    assert _like("a_b%c") == "a\\_b\\%c"
