"""Cloud Foundry's log-cache read API and the RLP gateway stream, over Vigil's log history.

- `GET /api/v1/info`: `{"version", "vm_uptime"}` (clients pick the `/api/v1` paths from the version).
- `GET /api/v1/read/{source_id}`: `{"envelopes": {"batch": [...]}}`. The source id is the app.
  `start_time` / `end_time` are nanoseconds, [start, end); a negative or absent start means from the
  oldest line kept (`cf logs --recent` sends Go's zero time, a large negative number).
  `envelope_types` (repeatable: LOG, COUNTER, GAUGE, TIMER, EVENT), `limit` (1..1000, default 100),
  `descending` (default false).
- `GET /api/v1/meta`: `{"meta": {source_id: {"count", "oldestTimestamp", "newestTimestamp"}}}`.
- `GET /v2/read?log&source_id=…`: server-sent events, one `data: {"batch": [...]}` per batch of new
  lines, and `event: heartbeat` while idle.

Envelopes are JSON as the gateways' protobuf-to-JSON mapping writes them: int64 as strings, bytes
as base64, the `json_name`s of envelope.proto (`source_id`, `instance_id`), enum values by name, and
default values written out. Log lines carry their source as the `source_type` tag (what `cf logs`
prints as `[APP/PROC/WEB/0]`). Counters and gauges sent to the gRPC ingress live in the metrics
store, so these APIs return log envelopes only.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vigil.api.akkeris import STREAM_HEADERS, ReaderResponse
from vigil.api.endpoint import endpoint, services
from vigil.api.http import json_response
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal
from vigil.errors import ParamsError, RequestError
from vigil.logs.model import STDERR, LogLine, is_valid_app_name
from vigil.logs.tail import Tail

VERSION = "3.0.0"
ENVELOPE_TYPES = ("LOG", "COUNTER", "GAUGE", "TIMER", "EVENT")
LIMIT_DEFAULT = 100
LIMIT_MAX = 1_000
_TRUE = ("true", "t", "1")
_FALSE = ("false", "f", "0")


def envelope(line: LogLine) -> dict[str, Any]:
    return {
        "timestamp": str(line.timestamp * 1000),
        "source_id": line.app,
        "instance_id": line.instance,
        "deprecated_tags": {},
        "tags": {"source_type": line.source},
        "log": {"payload": base64.b64encode(line.message.encode()).decode("ascii"),
                "type": "ERR" if line.stream == STDERR else "OUT"},
    }


def _int(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ParamsError({name: ["must be a whole number (nanoseconds since the epoch)"]}) from None


@endpoint(Access.READ, "GET /api/v1/info")
async def info(request: Request, principal: Principal) -> Response:
    uptime = int(time.time() - services(request).logs.started)
    return json_response({"version": VERSION, "vm_uptime": str(uptime)})


@endpoint(Access.READ, "GET /api/v1/read/:source_id")
async def read(request: Request, principal: Principal) -> Response:
    svc = services(request)
    source_id = request.path_params["source_id"]
    start, end = _int(request, "start_time"), _int(request, "end_time")
    limit = _int(request, "limit")
    if limit is None:
        limit = LIMIT_DEFAULT
    if not 1 <= limit <= LIMIT_MAX:
        raise ParamsError({"limit": [f"must be between 1 and {LIMIT_MAX}"]})
    types = [t.upper() for t in request.query_params.getlist("envelope_types") if t]
    bad = [t for t in types if t not in (*ENVELOPE_TYPES, "ANY")]
    if bad:
        raise ParamsError({"envelope_types": [f"{bad[0][:40]!r} is not one of " + ", ".join(ENVELOPE_TYPES)]})
    descending = request.query_params.get("descending", "false").lower()
    if descending not in (*_TRUE, *_FALSE):
        raise ParamsError({"descending": ["must be true or false"]})
    if start is not None and end is not None and end <= start and start >= 0:
        return json_response({"envelopes": {"batch": []}})
    if (types and not {"LOG", "ANY"} & set(types)) or not is_valid_app_name(source_id):
        return json_response({"envelopes": {"batch": []}})
    start_us = None if start is None or start < 0 else -(-start // 1000)  # [start, end): round up
    end_us = None if end is None else -(-end // 1000)
    lines = await svc.logs.store.read([source_id], start_us=start_us, end_us=end_us, limit=limit,
                                      descending=descending in _TRUE)
    return json_response({"envelopes": {"batch": [envelope(line) for line in lines]}})


@endpoint(Access.READ, "GET /api/v1/meta")
async def meta(request: Request, principal: Principal) -> Response:
    svc = services(request)
    sources = await svc.logs.store.meta(svc.settings.log_read_max_apps)
    return json_response({"meta": {app: {"count": str(m.count), "oldestTimestamp": str(m.oldest_us * 1000),
                                         "newestTimestamp": str(m.newest_us * 1000)} for app, m in sources.items()}})


async def _events(tail: Tail, heartbeat: float) -> AsyncIterator[bytes]:
    try:
        await tail.start()
        while True:
            batch = await tail.next(1_000, wait=heartbeat)
            if batch is None:
                break
            if batch:
                yield b"data: " + orjson.dumps({"batch": [envelope(line) for line in batch]}) + b"\n\n"
            else:
                yield b"event: heartbeat\ndata: " + str(int(time.time())).encode() + b"\n\n"
    finally:
        tail.close()


@endpoint(Access.READ, "GET /v2/read")
async def rlp_read(request: Request, principal: Principal) -> Response:
    svc = services(request)
    q = request.query_params
    kinds = [k for k in ("log", "counter", "gauge", "timer", "event", "counter.name", "gauge.name") if k in q]
    if not kinds:
        raise RequestError("Request at least one envelope type: log, counter, gauge, timer or event.")
    sources = [s for s in q.getlist("source_id") if s]
    bad = [s for s in sources if not is_valid_app_name(s)]
    if bad:
        raise ParamsError({"source_id": [f"{bad[0][:80]!r} is not an app name"]})
    # Only log envelopes are streamed: a request without `log` gets heartbeats until it goes away.
    apps: list[str] | None = (sources or None) if "log" in kinds else []
    svc.logs.readers.acquire()
    tail = Tail(svc.logs.pipeline, apps, lines=0, follow=True, capacity=svc.settings.log_subscriber_lines,
                max_bytes=svc.settings.log_subscriber_bytes, linger=svc.settings.log_tail_linger)
    return ReaderResponse(_events(tail, svc.settings.log_sse_heartbeat), svc.logs.readers.release,
                          media_type="text/event-stream", headers=STREAM_HEADERS)


routes = [
    Route("/api/v1/info", info, methods=["GET"]),
    Route("/api/v1/read/{source_id}", read, methods=["GET"]),
    Route("/api/v1/meta", meta, methods=["GET"]),
    Route("/v2/read", rlp_read, methods=["GET"]),
]
