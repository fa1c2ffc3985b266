"""The Akkeris logging API: log sessions (and their unauthenticated stream URLs), build logs, sites."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from vigil.api.endpoint import endpoint, services
from vigil.api.http import empty_response, json_response, read_params
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal
from vigil.errors import NotFound, ParamsError, VigilError
from vigil.logs.builds import Build
from vigil.logs.model import is_valid_app_name
from vigil.logs.sessions import SessionRequest, akkeris_stream, parse_options
from vigil.logs.sites import Site, is_valid_site_name, parse_members
from vigil.logs.tail import TextTail

STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def iso(ts: float) -> str:
    """2016-07-19T21:20:22.593Z, as Akkeris writes times."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ReaderResponse(StreamingResponse):
    """A streaming response that calls `on_done` however the stream ends, even if it never started
    (a client that went away at once)."""

    def __init__(self, content: Any, on_done: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._on_done = on_done

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._on_done()


class TextStream:
    """A chunked response for a live log session: each chunk of `body` is written the moment it comes.

    Leaner than StreamingResponse, which a busy session pays for per chunk (100 busy sessions write
    5,000 chunks a second): no task group, the body is iterated in the request's own task. A second
    task waits for the client to go away and then calls `stop` (which ends `body` the ordinary way:
    the tail is closed); `on_done` runs however the stream ends, even if it never started."""

    def __init__(self, body: AsyncIterator[bytes], *, stop: Callable[[], None], on_done: Callable[[], None],
                 media_type: str, headers: dict[str, str]) -> None:
        self.body = body
        self.stop = stop
        self.on_done = on_done
        self.raw_headers = [(b"content-type", media_type.encode("latin-1")),
                            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())]

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.stop()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watcher = asyncio.create_task(self._watch(receive))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async for chunk in self.body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            try:
                await self.body.aclose()  # type: ignore[attr-defined]  # an async generator's: its finally runs
            finally:
                self.on_done()


def _app(request: Request) -> str:
    app = request.path_params["app"]
    if not is_valid_app_name(app):
        raise NotFound(f"The specified application {app} does not exist.")
    return app


def _site(request: Request) -> str:
    site = request.path_params["site"]
    if not is_valid_site_name(site):
        raise NotFound(f"The specified site {site} does not exist.")
    return site


# ------------------------------------------------------------------------------------- log sessions


async def _create_session(request: Request, kind: str, name: str) -> Response:
    svc = services(request)
    lines, tail = parse_options(await read_params(request, svc.settings.max_body_bytes, json_only=True))
    created = await svc.logs.sessions.create(SessionRequest(kind, name, lines, tail))
    base = (svc.settings.public_url or str(request.base_url)).rstrip("/")
    collection = "apps" if kind == "app" else "sites"
    at = iso(created.created_at)
    return json_response({"created_at": at, "id": created.id,
                          "logplex_url": f"{base}/{collection}/{name}/log-sessions/{created.secret}",
                          "updated_at": at}, 201)


@endpoint(Access.READ, "POST /apps/:app/log-sessions")
async def create_app_session(request: Request, principal: Principal) -> Response:
    app = _app(request)
    if not await services(request).logs.apps.exists(app):
        raise NotFound(f"The specified application {app} does not exist.")
    return await _create_session(request, "app", app)


@endpoint(Access.READ, "POST /sites/:site/log-sessions")
async def create_site_session(request: Request, principal: Principal) -> Response:
    site = _site(request)
    if await services(request).logs.sites.get(site) is None:
        raise NotFound(f"The specified site {site} does not exist.")
    return await _create_session(request, "site", site)


async def _open_session(request: Request, kind: str) -> Response | TextStream:
    """The logplex_url: no credentials; the secret in the URL is the authorization."""
    svc = services(request)
    logs = svc.logs
    name = request.path_params["app" if kind == "app" else "site"]
    session = await logs.sessions.claim(kind, name, request.path_params["secret"])
    if session is None:
        return json_response({"errors": {"request": ["No such log session: it was opened already, has expired, "
                                                     "or never existed."]}}, 404)
    if kind == "app":
        apps = [name]
    else:
        site = await logs.sites.get(name)
        apps = site.apps if site else []
    try:
        logs.readers.acquire()
    except VigilError as exc:
        return json_response({"errors": {exc.kind: exc.errors()}}, exc.status)
    tail = TextTail(logs.pipeline, apps, lines=session.lines, follow=session.tail,
                    capacity=svc.settings.log_subscriber_lines, max_bytes=svc.settings.log_subscriber_bytes,
                    linger=svc.settings.log_tail_linger)
    return TextStream(akkeris_stream(tail), stop=tail.close, on_done=logs.readers.release,
                      media_type="text/plain; charset=utf-8", headers=STREAM_HEADERS)


