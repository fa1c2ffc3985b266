"""Every ingest buffer and cache has a limit that is reached here, without losing accepted data."""

from __future__ import annotations

import asyncio
import time

from tests.conftest import Vigil

NOW = int(time.time())


def payload(metric: str, hosts: range) -> dict:
    return {"measurements": [{"name": metric, "value": h, "time": NOW, "tags": {"host": f"h{h}"}} for h in hosts]}


async def read(vigil: Vigil, metric: str) -> dict[str, float]:
    r = await vigil.client.get(f"/v1/measurements/{metric}", params={"start_time": NOW - 60, "resolution": 60})
    return {s["tags"]["host"]: s["measurements"][0]["value"] for s in r.json()["series"]}


async def test_series_cache_limit_keeps_every_series_readable(start_vigil) -> None:
    vigil = await start_vigil(series_cache_limit=4)
    for chunk in (range(0, 5), range(5, 10), range(0, 10)):
        assert (await vigil.post_measurements(payload("many", chunk))).status_code == 202
        assert vigil.services.ingestor.cached_series <= 4
    assert await read(vigil, "many") == {f"h{h}": float(h) for h in range(10)}


async def test_pending_rows_limit_waits_for_room_then_503(start_vigil) -> None:
    vigil = await start_vigil(max_pending_rows=5, max_pending_wait=0.3, flush_interval=3600.0, flush_rows=10**9)
    assert (await vigil.post_measurements(payload("p", range(3)))).status_code == 202
    assert vigil.services.writer.pending_rows == 3
    # No room, and nothing loads the log within the wait: 503 with a system error, nothing accepted.
    r = await vigil.post_measurements(payload("p", range(3, 6)))
    assert r.status_code == 503
    assert r.json()["errors"]["system"]
    # A load of the log while the writer waits (the read barrier of a read that goes to the engine)
    # makes room: the write goes through.
    waiting = asyncio.create_task(vigil.post_measurements(payload("p", range(3, 6))))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await vigil.services.writer.sync()
    assert (await waiting).status_code == 202
    assert await read(vigil, "p") == {f"h{h}": float(h) for h in range(6)}


async def test_flush_rows_threshold_loads_without_a_reader(start_vigil) -> None:
    vigil = await start_vigil(flush_rows=10, flush_interval=3600.0)
    await vigil.post_measurements(payload("f", range(12)))
    for _ in range(100):
        if vigil.services.writer.pending_rows == 0:
            break
        await asyncio.sleep(0.02)
    assert vigil.services.writer.pending_rows == 0
    assert vigil.services.writer.wal.segments() == []


async def test_reported_errors_are_capped_but_counted(vigil: Vigil) -> None:
    bad = [{"name": "m", "value": 1}] * 150  # no tags
    r = await vigil.post_measurements({"measurements": [*bad, {"name": "m", "value": 1, "tags": {"a": "b"}}]})
    assert r.status_code == 202
    assert r.json()["measurements"]["summary"]["failed"] == 150
    assert len(r.json()["errors"]) == 100
