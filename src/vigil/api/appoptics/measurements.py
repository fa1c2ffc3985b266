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
from vigil.errors import UnsupportedMediaType, param_error


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


async def compose_response(request: Request, params: dict) -> Response:
    svc = services(request)
    expression = params.get("compose")
    if not isinstance(expression, str) or not expression.strip():
        raise param_error("compose", "is required: a composite metric query")
    start = _required_int(params, "start_time")
    resolution = _required_int(params, "resolution")
    end = params.get("end_time")
    end_time = _required_int(params, "end_time") if end not in (None, "") else None
    return json_response(await svc.composer.compose(expression, start_time=start, end_time=end_time,
                                                    resolution=resolution))


def _required_int(params: dict, name: str) -> int:
    value = params.get(name)
    if value in (None, ""):
        raise param_error(name, "is required")
    try:
        return int(str(value))
    except ValueError:
        raise param_error(name, "is not a whole number") from None


@endpoint(Access.READ, "GET /v1/measurements?compose")
async def get_composite(request: Request, principal: Principal) -> Response:
    return await compose_response(request, query_params(request))


routes = [
    Route("/v1/measurements", get_composite, methods=["GET"]),
    Route("/v1/measurements/", get_composite, methods=["GET"]),
    Route("/v1/measurements", post_measurements, methods=["POST"]),
    Route("/v1/measurements/{name}", get_measurements, methods=["GET"]),
]
