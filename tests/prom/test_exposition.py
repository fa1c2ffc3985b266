"""The text format and OpenMetrics, through prometheus_client's parsers."""

from __future__ import annotations

import math

import pytest

from vigil.prom.exposition import ExpositionError, parse

TEXT = """# HELP fn_calls Calls
# TYPE fn_calls counter
fn_calls{fn_appname="a",fn_path="/r1"} 5 1700000000123
# TYPE http_total counter
http_total 7
# TYPE h histogram
h_bucket{le="0.1"} 1
h_bucket{le="+Inf"} 3
h_sum 2.5
h_count 3
# TYPE q summary
q{quantile="0.5"} 0.25
q_sum 4
q_count 8
untyped_one{x="y"} -Inf
"""


def test_text_format_keeps_the_exposed_names() -> None:
    got = [(s.name, s.labels, s.value, s.timestamp, s.kind) for s in parse(TEXT.encode(), "text/plain", 100)]
    assert got[0] == ("fn_calls", {"fn_appname": "a", "fn_path": "/r1"}, 5.0, 1700000000.123, "counter")
    assert got[1] == ("http_total", {}, 7.0, None, "counter")
    assert [g[0] for g in got[2:6]] == ["h_bucket", "h_bucket", "h_sum", "h_count"]
    assert {g[4] for g in got[2:6]} == {"histogram"}
    assert [(g[0], g[2]) for g in got[6:9]] == [("q", 0.25), ("q_sum", 4.0), ("q_count", 8.0)]
    assert got[9][0] == "untyped_one" and math.isinf(got[9][2]) and got[9][4] == "untyped"


def test_openmetrics() -> None:
    body = b"""# TYPE c counter
c_total{a="1"} 3 1700000000.5
# TYPE g gauge
g 1.5
# EOF
"""
    got = [(s.name, s.labels, s.value, s.timestamp) for s in
           parse(body, "application/openmetrics-text; version=1.0.0; charset=utf-8", 10)]
    assert got == [("c_total", {"a": "1"}, 3.0, 1700000000.5), ("g", {}, 1.5, None)]


@pytest.mark.parametrize("body", [b"metric{a=\"b\" 1\n", b"\xff\xfe", b"ok 1\n{bad\n"])
def test_bad_expositions(body: bytes) -> None:
    with pytest.raises(ExpositionError):
        parse(body, "text/plain", 10)


def test_sample_limit() -> None:
    body = "".join(f"m{{i=\"{i}\"}} {i}\n" for i in range(11)).encode()
    assert len(parse(body, "text/plain", 11)) == 11
    with pytest.raises(ExpositionError, match="more than 10 samples"):
        parse(body, "text/plain", 10)
