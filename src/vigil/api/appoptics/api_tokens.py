"""API tokens: GET/POST /v1/api_tokens, GET /v1/api_tokens/:name, PUT/DELETE /v1/api_tokens/:id.

Every route needs an admin token, listings included: they show the secrets.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vigil.api.appoptics.metrics import page_params
from vigil.api.appoptics.resources import absolute, path_id
from vigil.api.endpoint import endpoint, services
from vigil.api.http import empty_response, json_response, query_params, read_params
from vigil.auth.api_tokens import ORDERABLE, ApiToken
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal


def _json(request: Request, token: ApiToken) -> dict:
    return token.to_json(absolute(request, f"/v1/api_tokens/{token.id}"))


async def _page(request: Request, name: str | None) -> Response:
    params = query_params(request)
    offset, length, orderby, descending = page_params(params, ORDERABLE, "id")
    page, found, total = await services(request).api_tokens.list(
        name=name, offset=offset, length=length, orderby=orderby, descending=descending)
    return json_response({"query": {"found": found, "length": len(page), "offset": offset, "total": total},
                          "api_tokens": [_json(request, t) for t in page]})


@endpoint(Access.MANAGE, "GET /v1/api_tokens")
async def list_tokens(request: Request, principal: Principal) -> Response:
    name = query_params(request).get("name")
    return await _page(request, name if isinstance(name, str) and name else None)


@endpoint(Access.MANAGE, "GET /v1/api_tokens/:name")
async def find_tokens(request: Request, principal: Principal) -> Response:
    return await _page(request, request.path_params["name"])


@endpoint(Access.MANAGE, "POST /v1/api_tokens")
async def create_token(request: Request, principal: Principal) -> Response:
    svc = services(request)
    token = await svc.api_tokens.create(await read_params(request, svc.settings.max_body_bytes))
    return json_response(_json(request, token), 201, {"Location": f"/v1/api_tokens/{token.id}"})


@endpoint(Access.MANAGE, "PUT /v1/api_tokens/:id")
async def update_token(request: Request, principal: Principal) -> Response:
    svc = services(request)
    token_id = path_id(request, "id", "API token")
    token = await svc.api_tokens.update(token_id, await read_params(request, svc.settings.max_body_bytes))
    return json_response(_json(request, token))


@endpoint(Access.MANAGE, "DELETE /v1/api_tokens/:id")
async def delete_token(request: Request, principal: Principal) -> Response:
    await services(request).api_tokens.delete(path_id(request, "id", "API token"))
    return empty_response(204)


routes = [
    Route("/v1/api_tokens", list_tokens, methods=["GET"]),
    Route("/v1/api_tokens", create_token, methods=["POST"]),
    Route("/v1/api_tokens/{name}", find_tokens, methods=["GET"]),
    Route("/v1/api_tokens/{id}", update_token, methods=["PUT"]),
    Route("/v1/api_tokens/{id}", delete_token, methods=["DELETE"]),
]
