"""POST /v1/notifications: OpenStack notifications over HTTP, for platforms without a broker.

    POST /v1/notifications?deployment=NAME[&service=nova|glance|generic][&routing_key=…]

The body is one notification (a JSON object, possibly an oslo.messaging v2 envelope) or a JSON
list of them. All are stored or none (400 with the reasons); the answer, 202, comes once they are
stored and lists the id each got (the `#` of the stacky views).
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vigil.api.endpoint import endpoint, services
from vigil.api.http import JSON, content_type, json_response, query_params, read_body
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal
from vigil.errors import ParamsError, RequestError, UnsupportedMediaType


def _param(params: dict[str, object], name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ParamsError({name: ["must be given once, as a string"]})
    return value


@endpoint(Access.RECORD, "POST /v1/notifications")
async def post_notifications(request: Request, principal: Principal) -> Response:
    svc = services(request)
    params = query_params(request)
    deployment = _param(params, "deployment")
    if deployment is None:
        raise ParamsError({"deployment": ["is required"]})
    kind = content_type(request)
    if kind not in ("", JSON, "text/json"):
        raise UnsupportedMediaType("Content-Type must be application/json")
    body = await read_body(request, svc.settings.max_body_bytes)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict | list):
        raise RequestError("The request body must be a notification (a JSON object) or a list of them")
    ids = await svc.events.ingest_http(data, deployment=deployment, service=_param(params, "service"),
                                       routing_key=_param(params, "routing_key"))
    return json_response({"notifications": len(ids), "ids": ids}, 202)


routes = [Route("/v1/notifications", post_notifications, methods=["POST"])]
