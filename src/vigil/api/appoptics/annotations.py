"""Annotations: streams of events (GET /v1/annotations, /v1/annotations/:name, …/:id, …/:id/links).

Submitting an event, updating one (a batch job sets its end time) and adding a link are data
submission, open to recorder tokens; renaming or deleting streams, events and links needs admin.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vigil.annotations.store import ORDERABLE
from vigil.api.appoptics.metrics import page_params
from vigil.api.appoptics.resources import path_id
from vigil.api.endpoint import endpoint, services
from vigil.api.http import empty_response, json_response, query_params, read_params
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal


def _name(request: Request) -> str:
    return request.path_params["name"]


def _event_id(request: Request) -> int:
    return path_id(request, "id", "Annotation event")


@endpoint(Access.READ, "GET /v1/annotations")
async def list_streams(request: Request, principal: Principal) -> Response:
    params = query_params(request)
    offset, length, _, descending = page_params(params, ORDERABLE, "name")
    name = params.get("name")
    page, found, total = await services(request).annotations.list(
        name=name if isinstance(name, str) else None, offset=offset, length=length, descending=descending)
    return json_response({"query": {"found": found, "length": len(page), "offset": offset, "total": total},
                          "annotations": [s.to_json() for s in page]})


@endpoint(Access.RECORD, "POST /v1/annotations/:name")
async def create_event(request: Request, principal: Principal) -> Response:
    svc = services(request)
    name = _name(request)
    event = await svc.annotations.create_event(name, await read_params(request, svc.settings.max_body_bytes))
    stream = await svc.annotations.stream(name)
    return json_response(event, 201, {"Location": f"/v1/annotations/{stream.name}/{event['id']}"})


@endpoint(Access.READ, "GET /v1/annotations/:name")
async def get_stream(request: Request, principal: Principal) -> Response:
    return json_response(await services(request).annotations.events(_name(request), query_params(request)))


@endpoint(Access.MANAGE, "PUT /v1/annotations/:name")
async def update_stream(request: Request, principal: Principal) -> Response:
    svc = services(request)
    await svc.annotations.update_stream(_name(request), await read_params(request, svc.settings.max_body_bytes))
    return empty_response(204)


@endpoint(Access.MANAGE, "DELETE /v1/annotations/:name")
async def delete_stream(request: Request, principal: Principal) -> Response:
    await services(request).annotations.delete_stream(_name(request))
    return empty_response(204)


@endpoint(Access.READ, "GET /v1/annotations/:name/:id")
async def get_event(request: Request, principal: Principal) -> Response:
    return json_response(await services(request).annotations.event(_name(request), _event_id(request)))


@endpoint(Access.RECORD, "PUT /v1/annotations/:name/:id")
async def update_event(request: Request, principal: Principal) -> Response:
    svc = services(request)
    await svc.annotations.update_event(_name(request), _event_id(request),
                                       await read_params(request, svc.settings.max_body_bytes))
    return empty_response(204)


@endpoint(Access.MANAGE, "DELETE /v1/annotations/:name/:id")
async def delete_event(request: Request, principal: Principal) -> Response:
    await services(request).annotations.delete_event(_name(request), _event_id(request))
    return empty_response(204)


@endpoint(Access.RECORD, "POST /v1/annotations/:name/:id/links")
async def add_link(request: Request, principal: Principal) -> Response:
    svc = services(request)
    name, event_id = _name(request), _event_id(request)
    link = await svc.annotations.add_link(name, event_id, await read_params(request, svc.settings.max_body_bytes))
    stream = await svc.annotations.stream(name)
    return json_response(link, 201, {"Location": f"/v1/annotations/{stream.name}/{event_id}/links/{link['rel']}"})


@endpoint(Access.MANAGE, "DELETE /v1/annotations/:name/:id/links/:rel")
async def delete_link(request: Request, principal: Principal) -> Response:
    await services(request).annotations.delete_link(_name(request), _event_id(request), request.path_params["rel"])
    return empty_response(204)


routes = [
    Route("/v1/annotations", list_streams, methods=["GET"]),
    Route("/v1/annotations/{name}", create_event, methods=["POST"]),
    Route("/v1/annotations/{name}", get_stream, methods=["GET"]),
    Route("/v1/annotations/{name}", update_stream, methods=["PUT"]),
    Route("/v1/annotations/{name}", delete_stream, methods=["DELETE"]),
    Route("/v1/annotations/{name}/{id}", get_event, methods=["GET"]),
    Route("/v1/annotations/{name}/{id}", update_event, methods=["PUT"]),
    Route("/v1/annotations/{name}/{id}", delete_event, methods=["DELETE"]),
    Route("/v1/annotations/{name}/{id}/links", add_link, methods=["POST"]),
    Route("/v1/annotations/{name}/{id}/links/{rel}", delete_link, methods=["DELETE"]),
]
