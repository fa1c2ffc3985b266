"""The Loggregator v2 `Ingress` gRPC service: `Sender`, `BatchSender` and `Send`, as Cloud Foundry's
agents call them.

Envelope mapping:
- `Log`: source_id -> app (made a valid app name, see `logs.apps.app_name`), the `source_type` tag
  (`APP/PROC/WEB`, `RTR`, `STG` …; `APP` when absent) -> source, instance_id -> instance,
  `OUT`/`ERR` -> stdout/stderr, timestamp (ns; 0 = now) -> µs, payload (UTF-8, invalid bytes
  replaced) -> message, the peer's address -> host. Other tags are not kept with log lines.
- `Counter` and `Gauge` become measurements of the metrics store (see `EnvelopeMetrics`).
- `Timer` and `Event` are counted and ignored.

Envelopes never wait for storage: lines go to the pipeline (bounded, drop-oldest), measurements to
a bounded queue that one task feeds to the metrics ingestor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import grpc
import orjson

from vigil.ingest.loggregator_v2 import envelope_pb2, ingress_pb2, service
from vigil.logs.model import STDERR, STDOUT, LogLine
from vigil.logs.pipeline import LogPipeline, clip
from vigil.metrics.names import MAX_TAGS, METRIC_NAME, TAG_NAME, TAG_VALUE

log = logging.getLogger(__name__)

DEFAULT_SOURCE = "APP"
_ERR = envelope_pb2.Log.ERR


def _tags(env: envelope_pb2.Envelope) -> dict[str, str]:
    """Measurement tags: source_id, instance_id, then the envelope's tags that are valid tag names
    and values (at most 50 in all)."""
    tags: dict[str, str] = {}
    if env.source_id and TAG_VALUE.match(env.source_id):
        tags["source_id"] = env.source_id
    if env.instance_id and TAG_VALUE.match(env.instance_id):
        tags["instance_id"] = env.instance_id
    pairs: list[tuple[str, str]] = list(env.tags.items())
    pairs += [(k, v.text) for k, v in env.deprecated_tags.items() if v.WhichOneof("data") == "text"]
    for key, value in sorted(pairs):
        if len(tags) >= MAX_TAGS:
            break
        if key not in tags and TAG_NAME.match(key) and TAG_VALUE.match(value):
            tags[key] = value
    return tags


def measurements(env: envelope_pb2.Envelope) -> list[dict[str, Any]]:
    """An envelope's counter or gauge as AppOptics measurements. A counter records its `total`
    (or its `delta` when the total is not set); a gauge records each of its values."""
    kind = env.WhichOneof("message")
    when = env.timestamp / 1e9 if env.timestamp else time.time()
    out: list[dict[str, Any]] = []
    if kind == "counter":
        counter = env.counter
        if METRIC_NAME.match(counter.name):
            out.append({"name": counter.name, "value": float(counter.total or counter.delta), "time": when})
    elif kind == "gauge":
        for name, gauge in sorted(env.gauge.metrics.items()):
            if METRIC_NAME.match(name):
                out.append({"name": name, "value": gauge.value, "time": when})
    if out:
        tags = _tags(env)
        if tags:
            for m in out:
                m["tags"] = tags
    return out


class EnvelopeMetrics:
    """Counters and gauges on their way to the metrics store: a bounded queue (the oldest are
    dropped and counted when full) drained by one task in batches of up to `batch` measurements."""

    def __init__(self, ingest: Callable[[bytes], Awaitable[Any]], capacity: int, batch: int = 10_000) -> None:
        self._ingest = ingest
        self.capacity = capacity
        self.batch = batch
        self._queue: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.accepted = 0  # stored by the metrics ingestor
        self.rejected = 0  # refused by it (bad time, value …)
        self.dropped = 0  # the queue was full
        self.failed = 0  # lost to a storage failure

    def offer(self, items: Iterable[dict[str, Any]]) -> None:
        queue = self._queue
        queue.extend(items)
        excess = len(queue) - self.capacity
        for _ in range(max(0, excess)):
            queue.popleft()
        if excess > 0:
            self.dropped += excess
        if queue:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="envelope-metrics")

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        while self._queue:
            n = min(self.batch, len(self._queue))
            chunk = [self._queue.popleft() for _ in range(n)]
            try:
                result = await self._ingest(orjson.dumps({"measurements": chunk}))
                self.accepted += result.accepted
                self.rejected += result.failed
            except Exception as exc:
                self.failed += n
                log.warning("could not store %d envelope measurements: %s", n, exc)

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()


class _Ingress:
    """The three methods of `loggregator.v2.Ingress` (`loggregator_v2/service.py`)."""

    def __init__(self, listener: GrpcIngress) -> None:
        self.listener = listener

    async def Sender(self, request_iterator: AsyncIterator[envelope_pb2.Envelope],
                     context: grpc.aio.ServicerContext) -> ingress_pb2.IngressResponse:
        host = _peer_host(context)
        async for envelope in request_iterator:
            self.listener.take((envelope,), host)
        return ingress_pb2.IngressResponse()

    async def BatchSender(self, request_iterator: AsyncIterator[envelope_pb2.EnvelopeBatch],
                          context: grpc.aio.ServicerContext) -> ingress_pb2.BatchSenderResponse:
        host = _peer_host(context)
        async for batch in request_iterator:
            self.listener.take(batch.batch, host)
        return ingress_pb2.BatchSenderResponse()

    async def Send(self, request: envelope_pb2.EnvelopeBatch,
                   context: grpc.aio.ServicerContext) -> ingress_pb2.SendResponse:
        self.listener.take(request.batch, _peer_host(context))
        return ingress_pb2.SendResponse()


def _peer_host(context: grpc.aio.ServicerContext) -> str:
    peer = context.peer() or ""  # "ipv4:127.0.0.1:5555", "ipv6:[::1]:5555"
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]")
    return ""


class GrpcIngress:
    def __init__(self, pipeline: LogPipeline, metrics: EnvelopeMetrics, host: str, port: int, *,
                 max_streams: int, max_message_bytes: int, max_line_bytes: int) -> None:
        self.pipeline = pipeline
        self.metrics = metrics
        self.host = host
        self.requested_port = port
        self.max_streams = max_streams
        self.max_message_bytes = max_message_bytes
        self.max_line_bytes = max_line_bytes
        self.port = 0
        self._server: grpc.aio.Server | None = None
        self.envelopes = 0
        self.lines = 0
        self.ignored = 0  # timers, events and empty envelopes

    def take(self, envelopes: Iterable[envelope_pb2.Envelope], host: str) -> None:
        lines: list[LogLine] = []
        now = 0
        n = 0
        for env in envelopes:
            n += 1
            kind = env.WhichOneof("message")
            if kind == "log":
                ts = env.timestamp // 1000
                if ts <= 0:
                    now = now or time.time_ns() // 1000
                    ts = now
                lg = env.log
                lines.append(LogLine(
                    env.source_id, env.tags.get("source_type") or DEFAULT_SOURCE, env.instance_id,
                    STDERR if lg.type == _ERR else STDOUT, ts, host,
                    clip(lg.payload.decode("utf-8", "replace").removesuffix("\n"), self.max_line_bytes)))
            elif kind in ("counter", "gauge"):
                self.metrics.offer(measurements(env))
            else:
                self.ignored += 1
        self.envelopes += n
        if lines:
            self.lines += len(lines)
            self.pipeline.accept(lines)

    async def start(self) -> int:
        options = [("grpc.max_receive_message_length", self.max_message_bytes),
                   ("grpc.so_reuseport", 0)]
        server = grpc.aio.server(options=options, maximum_concurrent_rpcs=self.max_streams)
        server.add_generic_rpc_handlers((service.handler(_Ingress(self)),))
        address = f"[{self.host}]:{self.requested_port}" if ":" in self.host else f"{self.host}:{self.requested_port}"
        self.port = server.add_insecure_port(address)
        if not self.port:
            raise OSError(f"cannot listen for gRPC on {address}")
        await server.start()
        self._server = server
        log.info("loggregator gRPC ingress listening on %s:%d", self.host, self.port)
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=1.0)
            self._server = None

    def stats(self) -> dict[str, Any]:
        return {"envelopes": self.envelopes, "lines": self.lines, "ignored": self.ignored,
                "metrics_pending": self.metrics.pending, "metrics_dropped": self.metrics.dropped,
                "metrics_accepted": self.metrics.accepted, "metrics_rejected": self.metrics.rejected}
