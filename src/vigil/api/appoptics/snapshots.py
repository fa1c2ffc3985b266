"""Snapshots: POST /v1/snapshots (202 + a rendering job), GET /v1/snapshots/:id, and the PNG itself at
GET /snapshots/<key>.png — without authentication, since chat apps fetch it; the key is 128 random bits."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vigil.api.appoptics.resources import absolute, path_id
from vigil.api.endpoint import endpoint, error_response, services
from vigil.api.http import json_response, read_params
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal
from vigil.errors import NotFound


@endpoint(Access.READ, "POST /v1/snapshots")
async def create_snapshot(request: Request, principal: Principal) -> Response:
    svc = services(request)
    snapshot = await svc.snapshots.create(await read_params(request, svc.settings.max_body_bytes))
    return json_response(snapshot.to_json(absolute(request, "")), 202,
                         {"Location": f"/v1/snapshots/{snapshot.id}"})


@endpoint(Access.READ, "GET /v1/snapshots/:id")
async def get_snapshot(request: Request, principal: Principal) -> Response:
    snapshot = await services(request).snapshots.get(path_id(request, "id", "Snapshot"))
    return json_response(snapshot.to_json(absolute(request, "")))


async def snapshot_image(request: Request) -> Response:
    png = await services(request).snapshots.image(request.path_params["key"])
    if png is None:
        return error_response(NotFound("No such snapshot image"))
    # The URL names one rendering for good: caches may keep it.
    return Response(png, media_type="image/png", headers={"Cache-Control": "public, max-age=31536000, immutable"})


routes = [
    Route("/v1/snapshots", create_snapshot, methods=["POST"]),
    Route("/v1/snapshots/{id}", get_snapshot, methods=["GET"]),
    Route("/snapshots/{key}.png", snapshot_image, methods=["GET"]),
]
