"""AppOptics alerts: CRUD, status, clear, and the alert ↔ service links. `:id` may also be the name."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vigil.alerts.store import ALERT_ORDER
from vigil.api.appoptics.metrics import page_params
from vigil.api.endpoint import endpoint, services
from vigil.api.http import empty_response, json_response, query_params, read_params
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal


def _ref(request: Request) -> str:
    return request.path_params["id"]


@endpoint(Access.READ, "GET /v1/alerts")
async def list_alerts(request: Request, principal: Principal) -> Response:
    manager = services(request).alerts
    params = query_params(request)
    if "status" in params:  # the seed: "Adding the status parameter returns a list of alert ids …"
        return json_response(manager.statuses())
    offset, length, orderby, descending = page_params(params, ALERT_ORDER, "updated_at")
    name = params.get("name")
    page, found, total = await manager.list(name if isinstance(name, str) and name else None, offset, length,
                                            orderby, descending)
    linked = await manager.services_of(page)
    return json_response({"query": {"found": found, "length": len(page), "offset": offset, "total": total},
                          "alerts": [a.to_json(linked) for a in page]})


@endpoint(Access.MANAGE, "POST /v1/alerts")
async def create_alert(request: Request, principal: Principal) -> Response:
    svc = services(request)
    body = await read_params(request, svc.settings.max_body_bytes)
    alert = await svc.alerts.create(body)
    linked = await svc.alerts.services_of([alert])
    return json_response(alert.to_json(linked), 201, {"Location": f"/v1/alerts/{alert.id}"})


@endpoint(Access.READ, "GET /v1/alerts/status")
async def alert_statuses(request: Request, principal: Principal) -> Response:
    return json_response(services(request).alerts.statuses())


@endpoint(Access.READ, "GET /v1/alerts/:id")
async def get_alert(request: Request, principal: Principal) -> Response:
    manager = services(request).alerts
    alert = await manager.get(_ref(request))
    return json_response(alert.to_json(await manager.services_of([alert])))


@endpoint(Access.MANAGE, "PUT /v1/alerts/:id")
async def update_alert(request: Request, principal: Principal) -> Response:
    svc = services(request)
    body = await read_params(request, svc.settings.max_body_bytes)
    await svc.alerts.update(_ref(request), body)
    return empty_response(204)


@endpoint(Access.MANAGE, "DELETE /v1/alerts/:id")
async def delete_alert(request: Request, principal: Principal) -> Response:
    await services(request).alerts.delete(_ref(request))
    return empty_response(204)


@endpoint(Access.READ, "GET /v1/alerts/:id/status")
async def alert_status(request: Request, principal: Principal) -> Response:
    return json_response(await services(request).alerts.status(_ref(request)))


@endpoint(Access.MANAGE, "POST /v1/alerts/:id/clear")
async def clear_alert(request: Request, principal: Principal) -> Response:
    await services(request).alerts.clear(_ref(request))
    return empty_response(204)


@endpoint(Access.MANAGE, "POST /v1/alerts/:id/services")
async def add_service(request: Request, principal: Principal) -> Response:
    svc = services(request)
    body = await read_params(request, svc.settings.max_body_bytes)
    if not body:
        body = query_params(request)
    alert, service = await svc.alerts.add_service(_ref(request), body)
    return json_response(service.to_json(), 201, {"Location": f"/v1/alerts/{alert.id}/services/{service.id}"})


@endpoint(Access.MANAGE, "DELETE /v1/alerts/:id/services/:sid")
async def remove_service(request: Request, principal: Principal) -> Response:
    await services(request).alerts.remove_service(_ref(request), request.path_params["sid"])
    return empty_response(204)


routes = [
    Route("/v1/alerts", list_alerts, methods=["GET"]),
    Route("/v1/alerts", create_alert, methods=["POST"]),
    Route("/v1/alerts/status", alert_statuses, methods=["GET"]),
    Route("/v1/alerts/{id}", get_alert, methods=["GET"]),
    Route("/v1/alerts/{id}", update_alert, methods=["PUT"]),
    Route("/v1/alerts/{id}", delete_alert, methods=["DELETE"]),
    Route("/v1/alerts/{id}/status", alert_status, methods=["GET"]),
    Route("/v1/alerts/{id}/clear", clear_alert, methods=["POST"]),
    Route("/v1/alerts/{id}/services", add_service, methods=["POST"]),
    Route("/v1/alerts/{id}/services/{sid}", remove_service, methods=["DELETE"]),
]
