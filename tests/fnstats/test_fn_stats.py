"""The Fn statistics API over three simulated Fn servers (real HTTP servers exposing fn_* metrics that
change from scrape to scrape), scraped by Vigil; answers checked against values worked out by hand."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import orjson
import pytest

from tests.conftest import Vigil
from tests.prom.helpers import Exporter, exporters

HOUR = 3600.0
DUR = "fn_span_agent_submit_duration_seconds"


def _series(name: str, labels: dict[str, str], value: float, ms: int) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{inner}}} {value:g} {ms}\n"


def _route(app: str, path: str, ms: int, calls: float, completed: float, errors: float | None = None,
           timeouts: float | None = None, failed: float | None = None,
           durations: tuple[float, float] | None = None) -> str:
    labels = {"fn_appname": app, "fn_path": path}
    text = _series("fn_calls", labels, calls, ms) + _series("fn_completed", labels, completed, ms)
    for name, value in (("fn_errors", errors), ("fn_timeouts", timeouts), ("fn_failed", failed)):
        if value is not None:
            text += _series(name, labels, value, ms)
    if durations is not None:
        count, total = durations
        text += _series(f"{DUR}_bucket", {**labels, "le": "+Inf"}, count, ms)
        text += _series(f"{DUR}_sum", labels, total, ms) + _series(f"{DUR}_count", labels, count, ms)
    return text


HEAD = ("# TYPE fn_calls counter\n# TYPE fn_completed counter\n# TYPE fn_errors counter\n# TYPE fn_timeouts counter\n"
        "# TYPE fn_failed counter\n")


def server1(k: int, ms: int) -> str:
    return HEAD + _route("hello", "/r1", ms, 10 + 5 * k, 8 + 4 * k, k, 1, k + 1, (2 * k, 1.0 * k)) + \
        _route("hello", "/r2", ms, 2 * k, 2 * k)


def server2(k: int, ms: int) -> str:
    restarted = k == 4  # the server restarted: its counters start again (the answer is raw totals)
    return HEAD + _route("hello", "/r1", ms, 3 if restarted else 100 + 10 * k, 3 if restarted else 90 + 10 * k,
                         5, 2, 7, (6 * k, 6.0 * k))


def server3(k: int, ms: int) -> str:
    return HEAD + _route("other", "/nested/path", ms, 7, 7, 0, 0, 0, (k, 3.0 * k))


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
async def fn_vigil(start_vigil):
    """Vigil after five scrapes (k = 0…4) of three Fn servers, 15 s apart in the exposed timestamps."""
    base = int(time.time()) - 600
    base -= base % 60
    state = {"k": 0}
    makers = (server1, server2, server3)
    servers = [Exporter(lambda make=make: make(state["k"], (base + 15 * state["k"]) * 1000)) for make in makers]
    async with exporters(*servers):
        vigil = await start_vigil(scrape_targets=[orjson.dumps({"url": s.url, "job": "fn", "interval": HOUR}).decode()
                                                  for s in servers])
        scrapers = list(vigil.services.prom._scrapers.values())
        for k in range(5):
            state["k"] = k
            healths = await asyncio.gather(*(s.scrape_once() for s in scrapers))
            assert all(h.health == "up" for h in healths), healths
        yield vigil, base


async def _stats(vigil: Vigil, path: str, base: int, **extra: str) -> dict:
    params = {"starttime": iso(base + 30), "endtime": iso(base + 60), "step": "15s", **extra}
    r = await vigil.client.get(path, params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success"
    assert list(body["data"]) == ["calls", "completed", "errors", "timeouts", "durations", "failed"]
    return body["data"]


def _points(base: int, *values: float) -> list[dict]:
    return [{"time": base + 30 + 15 * i, "value": v} for i, v in enumerate(values)]


def _close(got: list[dict], want: list[dict]) -> None:
    assert [p["time"] for p in got] == [p["time"] for p in want]
    assert [p["value"] for p in got] == pytest.approx([p["value"] for p in want], rel=1e-9)


async def test_global_stats_sum_every_server(fn_vigil) -> None:
    vigil, base = fn_vigil
    for path in ("/v1/stats", "/v1/statistics"):
        data = await _stats(vigil, path, base)
        # calls at k=2,3,4: s1 /r1 20,25,30 + s1 /r2 4,6,8 + s2 120,130,3 (restarted) + s3 7,7,7.
        assert data["calls"] == _points(base, 151, 168, 48)
        assert data["completed"] == _points(base, 137, 153, 42)  # 16,20,24 + 4,6,8 + 110,120,3 + 7
        assert data["errors"] == _points(base, 7, 8, 9)  # 2,3,4 + 5 + 0
        assert data["timeouts"] == _points(base, 3, 3, 3)  # 1 + 2 + 0
        assert data["failed"] == _points(base, 10, 11, 12)  # 3,4,5 + 7 + 0
        # Σ rate(sum) / Σ rate(count): per 15 s the sums grow by 1 + 6 + 3 and the counts by 2 + 6 + 1.
        _close(data["durations"], _points(base, 10 / 9, 10 / 9, 10 / 9))


async def test_app_stats(fn_vigil) -> None:
    vigil, base = fn_vigil
    data = await _stats(vigil, "/v1/apps/hello/stats", base)
    assert data["calls"] == _points(base, 144, 161, 41)  # 20,25,30 + 4,6,8 + 120,130,3
    assert data["failed"] == _points(base, 10, 11, 12)
    _close(data["durations"], _points(base, 7 / 8, 7 / 8, 7 / 8))  # (1 + 6) / (2 + 6), not the mean of 0.5 and 1
    other = await _stats(vigil, "/v1/apps/other/statistics", base)
    assert other["calls"] == _points(base, 7, 7, 7)
    unknown = await _stats(vigil, "/v1/apps/nobody/stats", base)
    assert unknown == {"calls": [], "completed": [], "errors": [], "timeouts": [], "durations": [], "failed": []}


async def test_route_stats(fn_vigil) -> None:
    vigil, base = fn_vigil
    r1 = await _stats(vigil, "/v1/apps/hello/routes/r1/stats", base)
    assert r1["calls"] == _points(base, 140, 155, 33)
    assert r1["completed"] == _points(base, 126, 140, 27)
    assert r1["errors"] == _points(base, 7, 8, 9)
    assert r1["timeouts"] == _points(base, 3, 3, 3)
    _close(r1["durations"], _points(base, 7 / 8, 7 / 8, 7 / 8))
    r2 = await _stats(vigil, "/v1/apps/hello/routes/r2/stats", base)
    assert r2["calls"] == _points(base, 4, 6, 8)
    assert r2["errors"] == r2["timeouts"] == r2["failed"] == r2["durations"] == []
    # A nested route path, as is and URL-encoded.
    for path in ("/v1/apps/other/routes/nested/path/stats", "/v1/apps/other/routes/nested%2Fpath/stats"):
        nested = await _stats(vigil, path, base)
        assert nested["calls"] == _points(base, 7, 7, 7)
        _close(nested["durations"], _points(base, 3.0, 3.0, 3.0))


async def test_a_server_that_goes_away_stops_counting_at_once(start_vigil) -> None:
    """Staleness: without timestamps, the series of a server that stops exposing them end at that
    scrape, instead of counting for the five-minute look-back."""
    bodies = {"a": "fn_calls 5\n", "b": "fn_calls 7\n"}
    servers = [Exporter(lambda key=key: bodies[key]) for key in bodies]
    async with exporters(*servers):
        vigil = await start_vigil(scrape_targets=[orjson.dumps({"url": s.url, "interval": HOUR}).decode()
                                                  for s in servers])
        a, b = (next(x for x in vigil.services.prom._scrapers.values() if x.spec.url == s.url) for s in servers)
        await asyncio.gather(a.scrape_once(), b.scrape_once())
        t1 = int(time.time())
        await asyncio.sleep(1.1)
        bodies["b"] = ""
        await b.scrape_once()
        t2 = int(b.health.last_scrape or 0)
        r = await vigil.client.get("/v1/stats", params={"starttime": iso(t1), "endtime": iso(t2), "step": "1s"})
        points = r.json()["data"]["calls"]
        assert points[0] == {"time": t1, "value": 12}
        assert points[-1] == {"time": t2, "value": 5}


@pytest.mark.parametrize(("params", "error"), [
    ({"starttime": "yesterday"}, "Unable to parse starttime parameter"),
    ({"endtime": "2017-11-24 18:01:30"}, "Unable to parse endtime parameter"),
    ({"step": "30"}, "Unable to parse step parameter"),
    ({"step": "5 minutes"}, "Unable to parse step parameter"),
    ({"step": "0s"}, "zero or negative query resolution step widths are not accepted"),
    ({"step": "-30s"}, "zero or negative"),
    ({"starttime": "2017-11-24T18:11:30.849Z", "endtime": "2017-11-24T18:01:30.851Z"},
     "endtime (2017-11-24T18:01:30.851Z) is before starttime (2017-11-24T18:11:30.849Z)"),
    ({"starttime": "2017-11-24T18:01:30Z", "endtime": "2017-11-30T18:01:30Z", "step": "30s"},
     "exceeded maximum resolution of 11,000 points per timeseries"),
])
async def test_bad_parameters(vigil: Vigil, params: dict, error: str) -> None:
    for path in ("/v1/stats", "/v1/apps/a/stats", "/v1/apps/a/routes/r/stats"):
        r = await vigil.client.get(path, params=params)
        assert r.status_code == 400
        body = r.json()
        assert body["status"] == "error" and error in body["error"], body
        assert set(body) == {"status", "error"}


async def test_needs_a_token_with_read_rights(vigil: Vigil) -> None:
    async with vigil.as_token(None) as anonymous:
        assert (await anonymous.get("/v1/stats")).status_code == 401
