"""POST /api/v1/write: payloads built with the real remote-write messages, snappy-compressed."""

from __future__ import annotations

import time

import pytest

from tests.conftest import Vigil
from tests.prom.helpers import STALE_NAN, WRITE_HEADERS, payload, snappy, write_request
from vigil.auth.roles import Role


def _now_ms() -> int:
    return (int(time.time()) - 120) * 1000


async def _points(vigil: Vigil, name: str, start: int, **tags: str) -> dict[tuple, list[tuple[int, float]]]:
    params = {"start_time": start - 10, "resolution": 1, **{f"tags[{k}]": v for k, v in tags.items()}}
    r = await vigil.client.get(f"/v1/measurements/{name}", params=params)
    if r.status_code == 404:
        return {}
    assert r.status_code == 200, r.text
    return {tuple(sorted(s["tags"].items())): [(m["time"], m["value"]) for m in s["measurements"]]
            for s in r.json()["series"]}


async def test_samples_are_stored_with_labels_as_tags(vigil: Vigil) -> None:
    t0 = _now_ms()
    body = payload([
        ({"__name__": "http_requests_total", "job": "api", "instance": "h1:9100", "method": "GET"},
         [(10.0, t0), (12.0, t0 + 15_000)]),
        ({"__name__": "temperature", "job": "api", "room": "Kitchen"}, [(21.5, t0 + 1_500)]),
    ])
    r = await vigil.client.post("/api/v1/write", content=body, headers=WRITE_HEADERS)
    assert r.status_code == 204, r.text
    s = t0 // 1000
    got = await _points(vigil, "http_requests_total", s)
    # Values lower-cased by the tag rules (GET → get); times to the second.
    assert got == {(("instance", "h1:9100"), ("job", "api"), ("method", "get")): [(s, 10.0), (s + 15, 12.0)]}
    got = await _points(vigil, "temperature", s)
    assert got == {(("job", "api"), ("room", "kitchen")): [(s + 1, 21.5)]}
    metric = (await vigil.client.get("/v1/metrics/http_requests_total")).json()
    assert metric["attributes"]["prometheus_type"] == "counter"  # guessed from the _total suffix


async def test_names_and_values_outside_the_rules_are_sanitised(vigil: Vigil) -> None:
    t0 = _now_ms()
    body = payload([
        ({"__name__": "req_duration_bucket", "le": "+Inf", "path": "/a b+c", "__meta_x": "gone", "empty": ""},
         [(3.0, t0)]),
        ({"__name__": "lonely"}, [(1.0, t0)]),
    ])
    r = await vigil.client.post("/api/v1/write", content=body, headers=WRITE_HEADERS)
    assert r.status_code == 204
    s = t0 // 1000
    # le=+Inf → inf; '+' → '_'; __-labels and empty values dropped.
    assert await _points(vigil, "req_duration_bucket", s) == {(("le", "inf"), ("path", "/a b_c")): [(s, 3.0)]}
    assert await _points(vigil, "lonely", s) == {(("source", "prometheus"),): [(s, 1.0)]}


