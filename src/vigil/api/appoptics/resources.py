"""Helpers shared by the resource routers of spaces, charts, annotations, tokens, environments, snapshots."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request

from vigil.api.http import JSON, content_type, read_body
from vigil.api.params import MAX_PARAMS, ParamSyntaxError, nest
from vigil.errors import NotFound, RequestError, UnsupportedMediaType

MAX_ID_DIGITS = 17  # ids beyond this cannot exist; they are a 404, never an integer overflow in SQL


def path_id(request: Request, name: str, what: str) -> int:
    raw = request.path_params[name]
    if not raw.isdigit() or len(raw) > MAX_ID_DIGITS:
        raise NotFound(f"{what} {raw} does not exist")
    return int(raw)


def absolute(request: Request, path: str) -> str:
    """A link as the seed shows them (`href`), on the host and scheme the client used."""
    return str(request.base_url).rstrip("/") + path


async def read_object(request: Request, limit: int) -> dict[str, Any]:
    """The body as parameters, like `read_params`, except that a JSON object sent with curl's default
    form content type (the seed's environment examples do exactly that) is read as the JSON it is."""
    body = await read_body(request, limit)
    if body.lstrip()[:1] == b"{" and content_type(request) in ("", JSON, "application/x-www-form-urlencoded"):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise RequestError(f"The request body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise RequestError("The request body must be a JSON object")
        return data
    kind = content_type(request)
    if kind == JSON:
        if not body.strip():
            return {}
        raise RequestError("The request body must be a JSON object")
    if kind not in ("", "application/x-www-form-urlencoded"):
        raise UnsupportedMediaType("Content-Type must be application/json or application/x-www-form-urlencoded")
    try:
        return nest(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_PARAMS))
    except (UnicodeDecodeError, ValueError, ParamSyntaxError) as exc:
        raise RequestError(f"The form body cannot be parsed: {exc}") from None
