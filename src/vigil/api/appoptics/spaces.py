"""Spaces: GET/POST /v1/spaces, GET/PUT/DELETE /v1/spaces/:id."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vigil.api.appoptics.metrics import page_params
from vigil.api.appoptics.resources import path_id
from vigil.api.endpoint import endpoint, services
from vigil.api.http import empty_response, json_response, query_params, read_params
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal
from vigil.dashboards.spaces import ORDERABLE


@endpoint(Access.READ, "GET /v1/spaces")
async def list_spaces(request: Request, principal: Principal) -> Response:
    params = query_params(request)
    offset, length, _, descending = page_params(params, ORDERABLE, "name")
    name = params.get("name")
    page, found, total = await services(request).spaces.list(
        name=name if isinstance(name, str) else None, offset=offset, length=length, descending=descending)
    return json_response({"query": {"found": found, "length": len(page), "offset": offset, "total": total},
                          "spaces": [s.to_json() for s in page]})


@endpoint(Access.MANAGE, "POST /v1/spaces")
async def create_space(request: Request, principal: Principal) -> Response:
    svc = services(request)
    space = await svc.spaces.create(await read_params(request, svc.settings.max_body_bytes))
    return json_response(space.to_json(), 201, {"Location": f"/v1/spaces/{space.id}"})


@endpoint(Access.READ, "GET /v1/spaces/:id")
async def get_space(request: Request, principal: Principal) -> Response:
    svc = services(request)
    space = await svc.spaces.get(path_id(request, "id", "Space"))
    return json_response({"name": space.name, "id": space.id,
                          "charts": [{"id": i} for i in await svc.spaces.chart_ids(space.id)]})


@endpoint(Access.MANAGE, "PUT /v1/spaces/:id")
async def update_space(request: Request, principal: Principal) -> Response:
    svc = services(request)
    space_id = path_id(request, "id", "Space")
    await svc.spaces.rename(space_id, await read_params(request, svc.settings.max_body_bytes))
    return empty_response(204)


@endpoint(Access.MANAGE, "DELETE /v1/spaces/:id")
async def delete_space(request: Request, principal: Principal) -> Response:
    await services(request).spaces.delete(path_id(request, "id", "Space"))
    return empty_response(204)


routes = [
    Route("/v1/spaces", list_spaces, methods=["GET"]),
    Route("/v1/spaces", create_space, methods=["POST"]),
    Route("/v1/spaces/{id}", get_space, methods=["GET"]),
    Route("/v1/spaces/{id}", update_space, methods=["PUT"]),
    Route("/v1/spaces/{id}", delete_space, methods=["DELETE"]),
]
