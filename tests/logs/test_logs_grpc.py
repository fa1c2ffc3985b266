"""The Loggregator v2 gRPC ingress, driven by a real gRPC client built from the envelope proto: logs
come back through the log-cache read API, counters and gauges through the metrics API."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator

import grpc
import pytest

from tests.conftest import StartVigil, Vigil
from tests.logs.conftest import eventually
from vigil.ingest.grpc_ingress import EnvelopeMetrics
from vigil.ingest.loggregator_v2 import envelope_pb2 as pb
from vigil.ingest.loggregator_v2.service import IngressStub

NOW_NS = (int(time.time()) - 30) * 10**9


def log_envelope(app: str, text: str, *, ts: int = NOW_NS, err: bool = False, instance: str = "0",
                 source_type: str | None = "APP/PROC/WEB") -> pb.Envelope:
    tags = {"source_type": source_type} if source_type else {}
    return pb.Envelope(timestamp=ts, source_id=app, instance_id=instance, tags=tags,
                       log=pb.Log(payload=text.encode(), type=pb.Log.ERR if err else pb.Log.OUT))


@pytest.fixture
async def vigil(start_vigil: StartVigil) -> Vigil:
    return await start_vigil(listeners="ephemeral")


@pytest.fixture
async def stub(vigil: Vigil) -> AsyncIterator[IngressStub]:
    grpc_ingress = vigil.services.log_listeners.grpc
    assert grpc_ingress is not None and grpc_ingress.port > 0
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_ingress.port}") as channel:
        yield IngressStub(channel)


async def read_back(vigil: Vigil, app: str, n: int) -> list[dict]:
    async def check() -> list[dict]:
        r = await vigil.client.get(f"/api/v1/read/{app}", params={"limit": 100})
        batch = r.json()["envelopes"]["batch"]
        return batch if len(batch) >= n else []
    return await eventually(check)


async def test_send_batches_come_back_through_the_read_api(vigil: Vigil, stub: IngressStub) -> None:
    batch = pb.EnvelopeBatch(batch=[log_envelope("grpcapp", "out line", ts=NOW_NS + 1000),
                                    log_envelope("grpcapp", "err line", ts=NOW_NS + 2000, err=True, instance="3")])
    await stub.Send(batch)
    envelopes = await read_back(vigil, "grpcapp", 2)
    assert [(e["timestamp"], e["instance_id"], e["tags"]["source_type"], e["log"]["type"],
             base64.b64decode(e["log"]["payload"]).decode()) for e in envelopes] == [
        (str(NOW_NS + 1000), "0", "APP/PROC/WEB", "OUT", "out line"),
        (str(NOW_NS + 2000), "3", "APP/PROC/WEB", "ERR", "err line")]


async def test_batch_sender_and_sender_streams(vigil: Vigil, stub: IngressStub) -> None:
    async def batches() -> AsyncIterator[pb.EnvelopeBatch]:
        for i in range(3):
            yield pb.EnvelopeBatch(batch=[log_envelope("streamed", f"b{i}.{j}", ts=NOW_NS + i * 10 + j)
                                          for j in range(2)])

    async def singles() -> AsyncIterator[pb.Envelope]:
        for i in range(3):
            yield log_envelope("single", f"s{i}", ts=NOW_NS + i, source_type=None)

    await stub.BatchSender(batches())
    await stub.Sender(singles())
    got = await read_back(vigil, "streamed", 6)
    assert [base64.b64decode(e["log"]["payload"]).decode() for e in got] == [
        "b0.0", "b0.1", "b1.0", "b1.1", "b2.0", "b2.1"]
    singles_got = await read_back(vigil, "single", 3)
    assert [e["tags"]["source_type"] for e in singles_got] == ["APP"] * 3  # the default without a tag


async def test_a_zero_timestamp_means_now_and_source_ids_become_app_names(vigil: Vigil,
                                                                          stub: IngressStub) -> None:
    before = time.time_ns()
    await stub.Send(pb.EnvelopeBatch(batch=[log_envelope("Org.Space.App", "x", ts=0)]))
    (env,) = await read_back(vigil, "org-space-app", 1)
    assert before <= int(env["timestamp"]) <= time.time_ns()


async def test_counters_and_gauges_go_to_the_metrics_store(vigil: Vigil, stub: IngressStub) -> None:
    when = (int(time.time()) - 120) * 10**9
    await stub.Send(pb.EnvelopeBatch(batch=[
        pb.Envelope(timestamp=when, source_id="metered", instance_id="1", tags={"job": "web", "bad tag!": "x"},
                    counter=pb.Counter(name="requests", delta=5, total=105)),
        pb.Envelope(timestamp=when, source_id="metered",
                    gauge=pb.Gauge(metrics={"cpu": pb.GaugeValue(unit="percentage", value=12.5),
                                            "memory": pb.GaugeValue(unit="bytes", value=1024.0)})),
        pb.Envelope(timestamp=when, source_id="metered", timer=pb.Timer(name="t", start=1, stop=2)),
    ]))

    async def measured(name: str) -> dict:
        r = await vigil.client.get(f"/v1/measurements/{name}", params={"duration": 3600, "resolution": 1})
        return r.json() if r.status_code == 200 and r.json().get("series") else {}

    requests = await eventually(lambda: measured("requests"))
    (series,) = requests["series"]
    assert series["tags"] == {"source_id": "metered", "instance_id": "1", "job": "web"}
    assert [p["value"] for p in series["measurements"]] == [105.0]
    cpu = await eventually(lambda: measured("cpu"))
    assert cpu["series"][0]["measurements"][0]["value"] == 12.5
    assert (await eventually(lambda: measured("memory")))["series"][0]["measurements"][0]["value"] == 1024.0
    grpc_ingress = vigil.services.log_listeners.grpc
    assert grpc_ingress is not None and grpc_ingress.ignored == 1


async def test_the_envelope_metrics_queue_is_bounded() -> None:
    stored: list[bytes] = []

    class Result:
        accepted, failed = 1, 0

    async def ingest(body: bytes) -> Result:
        stored.append(body)
        return Result()

    queue = EnvelopeMetrics(ingest, capacity=3, batch=2)
    queue.offer([{"name": f"m{i}", "value": i} for i in range(5)])
    assert queue.pending == 3 and queue.dropped == 2
    await queue.flush()
    assert queue.pending == 0 and len(stored) == 2  # batches of 2 and 1
    assert b'"m2"' in stored[0] and b'"m4"' in stored[1]


async def test_messages_over_the_size_limit_are_refused(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(listeners="ephemeral", max_body_bytes=1000)
    port = vigil.services.log_listeners.grpc.port  # type: ignore[union-attr]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = IngressStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Send(pb.EnvelopeBatch(batch=[log_envelope("huge", "x" * 2000)]))
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        await stub.Send(pb.EnvelopeBatch(batch=[log_envelope("huge", "small")]))
    await eventually(lambda: vigil.services.logs.ring.count("huge") == 1)
