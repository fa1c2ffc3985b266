"""Prometheus metrics in: POST /api/v1/write (remote write) and the scrape-target API."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vigil.api.appoptics.metrics import page_params
from vigil.api.endpoint import endpoint, services
from vigil.api.http import empty_response, json_response, query_params, read_params, read_raw_body
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal
from vigil.errors import NotFound, RequestError, UnsupportedMediaType
from vigil.prom.target_store import Target

_CONTENT_TYPES = ("application/x-protobuf", "")


@endpoint(Access.RECORD, "POST /api/v1/write")
async def remote_write(request: Request, principal: Principal) -> Response:
    svc = services(request)
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind not in _CONTENT_TYPES:
        raise UnsupportedMediaType("Content-Type must be application/x-protobuf (a Prometheus WriteRequest)")
    encoding = request.headers.get("content-encoding", "snappy").strip().lower()
    if encoding != "snappy":
        raise UnsupportedMediaType("Content-Encoding must be snappy (Prometheus remote write 1.0)")
    # A snappy block is at most a few bytes larger than what it holds.
    limit = svc.settings.remote_write_max_body_bytes
    body = await read_raw_body(request, limit + limit // 6 + 64)
    result = await svc.prom.remote_write.write(body, environment=principal.environment,
                                               user_agent=request.headers.get("user-agent"))
    if result is not None and result.accepted == 0 and result.failed > 0:
        # Nothing could be stored: say why (Prometheus logs a 4xx and does not retry it).
        reasons = sorted({f"{e['param']} {e['reason']}" for e in result.errors})
        raise RequestError("No sample was accepted: " + "; ".join(reasons[:5]))
    return empty_response(204)


def target_json(svc: Any, target: Target) -> dict[str, Any]:
    health = svc.prom.health(target.id)
    last = None if health.last_scrape is None else round(health.last_scrape, 3)
    return {"id": target.id, **target.spec.as_json(), "source": target.source, "created_at": int(target.created_at),
            "health": health.health, "last_scrape": last,
            "last_scrape_duration": health.last_duration, "last_error": health.last_error,
            "samples": health.samples}


def _target_id(request: Request) -> int:
    raw = request.path_params["id"]
    if not raw.isdigit():
        raise NotFound(f"Scrape target {raw} does not exist")
    return int(raw)


@endpoint(Access.MANAGE, "GET /v1/scrape_targets")
async def list_targets(request: Request, principal: Principal) -> Response:
    svc = services(request)
    offset, length, orderby, desc = page_params(query_params(request), ("id", "url", "job"), "id")
    targets = await svc.prom.list()
    targets.sort(key=lambda t: getattr(t, orderby) if orderby == "id" else getattr(t.spec, orderby), reverse=desc)
    page = targets[offset:offset + length]
    return json_response({"query": {"offset": offset, "length": len(page), "found": len(targets),
                                    "total": len(targets)},
                          "scrape_targets": [target_json(svc, t) for t in page]})


@endpoint(Access.MANAGE, "POST /v1/scrape_targets")
async def create_target(request: Request, principal: Principal) -> Response:
    svc = services(request)
    params = await read_params(request, svc.settings.max_body_bytes, json_only=True)
    target = await svc.prom.add(params)
    return json_response(target_json(svc, target), 201, {"Location": f"/v1/scrape_targets/{target.id}"})


@endpoint(Access.MANAGE, "GET /v1/scrape_targets/:id")
async def get_target(request: Request, principal: Principal) -> Response:
    svc = services(request)
    return json_response(target_json(svc, await svc.prom.get(_target_id(request))))


@endpoint(Access.MANAGE, "DELETE /v1/scrape_targets/:id")
async def delete_target(request: Request, principal: Principal) -> Response:
    svc = services(request)
    await svc.prom.remove(_target_id(request))
    return empty_response(204)


routes = [
    Route("/api/v1/write", remote_write, methods=["POST"]),
    Route("/v1/scrape_targets", list_targets, methods=["GET"]),
    Route("/v1/scrape_targets", create_target, methods=["POST"]),
    Route("/v1/scrape_targets/{id}", get_target, methods=["GET"]),
    Route("/v1/scrape_targets/{id}", delete_target, methods=["DELETE"]),
]