async def test_series_the_rules_cannot_hold_are_dropped_and_counted(vigil: Vigil) -> None:
    t0 = _now_ms()
    too_many = {"__name__": "wide", **{f"l{i}": "v" for i in range(51)}}
    body = payload([
        (too_many, [(1.0, t0)]),
        ({"__name__": "x" * 256, "a": "b"}, [(1.0, t0)]),
        ({"__name__": "collide", "Mode": "a", "mode": "b"}, [(1.0, t0)]),
        ({"__name__": "kept", "a": "b"}, [(1.0, t0), (float("inf"), t0 + 1000), (float("nan"), t0 + 2000)]),
    ])
    r = await vigil.client.post("/api/v1/write", content=body, headers=WRITE_HEADERS)
    assert r.status_code == 204
    assert await _points(vigil, "kept", t0 // 1000) == {(("a", "b"),): [(t0 // 1000, 1.0)]}
    assert (await vigil.client.get("/v1/metrics/wide")).status_code == 404
    assert (await vigil.client.get("/v1/metrics/collide")).status_code == 404
    text = vigil.services.self_metrics.render().decode()
    assert 'vigil_prom_dropped_series_total{path="remote_write",reason="too_many_labels"} 1.0' in text
    assert 'vigil_prom_dropped_series_total{path="remote_write",reason="bad_name"} 1.0' in text
    assert 'vigil_prom_dropped_series_total{path="remote_write",reason="label_collision"} 1.0' in text
    # inf and a plain NaN cannot be stored: rejected, counted, the rest kept.
    assert 'vigil_prom_samples_total{outcome="rejected",path="remote_write"} 5.0' in text


async def test_stale_nan_becomes_a_marker_not_a_value(vigil: Vigil) -> None:
    t0 = _now_ms()
    body = payload([({"__name__": "g", "job": "j"}, [(5.0, t0), (STALE_NAN, t0 + 10_000)])])
    assert (await vigil.client.post("/api/v1/write", content=body, headers=WRITE_HEADERS)).status_code == 204
    assert await _points(vigil, "g", t0 // 1000) == {(("job", "j"),): [(t0 // 1000, 5.0)]}
    store = vigil.services.telemetry
    rows = await store.query_arrow(f"SELECT metric, toUInt32(time) AS t FROM {store.database}.prom_stale")
    assert rows.to_pylist() == [{"metric": "g", "t": t0 // 1000 + 10}]


@pytest.mark.parametrize(("body", "headers", "status"), [
    (b"not snappy at all", WRITE_HEADERS, 400),
    (snappy(b"\xff\xff\xff garbage that is no protobuf"), WRITE_HEADERS, 400),
    (b"\x80\x80\x80\x80\x80\x80", WRITE_HEADERS, 400),
    (snappy(b"x"), {**WRITE_HEADERS, "Content-Encoding": "gzip"}, 415),
    (snappy(b"x"), {**WRITE_HEADERS, "Content-Type": "application/json"}, 415),
])
async def test_bad_payloads_are_400_and_store_nothing(vigil: Vigil, body: bytes, headers: dict, status: int) -> None:
    r = await vigil.client.post("/api/v1/write", content=body, headers=headers)
    assert r.status_code == status, r.text
    assert "errors" in r.json()
    assert (await vigil.client.get("/v1/metrics")).json()["metrics"] == []


async def test_a_payload_that_is_partly_bad_stores_nothing(vigil: Vigil) -> None:
    good = write_request([({"__name__": "ok", "a": "b"}, [(1.0, _now_ms())])]).SerializeToString()
    r = await vigil.client.post("/api/v1/write", content=snappy(good + b"\x0a\xff\xff\xff"), headers=WRITE_HEADERS)
    assert r.status_code == 400
    assert (await vigil.client.get("/v1/metrics")).json()["metrics"] == []


async def test_body_and_sample_limits(start_vigil) -> None:
    vigil = await start_vigil(remote_write_max_body_bytes=2_000, remote_write_max_samples=3)
    t0 = _now_ms()
    big = payload([({"__name__": "big", "a": "x" * 250, "b": str(i)}, [(1.0, t0)]) for i in range(20)])
    r = await vigil.client.post("/api/v1/write", content=big, headers=WRITE_HEADERS)
    assert r.status_code == 413
    many = payload([({"__name__": "many", "a": "b"}, [(1.0, t0 + i * 1000) for i in range(4)])])
    r = await vigil.client.post("/api/v1/write", content=many, headers=WRITE_HEADERS)
    assert r.status_code == 400 and "at most 3" in r.text
    assert (await vigil.client.get("/v1/metrics")).json()["metrics"] == []


async def test_nothing_accepted_is_a_400_saying_why(vigil: Vigil) -> None:
    body = payload([({"__name__": "ancient", "a": "b"}, [(1.0, 1_000_000)])])  # 1970: outside the window
    r = await vigil.client.post("/api/v1/write", content=body, headers=WRITE_HEADERS)
    assert r.status_code == 400
    assert "time" in r.json()["errors"]["request"][0]


async def test_roles_and_environment(vigil: Vigil) -> None:
    body = payload([({"__name__": "envd", "a": "b"}, [(1.0, _now_ms())])])
    viewer = vigil.as_token(await vigil.token(Role.VIEWER))
    async with viewer:
        assert (await viewer.post("/api/v1/write", content=body, headers=WRITE_HEADERS)).status_code == 403
    recorder = vigil.as_token(await vigil.token(Role.RECORDER, environment="prod"))
    async with recorder:
        assert (await recorder.post("/api/v1/write", content=body, headers=WRITE_HEADERS)).status_code == 204
    got = await _points(vigil, "envd", _now_ms() // 1000)
    assert list(got) == [(("a", "b"), ("environment", "prod"))]


async def test_label_set_cache_is_bounded(start_vigil) -> None:
    vigil = await start_vigil(prom_series_cache=4)
    t0 = _now_ms()
    for i in range(10):
        body = payload([({"__name__": "cached", "i": str(i)}, [(float(i), t0)])])
        assert (await vigil.client.post("/api/v1/write", content=body, headers=WRITE_HEADERS)).status_code == 204
        assert len(vigil.services.prom.remote_write._cache) <= 4
    assert len(await _points(vigil, "cached", t0 // 1000)) == 10
