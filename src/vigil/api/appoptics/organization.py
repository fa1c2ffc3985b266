"""GET /v1/organization: the organization this server stands for (both fields are settings)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vigil.api.endpoint import endpoint, services
from vigil.api.http import json_response
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal


@endpoint(Access.READ, "GET /v1/organization")
async def get_organization(request: Request, principal: Principal) -> Response:
    settings = services(request).settings
    # The seed types the id as a string: alphanumeric, even when it looks numeric.
    return json_response({"id": str(settings.organization_id), "name": settings.organization_name})


routes = [Route("/v1/organization", get_organization, methods=["GET"])]
