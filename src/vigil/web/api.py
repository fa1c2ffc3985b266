"""The two API routes the UI adds: who the token is, and a chart previewed before it is saved."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vigil.api.endpoint import endpoint, services
from vigil.api.http import json_response, query_params, read_params
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal
from vigil.dashboards.data import space_filter


@endpoint(Access.READ, "GET /v1/whoami")
async def whoami(request: Request, principal: Principal) -> Response:
    """The token's name, role and environment: the UI hides the controls the role may not use."""
    return json_response({"name": principal.name, "role": principal.role.value,
                          "environment": principal.environment})


@endpoint(Access.READ, "POST /v1/charts/preview")
async def preview(request: Request, principal: Principal) -> Response:
    """A chart body as POST /v1/spaces/:id/charts takes it, checked the same way (the same 400s) and
    evaluated like GET …/charts/:id/data over the window of the query string — nothing is stored.
    Series carry `stream_id` 1, 2, … in the order of the body's streams."""
    svc = services(request)
    params = query_params(request)
    extra = space_filter(params.get("tags"))
    chart = await svc.charts.draft(0, await read_params(request, svc.settings.max_body_bytes))
    return json_response(await svc.chart_data.evaluate(chart, params, extra_tags=extra))


routes = [
    Route("/v1/whoami", whoami, methods=["GET"]),
    Route("/v1/charts/preview", preview, methods=["POST"]),
]
