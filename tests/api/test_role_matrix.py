"""Every route × admin / recorder / viewer / inactive / missing token → the expected status.

Each authenticated route declares its access through `@endpoint`; this test checks that the
declaration is what the route does, and, for the routes whose access the seed or our docs decide,
that the declaration is the decided one.
"""

from __future__ import annotations

import asyncio
import re

import httpx
from starlette.routing import Route

from tests.conftest import Vigil
from vigil.api.endpoint import DECLARED
from vigil.auth.roles import Access, Role

# Routes served without a token: each is guarded by an unguessable secret in its URL, or is the health check.
PUBLIC = {("GET", "/healthz"), ("GET", "/snapshots/{key}.png"), ("GET", "/apps/{app}/log-sessions/{secret}"),
          ("GET", "/sites/{site}/log-sessions/{secret}"),
          ("GET", "/")}  # the web UI's shell (and its files, mounted under /ui): its data comes from the APIs

# The decided access of the routes of the foundation and of issue 5.
DECIDED: dict[tuple[str, str], Access] = {
    ("GET", "/metrics"): Access.READ,
    ("POST", "/v1/measurements"): Access.RECORD,
    ("GET", "/v1/measurements/{name}"): Access.READ,
    ("GET", "/v1/metrics"): Access.READ,
    ("PUT", "/v1/metrics"): Access.MANAGE,
    ("DELETE", "/v1/metrics"): Access.MANAGE,
    ("GET", "/v1/metrics/{name}"): Access.READ,
    ("PUT", "/v1/metrics/{name}"): Access.MANAGE,
    ("DELETE", "/v1/metrics/{name}"): Access.MANAGE,
    ("GET", "/v1/jobs/{id}"): Access.READ,
    # API tokens show secrets: admin only, listings included.
    ("GET", "/v1/api_tokens"): Access.MANAGE,
    ("POST", "/v1/api_tokens"): Access.MANAGE,
    ("GET", "/v1/api_tokens/{name}"): Access.MANAGE,
    ("PUT", "/v1/api_tokens/{id}"): Access.MANAGE,
    ("DELETE", "/v1/api_tokens/{id}"): Access.MANAGE,
    ("GET", "/v1/environments"): Access.READ,
    ("GET", "/v1/environments/"): Access.READ,
    ("POST", "/v1/environments"): Access.MANAGE,
    ("POST", "/v1/environments/"): Access.MANAGE,
    ("PUT", "/v1/environments/{id}"): Access.MANAGE,
    ("PUT", "/v1/environments/{id}/"): Access.MANAGE,
    ("DELETE", "/v1/environments/{id}"): Access.MANAGE,
    ("DELETE", "/v1/environments/{id}/"): Access.MANAGE,
    ("GET", "/v1/organization"): Access.READ,
    ("GET", "/v1/spaces"): Access.READ,
    ("POST", "/v1/spaces"): Access.MANAGE,
    ("GET", "/v1/spaces/{id}"): Access.READ,
    ("PUT", "/v1/spaces/{id}"): Access.MANAGE,
    ("DELETE", "/v1/spaces/{id}"): Access.MANAGE,
    ("GET", "/v1/spaces/{id}/charts"): Access.READ,
    ("POST", "/v1/spaces/{id}/charts"): Access.MANAGE,
    ("GET", "/v1/spaces/{id}/charts/{chart_id}"): Access.READ,
    ("PUT", "/v1/spaces/{id}/charts/{chart_id}"): Access.MANAGE,
    ("POST", "/v1/spaces/{id}/charts/{chart_id}"): Access.MANAGE,
    ("DELETE", "/v1/spaces/{id}/charts/{chart_id}"): Access.MANAGE,
    ("GET", "/v1/spaces/{id}/charts/{chart_id}/data"): Access.READ,
    ("GET", "/v1/annotations"): Access.READ,
    ("POST", "/v1/annotations/{name}"): Access.RECORD,
    ("GET", "/v1/annotations/{name}"): Access.READ,
    ("PUT", "/v1/annotations/{name}"): Access.MANAGE,
    ("DELETE", "/v1/annotations/{name}"): Access.MANAGE,
    ("GET", "/v1/annotations/{name}/{id}"): Access.READ,
    ("PUT", "/v1/annotations/{name}/{id}"): Access.RECORD,
    ("DELETE", "/v1/annotations/{name}/{id}"): Access.MANAGE,
    ("POST", "/v1/annotations/{name}/{id}/links"): Access.RECORD,
    ("DELETE", "/v1/annotations/{name}/{id}/links/{rel}"): Access.MANAGE,
    # A snapshot shares what a viewer may see anyway.
    ("POST", "/v1/snapshots"): Access.READ,
    ("GET", "/v1/snapshots/{id}"): Access.READ,
}

