"""Log drains, Akkeris / Heroku style: /apps/{app}/log-drains and /sites/{site}/log-drains."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vigil.api.endpoint import endpoint, services
from vigil.api.http import JSON, content_type, empty_response, json_response, read_body
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal
from vigil.drains.model import APP, SITE, Drain
from vigil.errors import NotFound, RequestError, UnsupportedMediaType
from vigil.logs.model import is_valid_app_name
from vigil.logs.sites import is_valid_site_name

FORM = "application/x-www-form-urlencoded"


def iso(ts: float) -> str:
    """2016-07-18T14:55:38.190Z, as Akkeris writes times."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def drain_json(drain: Drain) -> dict[str, Any]:
    # `addon` is the add-on that made the drain (Heroku, Akkeris); drains made through this API have none.
    return {"created_at": iso(drain.created_at), "id": drain.id, "addon": None, "updated_at": iso(drain.updated_at),
            "token": drain.token, "url": drain.url.public}


async def _owner(request: Request) -> tuple[str, str]:
    """(kind, name) from the path; 404 for a name that cannot exist, or a site that does not."""
    if "app" in request.path_params:
        app = request.path_params["app"]
        if not is_valid_app_name(app):
            raise NotFound(f"The specified application {app[:80]} does not exist.")
        return APP, app
    site = request.path_params["site"]
    if not is_valid_site_name(site) or await services(request).logs.sites.get(site) is None:
        raise NotFound(f"The specified site {site[:80]} does not exist.")
    return SITE, site


async def _body(request: Request) -> dict[str, Any]:
    """The JSON object; also when it comes as curl's `-d '{…}'` default form type, as the Akkeris
    documentation's own example sends it. A real form body gives `url` (and `tls_skip_verify`)."""
    body = await read_body(request, services(request).settings.max_body_bytes)
    kind = content_type(request)
    if kind == JSON or ((kind in ("", FORM)) and body.lstrip()[:1] == b"{"):
        try:
            data = orjson.loads(body) if body.strip() else {}
        except orjson.JSONDecodeError as exc:
            raise RequestError(f"The request body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise RequestError("The request body must be a JSON object")
        return data
    if kind in ("", FORM):
        try:
            form: dict[str, Any] = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100))
        except (UnicodeDecodeError, ValueError) as exc:
            raise RequestError(f"The form body cannot be parsed: {exc}") from None
        flag = form.get("tls_skip_verify")
        if isinstance(flag, str) and flag.lower() in ("true", "false"):
            form["tls_skip_verify"] = flag.lower() == "true"
        return form
    raise UnsupportedMediaType("Content-Type must be application/json")


async def _create(request: Request) -> Response:
    kind, name = await _owner(request)
    drain = await services(request).drains.create(kind, name, await _body(request))
    return json_response(drain_json(drain), 201)


async def _list(request: Request) -> Response:
    kind, name = await _owner(request)
    return json_response([drain_json(d) for d in await services(request).drains.list(kind, name)])


async def _get(request: Request) -> Response:
    kind, name = await _owner(request)
    return json_response(drain_json(await services(request).drains.get(kind, name, request.path_params["id"])))


async def _delete(request: Request) -> Response:
    kind, name = await _owner(request)
    await services(request).drains.delete(kind, name, request.path_params["id"])
    return empty_response(204)


# Creating and deleting a drain sends an app's logs somewhere else: configuration, admin only. Reading
# shows URLs without their passwords, so any token with read rights may.


@endpoint(Access.MANAGE, "POST /apps/:app/log-drains")
async def create_app_drain(request: Request, principal: Principal) -> Response:
    return await _create(request)


@endpoint(Access.MANAGE, "POST /sites/:site/log-drains")
async def create_site_drain(request: Request, principal: Principal) -> Response:
    return await _create(request)


@endpoint(Access.READ, "GET /apps/:app/log-drains")
async def list_app_drains(request: Request, principal: Principal) -> Response:
    return await _list(request)


@endpoint(Access.READ, "GET /sites/:site/log-drains")
async def list_site_drains(request: Request, principal: Principal) -> Response:
    return await _list(request)


@endpoint(Access.READ, "GET /apps/:app/log-drains/:id")
async def get_app_drain(request: Request, principal: Principal) -> Response:
    return await _get(request)


@endpoint(Access.READ, "GET /sites/:site/log-drains/:id")
async def get_site_drain(request: Request, principal: Principal) -> Response:
    return await _get(request)


@endpoint(Access.MANAGE, "DELETE /apps/:app/log-drains/:id")
async def delete_app_drain(request: Request, principal: Principal) -> Response:
    return await _delete(request)


@endpoint(Access.MANAGE, "DELETE /sites/:site/log-drains/:id")
async def delete_site_drain(request: Request, principal: Principal) -> Response:
    return await _delete(request)


routes = [
    Route("/apps/{app}/log-drains", create_app_drain, methods=["POST"]),
    Route("/apps/{app}/log-drains", list_app_drains, methods=["GET"]),
    Route("/apps/{app}/log-drains/{id}", get_app_drain, methods=["GET"]),
    Route("/apps/{app}/log-drains/{id}", delete_app_drain, methods=["DELETE"]),
    Route("/sites/{site}/log-drains", create_site_drain, methods=["POST"]),
    Route("/sites/{site}/log-drains", list_site_drains, methods=["GET"]),
    Route("/sites/{site}/log-drains/{id}", get_site_drain, methods=["GET"]),
    Route("/sites/{site}/log-drains/{id}", delete_site_drain, methods=["DELETE"]),
]
