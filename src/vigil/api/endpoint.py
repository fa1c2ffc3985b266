"""The wrapper every API route goes through: authentication, role, rate limit, errors, self-metrics."""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from vigil.api.http import json_response
from vigil.auth.roles import Access, permits
from vigil.auth.tokens import Principal
from vigil.errors import Forbidden, Unauthorized, VigilError

if TYPE_CHECKING:
    from vigil.services import Services

log = logging.getLogger(__name__)

Handler = Callable[[Request, Principal], Awaitable[Response]]
# Route label → access, for every wrapped handler (the role matrix test reads it even when another
# wrapper hides the handler's `access` attribute).
DECLARED: dict[str, Access] = {}


def services(request: Request) -> Services:
    return request.app.state.services


def credentials(request: Request) -> str | None:
    """The token from HTTP Basic auth: in the user field with an empty password, or in the password
    field (Librato's older clients send `email:token`)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return password or user or None


def error_response(exc: VigilError) -> Response:
    if exc.body is not None:
        return json_response(exc.body, exc.status)
    headers = {"WWW-Authenticate": 'Basic realm="vigil"'} if exc.status == 401 else None
    return json_response({"errors": {exc.kind: exc.errors()}}, exc.status, headers)


def endpoint(access: Access, route: str) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a handler `(request, principal) -> response` for `access`; `route` labels its metrics."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            started = time.perf_counter()
            svc = services(request)
            quota_headers: dict[str, str] = {}
            try:
                secret = credentials(request)
                if secret is None:
                    raise Unauthorized("Please provide credentials for authentication.")
                principal = await svc.tokens.authenticate(secret)
                if principal is None:
                    raise Unauthorized("Authentication failed: the token is unknown or inactive.")
                std, agg, allowed = svc.rate_limiter.hit(principal.token_id)
                quota_headers = {"X-Librato-RateLimit-Std": std.header(), "X-Librato-RateLimit-Agg": agg.header()}
                if not allowed:
                    response = json_response({"request_time": int(time.time()),
                                              "error": "You have hit the API rate limit for this token. "
                                                       f"It resets at {std.reset}."}, 429)
                elif not permits(principal.role, access):
                    raise Forbidden(f"A {principal.role.value} token may not do this ({access.value} access needed).")
                else:
                    response = await handler(request, principal)
            except VigilError as exc:
                response = error_response(exc)
            except Exception:
                log.exception("unhandled error in %s %s", request.method, route)
                response = json_response({"errors": {"system": ["Internal error; it has been logged."]}}, 500)
            response.headers.update(quota_headers)
            svc.self_metrics.requests.labels(route, request.method, str(response.status_code)).inc()
            svc.self_metrics.latency.labels(route).observe(time.perf_counter() - started)
            return response

        run.__name__ = handler.__name__
        run.access = access  # type: ignore[attr-defined]  # read by the role matrix test
        DECLARED[route] = access
        return run

    return wrap
