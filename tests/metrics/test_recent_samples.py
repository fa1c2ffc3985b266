"""The recent points held in memory answer exactly as the engine does, stay within their bound, and
hand every window they do not cover to the engine."""

from __future__ import annotations

import random
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import StartVigil, Vigil

from vigil.metrics.samples import Source, latest_sample_time

NOW = int(time.time())
T0 = NOW - NOW % 3600 - 7200


async def _load(vigil: Vigil) -> None:
    rng = random.Random(7)
    r = await vigil.client.put("/v1/metrics/agg", json={"type": "gauge", "period": 60,
                                                        "attributes": {"aggregate": True}})
    assert r.status_code in (201, 204), r.text
    first, rewrites = [], []
    for n in range(12):
        tags = {"host": f"h{n}", "role": "web" if n % 3 else "db"} | ({"region": f"r{n % 3}"} if n % 4 else {})
        t = T0 + rng.randrange(0, 40)
        while t < T0 + 1800:
            value = round(rng.uniform(-5, 100), 3) if n % 5 else float(t - T0 + n)  # some counters
            first.append({"name": "raw", "value": value, "time": t, "tags": tags})
            if rng.random() < 0.2:  # the same point written again, later: the last write wins
                rewrites.append({"name": "raw", "value": value * 2 + 1, "time": t, "tags": tags})
            if rng.random() < 0.3:  # a counter reset
                first[-1]["value"] = 0.5
            first.append({"name": "agg", "value": value, "time": t, "tags": tags})  # aggregated: every one kept
            t += rng.choice((7, 13, 30, 61, 200))
    for body in (first, rewrites):
        r = await vigil.post_measurements({"measurements": body})
        assert r.status_code == 202, r.text


QUERIES = [
    {"resolution": 1}, {"resolution": 60}, {"resolution": 300}, {"resolution": 3600},
    *({"resolution": 60, "summary_function": f} for f in ("sum", "min", "max", "count", "derivative", "stddev", "all")),
    *({"resolution": 120, "group_by": "region", "group_by_function": f} for f in ("sum", "min", "max", "mean")),
    {"resolution": 300, "group_by": "*", "group_by_function": "sum", "summary_function": "derivative"},
    {"resolution": 60, "group_by": "role,region", "group_by_function": "max", "summary_function": "count"},
    {"resolution": 60, "tags[region]": "r1"}, {"resolution": 60, "tags[!region]": ""},
    {"resolution": 60, "tags_search": "role=db or region=r2"},
]


async def _answer(vigil: Vigil, metric: str, params: dict) -> list:
    out, url = [], f"/v1/measurements/{metric}"
    query: dict | None = {"start_time": T0 + 45, "end_time": T0 + 1700, **params}
    while url:
        r = await vigil.client.get(url, params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        out += [(s["tags"], [{k: round(v, 9) for k, v in m.items()} for m in s["measurements"]])
                for s in body["series"]]
        url, query = next((link["href"] for link in body["links"] if link["rel"] == "next"), ""), None
    return out


@pytest.mark.parametrize("metric", ["raw", "agg"])
async def test_memory_answers_as_the_engine(vigil: Vigil, metric: str) -> None:
    await _load(vigil)
    reads = vigil.services.reader.reads
    held = reads.recent
    assert held is not None and held.rows > 0
    for params in QUERIES:
        if metric == "agg" and params.get("summary_function") in ("derivative", "all"):
            continue  # which of an aggregated metric's points of one time is `last` is not defined
        from_memory = await _answer(vigil, metric, params)
        reads.recent = None
        try:
            from_engine = await _answer(vigil, metric, params)
        finally:
            reads.recent = held
        assert from_memory == from_engine, params
        assert from_memory, params


async def test_the_bound_moves_coverage_forward_and_the_engine_answers_the_rest(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(recent_samples_rows=100)
    for n in range(150):  # one request per point: the bound is reached as they arrive
        r = await vigil.post_measurements({"measurements": [
            {"name": "b", "value": n, "time": T0 + 30 * n, "tags": {"h": "x"}}]})
        assert r.status_code == 202, r.text
    recent = vigil.services.recent
    assert 0 < recent.rows <= 100
    assert T0 < recent.since <= T0 + 30 * 149
    exposed = (await vigil.client.get("/metrics", params={"name[]": ["vigil_recent_samples_rows",
                                                                      "vigil_recent_samples_since_seconds"]})).text
    values = {f.name: f.samples[0].value for f in text_string_to_metric_families(exposed)}
    assert values == {"vigil_recent_samples_rows": recent.rows, "vigil_recent_samples_since_seconds": recent.since}
    assert not recent.covers([Source("samples", T0, T0 + 4500)], NOW)
    assert recent.covers([Source("samples", T0 + 30 * 149, T0 + 4500)], NOW)
    r = await vigil.client.get("/v1/measurements/b", params={"start_time": T0, "end_time": T0 + 4500,
                                                             "resolution": 30})
    assert [m["value"] for m in r.json()["series"][0]["measurements"]] == list(range(150))


async def test_points_older_than_the_coverage_go_to_the_engine(vigil: Vigil) -> None:
    await vigil.post_measurements({"measurements": [{"name": "late", "value": 1, "time": T0 + 600,
                                                     "tags": {"h": "x"}}]})
    await vigil.services.writer.sync()
    recent = vigil.services.recent
    recent.start(await latest_sample_time(vigil.services.telemetry))  # as a restart does
    assert recent.since == T0 + 601
    await vigil.post_measurements({"measurements": [{"name": "late", "value": 2, "time": T0, "tags": {"h": "x"}}]})
    assert recent.rows == 1  # only the point from before: the backfill was not held
    r = await vigil.client.get("/v1/measurements/late", params={"start_time": T0, "end_time": T0 + 900,
                                                                "resolution": 60})
    assert [(m["time"], m["value"]) for m in r.json()["series"][0]["measurements"]] == [(T0, 2), (T0 + 600, 1)]


async def test_a_deleted_metric_is_forgotten(vigil: Vigil) -> None:
    await vigil.post_measurements({"measurements": [{"name": "gone", "value": 1, "time": T0, "tags": {"h": "x"}}]})
    assert (await vigil.client.delete("/v1/metrics/gone")).status_code == 204
    await vigil.post_measurements({"measurements": [{"name": "gone", "value": 2, "time": T0 + 60,
                                                     "tags": {"h": "x"}}]})
    r = await vigil.client.get("/v1/measurements/gone", params={"start_time": T0, "end_time": T0 + 600,
                                                                "resolution": 60})
    assert [m["value"] for m in r.json()["series"][0]["measurements"]] == [2]
