"""AppOptics measurements: POST /v1/measurements and GET /v1/measurements/:name."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vigil.api.endpoint import endpoint, services
from vigil.api.http import JSON, content_type, json_response, query_params, read_body
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal
from vigil.errors import UnsupportedMediaType


@endpoint(Access.RECORD, "POST /v1/measurements")
async def post_measurements(request: Request, principal: Principal) -> Response:
    svc = services(request)
    if content_type(request) != JSON:
        raise UnsupportedMediaType("Content-Type must be application/json")
    body = await read_body(request, svc.settings.max_body_bytes)
    result = await svc.ingestor.ingest(body, environment=principal.environment,
                                       user_agent=request.headers.get("user-agent"))
    counter = svc.self_metrics.measurements
    counter.labels("failed").inc(result.failed)
    counter.labels("filtered").inc(result.filtered)
    counter.labels("accepted").inc(result.accepted)
    if result.accepted == 0 and result.failed > 0:
        return json_response(result.body(), 400)
    headers = {"x-partial-failure": "true"} if result.failed else None
    return json_response(result.body(), 202, headers)


def next_link(request: Request, cursor: str) -> str:
    """The same query with the cursor of the next page, as an absolute URL."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    return str(request.url.replace(query=urlencode([*params, ("cursor", cursor)])))


@endpoint(Access.READ, "GET /v1/measurements/:name")
async def get_measurements(request: Request, principal: Principal) -> Response:
    svc = services(request)
    body, cursor = await svc.reader.read(request.path_params["name"], query_params(request))
    body["links"] = [{"rel": "next", "href": next_link(request, cursor)}] if cursor else []
    return json_response(body)


routes = [
    Route("/v1/measurements", post_measurements, methods=["POST"]),
    Route("/v1/measurements/{name}", get_measurements, methods=["GET"]),
]
