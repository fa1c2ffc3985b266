"""StackTach's stacky REST interface (`/stacky/…`): tabular JSON, errors as rows.

Every path works with and without its trailing slash. Responses are `text/json` with
`Vary: Accept`, as the seed shows them. Authentication and rate limits are the server's usual ones
(HTTP Basic with a token that may read); their failures are answered as stacky error rows too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vigil.api.endpoint import endpoint, services
from vigil.api.http import json_response, query_params, read_params
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal
from vigil.errors import ParamsError
from vigil.events.reports import Period, ReportError
from vigil.events.timefmt import US, TimeFormatError, parse_timestamp, parse_unixtime
from vigil.events.views import StackyError, StackyViews, not_found

MEDIA_TYPE = "text/json"
MAX_ID = 2**62
View = Callable[[StackyViews, Request, dict[str, str]], Awaitable[Any]]


def rows_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return _response(orjson.dumps(data), status, headers)


def _response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # Exactly `text/json` (Starlette would add a charset to a text/* media type).
    return Response(body, status_code=status, headers={**(headers or {}), "Content-Type": MEDIA_TYPE, "Vary": "Accept"})


def _first_message(errors: Any) -> str:
    """The first message of a house-format error body (`{"errors": {kind: [..] | {param: [..]}}}`)."""
    while isinstance(errors, dict | list) and errors:
        errors = next(iter(errors.values())) if isinstance(errors, dict) else errors[0]
    return str(errors)


def _as_rows(run: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """Answer the wrapper's own refusals (401, 403, 429, 500) as stacky error rows."""

    async def wrapped(request: Request) -> Response:
        response = await run(request)
        if response.status_code < 400 or response.headers.get("content-type") == MEDIA_TYPE:
            return response
        try:
            body = orjson.loads(bytes(response.body))
        except orjson.JSONDecodeError:
            body = {}
        message = _first_message(body.get("errors", body.get("error", ""))) if isinstance(body, dict) else ""
        kind = HTTPStatus(response.status_code).phrase
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-type", "content-length")}
        return rows_response([["Error", "Message"], [kind, message]], response.status_code, headers)

    wrapped.__name__ = run.__name__
    return wrapped


def _params(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items()}


def _path_id(request: Request, name: str) -> int:
    value = int(request.path_params[name])
    if value > MAX_ID:
        raise not_found(f"There is no {name.replace('_', ' ')} {value}")
    return value


def stacky(route: str, view: View) -> Callable[[Request], Awaitable[Response]]:
    @endpoint(Access.READ, f"GET {route}")
    async def handler(request: Request, principal: Principal) -> Response:
        try:
            data = await view(services(request).events.views, request, _params(request))
        except StackyError as exc:
            return rows_response(exc.rows(), exc.status)
        if isinstance(data, str):  # a stored report: already JSON
            return _response(data.encode())
        return rows_response(data)

    handler.__name__ = view.__name__
    return _as_rows(handler)


async def _deployments(v: StackyViews, r: Request, p: dict[str, str]) -> Any:
    return await v.deployments_view(p)


async def _events(v: StackyViews, r: Request, p: dict[str, str]) -> Any:
    return await v.events(p)


async def _hosts(v: StackyViews, r: Request, p: dict[str, str]) -> Any:
    return await v.hosts(p)


async def _uuid(v: StackyViews, r: Request, p: dict[str, str]) -> Any:
    return await v.uuid(p)


async def _timings_uuid(v: StackyViews, r: Request, p: dict[str, str]) -> Any:
    return await v.timings_uuid(p)


async def _timings(v: StackyViews, r: Request, p: dict[str, str]) -> Any:
    return await v.timings(p)


async def _summary(v: StackyViews, r: Request, p: dict[str, str]) -> Any:
    return await v.summary(p)


async def _request(v: StackyViews, r: Request, p: dict[str, str]) -> Any:
    return await v.request(p)


async def _reports(v: StackyViews, r: Request, p: dict[str, str]) -> Any:
    return await v.reports(p)


async def _report(v: StackyViews, r: Request, p: dict[str, str]) -> Any:
    return await v.report(_path_id(r, "report_id"))


async def _show(v: StackyViews, r: Request, p: dict[str, str]) -> Any:
    return await v.show(_path_id(r, "event_id"), p)


async def _watch(v: StackyViews, r: Request, p: dict[str, str]) -> Any:
    return await v.watch(_path_id(r, "deployment_id"), p)


async def _search(v: StackyViews, r: Request, p: dict[str, str]) -> Any:
    return await v.search(p)


async def _kpi(v: StackyViews, r: Request, p: dict[str, str]) -> Any:
    return await v.kpi(r.path_params.get("tenant"), p)


def _when(params: dict[str, Any], name: str) -> int:
    raw = params.get(name)
    if not isinstance(raw, str | int | float) or raw == "":
        raise ParamsError({name: ["is required (unixtime or ISO 8601 time)"]})
    try:
        return parse_unixtime(raw) // US
    except TimeFormatError:
        pass
    try:
        return parse_timestamp(str(raw)) // US
    except TimeFormatError:
        raise ParamsError({name: ["must be a unixtime or an ISO 8601 time"]}) from None


@endpoint(Access.MANAGE, "POST /v1/events/reports")
async def run_report(request: Request, principal: Principal) -> Response:
    """Vigil's own: compute and store the summary report of a period now (`vigil events report`)."""
    params = {**query_params(request), **await read_params(request, services(request).settings.max_body_bytes)}
    period = Period(_when(params, "start"), _when(params, "end"))
    region = params.get("region") or None
    if region is not None and not isinstance(region, str):
        raise ParamsError({"region": ["must be a string"]})
    reports = services(request).events.reports
    try:
        report_id = await reports.run(period, region)
    except ReportError as exc:
        raise ParamsError({exc.param: [str(exc)]}) from None
    return json_response({"id": report_id, "name": reports.name_for(region), "start": float(period.start),
                          "end": float(period.end - 1)}, 201)


_VIEWS: list[tuple[str, View]] = [
    ("/stacky/deployments", _deployments), ("/stacky/events", _events), ("/stacky/hosts", _hosts),
    ("/stacky/uuid", _uuid), ("/stacky/timings/uuid", _timings_uuid), ("/stacky/timings", _timings),
    ("/stacky/summary", _summary), ("/stacky/request", _request), ("/stacky/reports", _reports),
    ("/stacky/report/{report_id:int}", _report), ("/stacky/show/{event_id:int}", _show),
    ("/stacky/watch/{deployment_id:int}", _watch), ("/stacky/search", _search), ("/stacky/kpi", _kpi),
    ("/stacky/kpi/{tenant}", _kpi),
]

routes = [Route("/v1/events/reports", run_report, methods=["POST"])]
for _path, _view in _VIEWS:
    _handler = stacky(_path, _view)
    routes += [Route(_path, _handler, methods=["GET"]), Route(_path + "/", _handler, methods=["GET"])]
