"""The Akkeris app metrics route: GET /apps/{app}/metrics."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vigil.api.endpoint import endpoint, services
from vigil.api.http import json_response, query_params
from vigil.appmetrics.params import parse_window
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal
from vigil.errors import NotFound
from vigil.metrics.names import TAG_VALUE


@endpoint(Access.READ, "GET /apps/:app/metrics")
async def app_metrics(request: Request, principal: Principal) -> Response:
    svc = services(request)
    app = request.path_params["app"]
    if not TAG_VALUE.match(app):  # no series can carry such an app name
        raise NotFound(f"The specified application {app} does not exist.")
    window = parse_window(query_params(request), max_points=svc.settings.app_metrics_max_points)
    return json_response(await svc.app_metrics.metrics(app.lower(), window))


routes = [Route("/apps/{app}/metrics", app_metrics, methods=["GET"])]
