"""Nothing acknowledged is lost: the write-ahead log is loaded after a crash, the lifecycle processor
catches up from its watermark, and a full pipeline makes writers wait, then refuse (503)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from pathlib import Path

from tests.conftest import ADMIN, StartVigil
from tests.events.conftest import KEEP
from tests.events.fixtures import REGION_1, A, note
from vigil.config import Settings
from vigil.services import Services
from vigil.storage.telemetry import ChdbTelemetry

TIMINGS_A = [["?", "Event", "Time (secs)"], [".", "compute.instance.create", "0d 00:00:55.50"],
             [".", "compute.instance.snapshot", "0d 00:14:11.71"],
             [".", "compute.instance.resize.prep", "0d 00:00:02.50"],
             [".", "compute.instance.finish_resize", "0d 00:00:03.75"]]


def make(chdb_path: Path, data_dir: Path, database: str, **overrides: object) -> Services:
    settings = replace(Settings(data_dir=data_dir, admin_token=ADMIN, events_retention=KEEP), **overrides)
    return Services(settings, telemetry=ChdbTelemetry(chdb_path, database=database))


def crash(services: Services) -> None:
    """Stop the events' tasks where they are, without flushing anything (as a killed process would)."""
    for task in [*services.events.writer._tasks, services.events.processor._task]:
        if task is not None:
            task.cancel()


async def timings_of(services: Services, instance: str) -> list:
    return await services.events.views.timings_uuid({"uuid": instance})


async def test_log_is_loaded_after_a_crash(chdb_path: Path, tmp_path: Path) -> None:
    database = f"t_{uuid.uuid4().hex}"
    first = make(chdb_path, tmp_path, database, flush_interval=3600.0)
    await first.start()
    try:
        ids = await first.events.ingest_http(REGION_1, deployment="region-1", service=None, routing_key=None)
        assert ids == list(range(1, 15))
        assert first.events.writer.loaded_id == 0  # acknowledged, only in the log
        crash(first)
        await asyncio.sleep(0)
        second = make(chdb_path, tmp_path, database)
        await second.start()
        try:
            assert await timings_of(second, A) == TIMINGS_A
            more = await second.events.ingest_http([note("compute.instance.update", "23:00:00", instance=A)],
                                                   deployment="region-1", service=None, routing_key=None)
            assert more == [15]  # ids go on
            # a redelivery of something stored before the crash is still recognised
            again = await second.events.ingest_http(REGION_1[:1], deployment="region-1", service=None,
                                                    routing_key=None)
            assert again == [1]
        finally:
            await second.close()
    finally:
        await first.metadata.close()
        await first.telemetry.execute(f"DROP DATABASE IF EXISTS {database}")


async def test_processor_catches_up_from_its_watermark(chdb_path: Path, tmp_path: Path) -> None:
    database = f"t_{uuid.uuid4().hex}"
    first = make(chdb_path, tmp_path, database)
    await first.start()
    try:
        first.events.writer._on_loaded = None  # the processor never hears of the load
        await first.events.ingest_http(REGION_1, deployment="region-1", service=None, routing_key=None)
        await first.events.writer.sync()
        assert first.events.writer.loaded_id == 14 and first.events.processor.processed_id == 0
        crash(first)
        second = make(chdb_path, tmp_path, database)
        await second.start()
        try:
            assert await timings_of(second, A) == TIMINGS_A
            assert second.events.processor.processed_id == 14
        finally:
            await second.close()
        third = make(chdb_path, tmp_path, database)  # a clean restart folds nothing twice
        await third.start()
        try:
            assert await timings_of(third, A) == TIMINGS_A
        finally:
            await third.close()
    finally:
        await first.metadata.close()
        await first.telemetry.execute(f"DROP DATABASE IF EXISTS {database}")


async def test_full_pipeline_waits_then_refuses(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(events_retention=KEEP, events_max_pending=3, flush_interval=3600.0,
                              events_flush_rows=1000, max_pending_wait=0.2)
    notes = [note("compute.instance.update", f"10:00:0{i}", instance=A) for i in range(4)]
    ok = await vigil.client.post("/v1/notifications?deployment=d", json=notes[:3])
    assert ok.status_code == 202
    refused = await vigil.client.post("/v1/notifications?deployment=d", json=notes[3:])
    assert refused.status_code == 503
    assert refused.json() == {"errors": {"system": ["Too many notifications waiting to be stored; retry shortly"]}}
    # once the engine has them, there is room again
    await vigil.services.events.writer.sync()
    assert (await vigil.client.post("/v1/notifications?deployment=d", json=notes[3:])).status_code == 202