async def open_app_session(request: Request) -> Response | TextStream:
    return await _open_session(request, "app")


async def open_site_session(request: Request) -> Response | TextStream:
    return await _open_session(request, "site")


# ------------------------------------------------------------------------------------------- builds


def _build_json(build: Build) -> dict[str, Any]:
    return {"id": build.id, "app": {"name": build.app}, "status": build.status,
            "created_at": iso(build.created_at), "updated_at": iso(build.updated_at)}


def _build_app(request: Request) -> str:
    app = request.path_params["app"]
    if not is_valid_app_name(app):
        raise ParamsError({"app": ["must be an app name: lower-case letters, digits and '-', at most 63 "
                                   "characters"]}, status=422)
    return app


async def _body(request: Request) -> dict[str, Any]:
    return await read_params(request, services(request).settings.max_body_bytes, json_only=True)


@endpoint(Access.RECORD, "POST /apps/:app/builds")
async def create_build(request: Request, principal: Principal) -> Response:
    build = await services(request).logs.builds.create(_build_app(request), await _body(request))
    return json_response(_build_json(build), 201)


@endpoint(Access.READ, "GET /apps/:app/builds/:id")
async def get_build(request: Request, principal: Principal) -> Response:
    build = await services(request).logs.builds.get(_app(request), request.path_params["id"])
    return json_response(_build_json(build))


@endpoint(Access.RECORD, "PATCH /apps/:app/builds/:id")
async def update_build(request: Request, principal: Principal) -> Response:
    builds = services(request).logs.builds
    build = await builds.set_status(_app(request), request.path_params["id"], await _body(request))
    return json_response(_build_json(build))


@endpoint(Access.RECORD, "POST /apps/:app/builds/:id/lines")
async def add_build_lines(request: Request, principal: Principal) -> Response:
    builds = services(request).logs.builds
    await builds.add_lines(_app(request), request.path_params["id"], await _body(request))
    return empty_response(204)


@endpoint(Access.READ, "GET /apps/:app/builds/:id/result")
async def build_result(request: Request, principal: Principal) -> Response:
    build, lines = await services(request).logs.builds.result(_app(request), request.path_params["id"])
    return json_response({"build": {"id": build.id, "status": build.status}, "lines": lines})


# -------------------------------------------------------------------------------------------- sites


def _site_json(site: Site) -> dict[str, Any]:
    return {"name": site.name, "apps": site.apps, "created_at": iso(site.created_at),
            "updated_at": iso(site.updated_at)}


@endpoint(Access.MANAGE, "PUT /sites/:site")
async def put_site(request: Request, principal: Principal) -> Response:
    name = request.path_params["site"]
    if not is_valid_site_name(name):
        raise ParamsError({"site": ["must be a host name (lower-case labels of letters, digits and '-', "
                                    "separated by dots)"]}, status=422)
    svc = services(request)
    apps = parse_members(await _body(request), svc.settings.site_max_apps)
    return json_response(_site_json(await svc.logs.sites.put(name, apps)))


@endpoint(Access.READ, "GET /sites/:site")
async def get_site(request: Request, principal: Principal) -> Response:
    name = _site(request)
    site = await services(request).logs.sites.get(name)
    if site is None:
        raise NotFound(f"The specified site {name} does not exist.")
    return json_response(_site_json(site))


routes = [
    Route("/apps/{app}/log-sessions", create_app_session, methods=["POST"]),
    Route("/sites/{site}/log-sessions", create_site_session, methods=["POST"]),
    Route("/apps/{app}/log-sessions/{secret}", open_app_session, methods=["GET"]),
    Route("/sites/{site}/log-sessions/{secret}", open_site_session, methods=["GET"]),
    Route("/apps/{app}/builds", create_build, methods=["POST"]),
    Route("/apps/{app}/builds/{id}", get_build, methods=["GET"]),
    Route("/apps/{app}/builds/{id}", update_build, methods=["PATCH"]),
    Route("/apps/{app}/builds/{id}/lines", add_build_lines, methods=["POST"]),
    Route("/apps/{app}/builds/{id}/result", build_result, methods=["GET", "POST"]),
    Route("/sites/{site}", put_site, methods=["PUT"]),
    Route("/sites/{site}", get_site, methods=["GET"]),
]