ALLOWED = {Access.READ: {Role.ADMIN, Role.VIEWER}, Access.RECORD: {Role.ADMIN, Role.RECORDER},
           Access.MANAGE: {Role.ADMIN}}
# A route that answers with a stream (a live tail) is past authentication once it has not failed fast.
PATIENCE = 5.0


def _declared(method: str, path: str, handler: object) -> Access | None:
    """The access a route's handler declared: on the handler, or by its route label."""
    access = getattr(handler, "access", None)
    if access is not None:
        return access
    bare = path.rstrip("/") or "/"
    colons = re.sub(r"\{(\w+)(:\w+)?\}", r":\1", bare)
    for label in (f"{method} {path}", f"{method} {bare}", f"{method} {colons}"):
        if label in DECLARED:
            return DECLARED[label]
    return None


def _routes(vigil: Vigil) -> list[tuple[str, str, Access | None]]:
    app = vigil.client._transport.app  # type: ignore[attr-defined]
    found = []
    for route in app.routes:
        if not isinstance(route, Route):
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            found.append((method, route.path, _declared(method, route.path, route.endpoint)))
    return found


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


async def _status(client: httpx.AsyncClient, method: str, path: str) -> int | None:
    kwargs = {"json": {}} if method in ("POST", "PUT") else {}
    try:
        r = await asyncio.wait_for(client.request(method, _concrete(path), **kwargs), PATIENCE)
    except TimeoutError:
        return None
    return r.status_code


async def test_every_route_answers_each_role_as_declared(vigil: Vigil) -> None:
    routes = _routes(vigil)
    assert len(routes) > 40
    undeclared = [(m, p) for m, p, access in routes if access is None and (m, p) not in PUBLIC]
    assert not undeclared, f"routes without @endpoint and not public: {undeclared}"
    wrong = [(m, p, a, DECIDED[(m, p)]) for m, p, a in routes if (m, p) in DECIDED and a != DECIDED[(m, p)]]
    assert not wrong, f"declared access differs from the decided one: {wrong}"
    missing = [key for key in DECIDED if key not in {(m, p) for m, p, _ in routes}]
    assert not missing, f"decided routes that do not exist: {missing}"

    tokens = {role: await vigil.token(role) for role in (Role.RECORDER, Role.VIEWER)}
    inactive = await vigil.token(Role.ADMIN, active=False)
    clients = {role: vigil.as_token(secret) for role, secret in tokens.items()}
    problems = []
    try:
        for method, path, access in routes:
            if access is None:
                continue
            for label, client, expected in (("missing", vigil.as_token(None), {401}),
                                            ("inactive", vigil.as_token(inactive), {401})):
                async with client:
                    status = await _status(client, method, path)
                if status not in expected:
                    problems.append((method, path, label, status))
            for role, client in clients.items():
                status = await _status(client, method, path)
                if role in ALLOWED[access]:
                    if status is not None and (status in (401, 403) or status >= 500):
                        problems.append((method, path, role.value, status))
                elif status != 403:
                    problems.append((method, path, role.value, status))
        # The admin last: its requests may change things (all with empty bodies, on ids that do not exist).
        for method, path, access in routes:
            if access is None:
                continue
            status = await _status(vigil.client, method, path)
            if status is not None and (status in (401, 403) or status >= 500):
                problems.append((method, path, "admin", status))
    finally:
        for client in clients.values():
            await client.aclose()
    assert not problems, problems


async def test_public_routes_need_no_token(vigil: Vigil) -> None:
    async with vigil.as_token(None) as anonymous:
        assert (await anonymous.get("/healthz")).status_code == 200
        assert (await anonymous.get("/snapshots/" + "0" * 32 + ".png")).status_code == 404
