"""AppOptics notification services (`/v1/services`): what an alert notifies."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vigil.alerts.store import SERVICE_ORDER
from vigil.api.appoptics.metrics import page_params
from vigil.api.endpoint import endpoint, services
from vigil.api.http import empty_response, json_response, query_params, read_params
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal


@endpoint(Access.READ, "GET /v1/services")
async def list_services(request: Request, principal: Principal) -> Response:
    offset, length, orderby, descending = page_params(query_params(request), SERVICE_ORDER, "title")
    page, found, total = await services(request).alerts.list_services(offset, length, orderby, descending)
    return json_response({"query": {"found": found, "length": len(page), "offset": offset, "total": total},
                          "services": [s.to_json() for s in page]})


@endpoint(Access.MANAGE, "POST /v1/services")
async def create_service(request: Request, principal: Principal) -> Response:
    svc = services(request)
    body = await read_params(request, svc.settings.max_body_bytes)
    service = await svc.alerts.create_service(body)
    return json_response(service.to_json(), 201, {"Location": f"/v1/services/{service.id}"})


@endpoint(Access.READ, "GET /v1/services/:id")
async def get_service(request: Request, principal: Principal) -> Response:
    service = await services(request).alerts.get_service(request.path_params["id"])
    return json_response(service.to_json())


@endpoint(Access.MANAGE, "PUT /v1/services/:id")
async def update_service(request: Request, principal: Principal) -> Response:
    svc = services(request)
    body = await read_params(request, svc.settings.max_body_bytes)
    await svc.alerts.update_service(request.path_params["id"], body)
    return empty_response(204)


@endpoint(Access.MANAGE, "DELETE /v1/services/:id")
async def delete_service(request: Request, principal: Principal) -> Response:
    await services(request).alerts.delete_service(request.path_params["id"])
    return empty_response(204)


routes = [
    Route("/v1/services", list_services, methods=["GET"]),
    Route("/v1/services", create_service, methods=["POST"]),
    Route("/v1/services/{id}", get_service, methods=["GET"]),
    Route("/v1/services/{id}", update_service, methods=["PUT"]),
    Route("/v1/services/{id}", delete_service, methods=["DELETE"]),
]
