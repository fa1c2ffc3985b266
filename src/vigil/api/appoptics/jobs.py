"""GET /v1/jobs/:id."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vigil.api.endpoint import endpoint, services
from vigil.api.http import json_response
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal
from vigil.errors import NotFound


@endpoint(Access.READ, "GET /v1/jobs/:id")
async def get_job(request: Request, principal: Principal) -> Response:
    raw = request.path_params["id"]
    job = await services(request).jobs.get(int(raw)) if raw.isdigit() and len(raw) < 18 else None
    if job is None:
        raise NotFound(f"Job {raw} does not exist")
    return json_response(job)


routes = [Route("/v1/jobs/{id}", get_job, methods=["GET"])]
