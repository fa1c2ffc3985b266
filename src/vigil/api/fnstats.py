"""The Fn statistics API (`ext-statsapi`): /v1/stats, /v1/apps/{app}/stats,
/v1/apps/{app}/routes/{route}/stats, and the same under `statistics`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vigil.api.endpoint import endpoint, services
from vigil.api.http import json_response
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal
from vigil.errors import RequestError
from vigil.fnstats.params import StatsParamError, parse_window


def _first(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    return values[0] if values else None  # the extension reads the first of repeated parameters


async def _answer(request: Request, app: str | None, route: str | None) -> Response:
    svc = services(request)
    try:
        window = parse_window(_first(request, "starttime"), _first(request, "endtime"), _first(request, "step"),
                              max_points=svc.settings.fn_stats_max_points)
    except StatsParamError as exc:
        return json_response({"status": "error", "error": str(exc)}, 400)
    try:
        data = await svc.fn_stats.stats(window, app, route)
    except RequestError as exc:  # the query reads more than the bounds allow
        return json_response({"status": "error", "error": exc.message}, 400)
    return json_response({"status": "success", "data": data})


@endpoint(Access.READ, "GET /v1/stats")
async def global_stats(request: Request, principal: Principal) -> Response:
    return await _answer(request, None, None)


@endpoint(Access.READ, "GET /v1/apps/:app/stats")
async def app_stats(request: Request, principal: Principal) -> Response:
    return await _answer(request, request.path_params["app"], None)


@endpoint(Access.READ, "GET /v1/apps/:app/routes/:route/stats")
async def route_stats(request: Request, principal: Principal) -> Response:
    # `route` may hold slashes (nested paths, sent as is or URL-encoded): the path converter takes them.
    return await _answer(request, request.path_params["app"], request.path_params["route"])


routes = [
    *(Route(f"/v1/{word}", global_stats, methods=["GET"]) for word in ("stats", "statistics")),
    *(Route(f"/v1/apps/{{app}}/{word}", app_stats, methods=["GET"]) for word in ("stats", "statistics")),
    *(Route(f"/v1/apps/{{app}}/routes/{{route:path}}/{word}", route_stats, methods=["GET"])
      for word in ("stats", "statistics")),
]
