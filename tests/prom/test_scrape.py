"""Scraping real HTTP exporters on loopback: what is stored, staleness, failures, bounds, and
that a slow target delays no other."""

from __future__ import annotations

import asyncio
import time

import orjson

from tests.conftest import Vigil
from tests.prom.helpers import Exporter, exporters, wait_for
from vigil.prom.scrape import Scraper

HOUR = 3600.0  # an interval that never comes round during a test: scrapes are triggered by hand


def _scraper(vigil: Vigil, url: str) -> Scraper:
    return next(s for s in vigil.services.prom._scrapers.values() if s.spec.url == url)


async def _series(vigil: Vigil, name: str, start: int) -> dict[tuple, list[tuple[int, float]]]:
    r = await vigil.client.get(f"/v1/measurements/{name}", params={"start_time": start - 5, "resolution": 1})
    if r.status_code == 404:
        return {}
    assert r.status_code == 200, r.text
    return {tuple(sorted(s["tags"].items())): [(m["time"], m["value"]) for m in s["measurements"]]
            for s in r.json()["series"]}


async def _stale(vigil: Vigil) -> list[tuple[str, int]]:
    store = vigil.services.telemetry
    rows = await store.query_arrow(f"SELECT metric, toUInt32(time) AS t FROM {store.database}.prom_stale "
                                   "ORDER BY metric, t")
    return [(r["metric"], r["t"]) for r in rows.to_pylist()]


async def test_a_scrape_stores_samples_with_target_labels_and_up(start_vigil) -> None:
    state = {"body": '# TYPE fn_calls counter\nfn_calls{fn_appname="a",job="theirs"} 4\ntemp 21.5\n'}
    async with exporters(Exporter(lambda: state["body"])) as (exporter,):
        target = {"url": exporter.url, "job": "fn", "interval": HOUR, "labels": {"region": "eu"}}
        vigil = await start_vigil(scrape_targets=[orjson.dumps(target).decode()])
        scraper = _scraper(vigil, exporter.url)
        before = int(time.time())
        health = await scraper.scrape_once()
        assert health.health == "up" and health.samples == 2 and health.last_error is None
        instance = exporter.url.split("/")[2]
        base = (("instance", instance), ("job", "fn"), ("region", "eu"))
        got = await _series(vigil, "fn_calls", before)
        # The exposed `job` conflicts with the target's: kept as exported_job.
        [(tags, points)] = got.items()
        assert tags == tuple(sorted((*base, ("fn_appname", "a"), ("exported_job", "theirs"))))
        assert len(points) == 1 and points[0][1] == 4.0 and before <= points[0][0] <= before + 2
        assert next(iter((await _series(vigil, "temp", before)).values()))[0][1] == 21.5
        up = await _series(vigil, "up", before)
        assert list(up) == [base] and up[base][0][1] == 1.0
        assert list(await _series(vigil, "scrape_samples_scraped", before)) == [base]
        duration = (await _series(vigil, "scrape_duration_seconds", before))[base][0][1]
        assert 0 < duration < 5
        metric = (await vigil.client.get("/v1/metrics/fn_calls")).json()
        assert metric["attributes"]["prometheus_type"] == "counter"


async def test_vanished_series_and_failed_scrapes_get_staleness_markers(start_vigil) -> None:
    state = {"body": "a 1\nb 2\n", "status": 200}
    async with exporters(Exporter(lambda: state["body"])) as (exporter,):
        vigil = await start_vigil(scrape_targets=[orjson.dumps({"url": exporter.url, "interval": HOUR}).decode()])
        scraper = _scraper(vigil, exporter.url)
        assert (await scraper.scrape_once()).health == "up"
        await asyncio.sleep(1.1)
        state["body"] = "a 1\n"
        t1 = int(time.time())
        await scraper.scrape_once()
        assert await _stale(vigil) == [("b", t1)]
        await asyncio.sleep(1.1)
        state["body"] = "a 1\n{broken"
        t2 = int(time.time())
        health = await scraper.scrape_once()
        assert health.health == "down" and "cannot be parsed" in (health.last_error or "")
        assert await _stale(vigil) == [("a", t2), ("b", t1)]
        up = await _series(vigil, "up", t1 - 5)
        assert [v for _, v in next(iter(up.values()))][-1] == 0.0


async def test_a_dead_target_is_down(start_vigil) -> None:
    exporter = await Exporter(lambda: "x 1\n").start()
    url = exporter.url
    await exporter.stop()
    vigil = await start_vigil(scrape_targets=[orjson.dumps({"url": url, "interval": HOUR}).decode()])
    health = await _scraper(vigil, url).scrape_once()
    assert health.health == "down" and health.last_error


async def test_a_slow_target_delays_no_other(start_vigil) -> None:
    slow = Exporter(lambda: "slow 1\n", delay=30)
    fast = Exporter(lambda: "fast 1\n")
    async with exporters(slow, fast):
        targets = [orjson.dumps({"url": slow.url, "interval": 1, "timeout": 1}).decode(),
                   orjson.dumps({"url": fast.url, "interval": 1, "timeout": 1}).decode()]
        vigil = await start_vigil(scrape_targets=targets)
        # Several scrapes of the fast target while the slow one is stuck.
        await wait_for(lambda: fast.requests >= 4, 15, "four scrapes of the fast target")
        assert slow.requests >= 1
        await wait_for(lambda: _scraper(vigil, slow.url).health.health == "down", 5, "the slow target timing out")
        slow_health = _scraper(vigil, slow.url).health
        assert "timed out after 1 s" in (slow_health.last_error or "")
        assert _scraper(vigil, fast.url).health.health == "up"


async def test_scrape_bounds(start_vigil) -> None:
    many = "".join(f'm{{i="{i}"}} {i}\n' for i in range(20))
    async with exporters(Exporter(lambda: many)) as (exporter,):
        vigil = await start_vigil(scrape_sample_limit=10,
                                  scrape_targets=[orjson.dumps({"url": exporter.url, "interval": HOUR}).decode()])
        health = await _scraper(vigil, exporter.url).scrape_once()
        assert health.health == "down" and "more than 10 samples" in (health.last_error or "")
        assert (await vigil.client.get("/v1/metrics/m")).status_code == 404
        vigil2 = await start_vigil(scrape_max_body_bytes=100,
                                   scrape_targets=[orjson.dumps({"url": exporter.url, "interval": HOUR}).decode()])
        health = await _scraper(vigil2, exporter.url).scrape_once()
        assert health.health == "down" and "larger than 100 bytes" in (health.last_error or "")


async def test_a_scrape_larger_than_one_ingest_call_is_stored_in_parts(start_vigil) -> None:
    body = "".join(f'part{{i="{i}"}} {i}\n' for i in range(12))
    async with exporters(Exporter(lambda: body)) as (exporter,):
        vigil = await start_vigil(max_measurements_per_request=5,
                                  scrape_targets=[orjson.dumps({"url": exporter.url, "interval": HOUR}).decode()])
        before = int(time.time())
        assert (await _scraper(vigil, exporter.url).scrape_once()).health == "up"
        assert len(await _series(vigil, "part", before)) == 12
