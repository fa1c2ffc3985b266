"""Charts: GET/POST /v1/spaces/:id/charts, GET/PUT/POST/DELETE /v1/spaces/:id/charts/:chart_id,
and GET /v1/spaces/:id/charts/:chart_id/data (ours: the chart's streams evaluated into series)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vigil.api.appoptics.resources import path_id
from vigil.api.endpoint import endpoint, services
from vigil.api.http import empty_response, json_response, query_params, read_params
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal
from vigil.dashboards.data import space_filter


def _ids(request: Request) -> tuple[int, int]:
    return path_id(request, "id", "Space"), path_id(request, "chart_id", "Chart")


@endpoint(Access.READ, "GET /v1/spaces/:id/charts")
async def list_charts(request: Request, principal: Principal) -> Response:
    svc = services(request)
    charts = await svc.charts.list(path_id(request, "id", "Space"))
    # A bare array, as the seed shows and the official client requires.
    return json_response(await svc.charts.to_json(charts))


@endpoint(Access.MANAGE, "POST /v1/spaces/:id/charts")
async def create_chart(request: Request, principal: Principal) -> Response:
    svc = services(request)
    space_id = path_id(request, "id", "Space")
    chart = await svc.charts.create(space_id, await read_params(request, svc.settings.max_body_bytes))
    # The seed's Location names the space.
    return json_response((await svc.charts.to_json([chart]))[0], 201, {"Location": f"/v1/spaces/{space_id}"})


@endpoint(Access.READ, "GET /v1/spaces/:id/charts/:chart_id")
async def get_chart(request: Request, principal: Principal) -> Response:
    svc = services(request)
    chart = await svc.charts.get(*_ids(request))
    return json_response((await svc.charts.to_json([chart]))[0])


@endpoint(Access.MANAGE, "PUT /v1/spaces/:id/charts/:chart_id")
async def update_chart(request: Request, principal: Principal) -> Response:
    svc = services(request)
    space_id, chart_id = _ids(request)
    chart = await svc.charts.update(space_id, chart_id, await read_params(request, svc.settings.max_body_bytes))
    return json_response((await svc.charts.to_json([chart]))[0])


@endpoint(Access.MANAGE, "POST /v1/spaces/:id/charts/:chart_id")
async def replace_streams(request: Request, principal: Principal) -> Response:
    """The seed's "add a composite to a chart" POSTs to the chart: the same update, streams replaced."""
    svc = services(request)
    space_id, chart_id = _ids(request)
    chart = await svc.charts.update(space_id, chart_id, await read_params(request, svc.settings.max_body_bytes))
    return json_response((await svc.charts.to_json([chart]))[0])


@endpoint(Access.MANAGE, "DELETE /v1/spaces/:id/charts/:chart_id")
async def delete_chart(request: Request, principal: Principal) -> Response:
    await services(request).charts.delete(*_ids(request))
    return empty_response(204)


@endpoint(Access.READ, "GET /v1/spaces/:id/charts/:chart_id/data")
async def chart_data(request: Request, principal: Principal) -> Response:
    svc = services(request)
    chart = await svc.charts.get(*_ids(request))
    params = query_params(request)
    # `tags[name]=…`: the UI's space-level filter (dynamic tags), checked before any query runs.
    extra = space_filter(params.get("tags"))
    return json_response(await svc.chart_data.evaluate(chart, params, extra_tags=extra))


routes = [
    Route("/v1/spaces/{id}/charts", list_charts, methods=["GET"]),
    Route("/v1/spaces/{id}/charts", create_chart, methods=["POST"]),
    Route("/v1/spaces/{id}/charts/{chart_id}", get_chart, methods=["GET"]),
    Route("/v1/spaces/{id}/charts/{chart_id}", update_chart, methods=["PUT"]),
    Route("/v1/spaces/{id}/charts/{chart_id}", replace_streams, methods=["POST"]),
    Route("/v1/spaces/{id}/charts/{chart_id}", delete_chart, methods=["DELETE"]),
    Route("/v1/spaces/{id}/charts/{chart_id}/data", chart_data, methods=["GET"]),
]
