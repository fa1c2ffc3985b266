"""POST /v1/logs: application log lines over HTTP, as `application/logplex-1` frames or JSON."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vigil.api.endpoint import endpoint, services
from vigil.api.http import JSON, content_type, empty_response, read_body
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal
from vigil.errors import UnsupportedMediaType
from vigil.logs.http_ingest import parse_json_lines, parse_logplex
from vigil.logs.logplex import CONTENT_TYPES


@endpoint(Access.RECORD, "POST /v1/logs")
async def post_logs(request: Request, principal: Principal) -> Response:
    svc = services(request)
    logs, settings = svc.logs, svc.settings
    kind = content_type(request)
    if kind not in CONTENT_TYPES and kind != JSON:
        raise UnsupportedMediaType("Content-Type must be application/logplex-1 or application/json")
    body = await read_body(request, settings.max_body_bytes)
    if kind == JSON:
        lines = parse_json_lines(body, max_line_bytes=settings.log_max_line_bytes,
                                 max_lines=settings.max_measurements_per_request)
    else:
        # A sender retries a batch with the same Logplex-Frame-Id: the second copy is acknowledged
        # and dropped.
        frame_id = request.headers.get("logplex-frame-id")
        if frame_id and logs.frame_ids.seen(frame_id):
            return empty_response(204)
        try:
            lines, bad = parse_logplex(body, request.headers.get("logplex-msg-count"),
                                       app=request.query_params.get("app"),
                                       host=request.client.host if request.client else "",
                                       max_line_bytes=settings.log_max_line_bytes)
        except Exception:
            if frame_id:
                logs.frame_ids.forget(frame_id)  # refused: a corrected retry must not look like a copy
            raise
        logs.malformed += bad
    logs.pipeline.accept(lines)
    return empty_response(204)


routes = [Route("/v1/logs", post_logs, methods=["POST"])]
