"""Builds the ASGI app around Services and runs it with uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from vigil import web
from vigil.api import akkeris, akkeris_metrics, fnstats, health, logcache, logs, notifications, prometheus, stacky
from vigil.api import drains as log_drains
from vigil.api.appoptics import (
    alerts,
    annotations,
    api_tokens,
    charts,
    environments,
    jobs,
    measurements,
    metrics,
    notification_services,
    organization,
    snapshots,
    spaces,
)
from vigil.api.http import json_response
from vigil.config import Settings
from vigil.services import Services
from vigil.storage.telemetry import close_engine

log = logging.getLogger(__name__)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "No such resource", 405: f"Method {request.method} is not allowed here"}
    return json_response({"errors": {"request": [messages.get(exc.status_code, exc.detail)]}}, exc.status_code,
                         dict(exc.headers or {}))


def build_app(services: Services) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await services.start()
        try:
            yield
        finally:
            await services.close()

    app = Starlette(
        routes=[*health.routes, *measurements.routes, *metrics.routes, *jobs.routes, *api_tokens.routes,
                *environments.routes, *organization.routes, *spaces.routes, *charts.routes,
                *annotations.routes, *snapshots.routes, *notifications.routes, *stacky.routes,
                *alerts.routes, *notification_services.routes, *logs.routes, *akkeris.routes,
                *logcache.routes, *prometheus.routes, *fnstats.routes, *akkeris_metrics.routes,
                *log_drains.routes,
                # The browser UI last: every API path keeps precedence over it.
                *web.routes(services.settings)],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.services = services
    return app


GC_YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Once started: what start built lives as long as the process, so keep it out of every collection
    (a full collection walked ~190,000 such objects); and collect the young generation less often:
    ingest allocates short-lived containers per measurement that reference counting frees anyway,
    and at the default threshold (700) the collector ran once or more per 1,000-measurement request."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


async def serve(settings: Settings) -> None:
    services = Services(settings)
    app = build_app(services)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning", access_log=False,
                            lifespan="on", timeout_graceful_shutdown=30, server_header=False)
    server = uvicorn.Server(config)

    async def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.02)
        if services.admin_token:
            print(f"admin token: {services.admin_token}", flush=True)
        port = server.servers[0].sockets[0].getsockname()[1] if server.servers else settings.port
        for line in services.log_listeners.announce():
            print(line, flush=True)
        tune_gc()
        print(f"listening on http://{settings.host}:{port}", flush=True)
        # Live log readers would hold a graceful shutdown open until its timeout: end them first.
        while not server.should_exit:  # noqa: ASYNC110 - uvicorn offers no event for this
            await asyncio.sleep(0.1)
        await services.logs.stop_readers()

    announcer = asyncio.create_task(announce())
    # uvicorn re-raises the signal that stopped it once it has shut down gracefully; with a no-op
    # handler underneath, the process then exits 0 instead of dying of that signal.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    try:
        await server.serve()
    finally:
        close_engine()  # after Services.close (the lifespan): nothing uses the engine any more
    announcer.cancel()
    if not server.started:
        sys.exit(1)
