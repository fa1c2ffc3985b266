"""/healthz (no auth) and /metrics (the server's own metrics; any token with read access)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vigil.api.endpoint import endpoint, services
from vigil.api.http import json_response
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal
from vigil.selfmetrics import CONTENT_TYPE


async def healthz(request: Request) -> Response:
    svc = services(request)
    telemetry = await svc.telemetry.ping()
    metadata = await svc.metadata.ping()
    ok = telemetry and metadata
    return json_response({"status": "ok" if ok else "unavailable",
                          "telemetry": "ok" if telemetry else "unreachable",
                          "metadata": "ok" if metadata else "unreachable"}, 200 if ok else 503)


@endpoint(Access.READ, "GET /metrics")
async def self_metrics(request: Request, principal: Principal) -> Response:
    names = request.query_params.getlist("name[]")
    return Response(services(request).self_metrics.render(names or None), media_type=CONTENT_TYPE)


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", self_metrics, methods=["GET"]),
]
