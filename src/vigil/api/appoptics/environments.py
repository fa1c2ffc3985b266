"""Environments: POST/GET /v1/environments, PUT/DELETE /v1/environments/:id (or by name)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vigil.api.appoptics.metrics import page_params
from vigil.api.endpoint import endpoint, services
from vigil.api.http import empty_response, json_response, query_params, read_params
from vigil.auth.environments import ORDERABLE
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal
from vigil.errors import NotFound


def _name(params: dict[str, Any]) -> Any:
    return params.get("name")


@endpoint(Access.MANAGE, "POST /v1/environments")
async def create_environment(request: Request, principal: Principal) -> Response:
    svc = services(request)
    body = await read_params(request, svc.settings.max_body_bytes)
    # The seed shows the name both in the body and as `?name=` in the URL.
    name = _name(body) if "name" in body else _name(query_params(request))
    environment = await svc.environments.create(name)
    return json_response(environment.to_json(), 201, {"Location": f"/v1/environments/{environment.id}"})


def _lookup_name(query: dict[str, Any], body: dict[str, Any]) -> str | None:
    """`?name=X`, the seed's bare `?X`, or (as its curl example does) a `{"name": X}` body on the GET."""
    for source in (query, body):
        name = source.get("name")
        if isinstance(name, str) and name:
            return name
    page_keys = {"offset", "length", "orderby", "sort", "name"}
    bare = [k for k, v in query.items() if v == "" and k not in page_keys]
    if len(query) == 1 and len(bare) == 1:
        return bare[0]
    return None


@endpoint(Access.READ, "GET /v1/environments")
async def list_environments(request: Request, principal: Principal) -> Response:
    svc = services(request)
    query = query_params(request)
    body = await read_params(request, svc.settings.max_body_bytes) if request.headers.get("content-length") else {}
    name = _lookup_name(query, body)
    if name is not None:
        environment = await svc.environments.by_name(name)
        if environment is None:
            raise NotFound(f"Environment {name} does not exist")
        return json_response(environment.to_json())
    offset, length, orderby, descending = page_params(query, ORDERABLE, "name")
    page, found, total = await svc.environments.list(name=None, offset=offset, length=length, orderby=orderby,
                                                     descending=descending)
    return json_response({"query": {"found": found, "length": len(page), "offset": offset, "total": total},
                          "environments": [e.to_json() for e in page]})


@endpoint(Access.MANAGE, "PUT /v1/environments/:id")
async def update_environment(request: Request, principal: Principal) -> Response:
    svc = services(request)
    body = await read_params(request, svc.settings.max_body_bytes)
    await svc.environments.rename(request.path_params["id"], body.get("name"))
    return empty_response(204)


@endpoint(Access.MANAGE, "DELETE /v1/environments/:id")
async def delete_environment(request: Request, principal: Principal) -> Response:
    await services(request).environments.delete(request.path_params["id"])
    return empty_response(204)


routes = [
    Route(path, create_environment, methods=["POST"]) for path in ("/v1/environments", "/v1/environments/")
] + [
    Route(path, list_environments, methods=["GET"]) for path in ("/v1/environments", "/v1/environments/")
] + [
    Route(path, handler, methods=[method])
    for path in ("/v1/environments/{id}", "/v1/environments/{id}/")
    for method, handler in (("PUT", update_environment), ("DELETE", delete_environment))
]
