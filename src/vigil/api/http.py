"""Request and response plumbing shared by every API family."""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from vigil.api.params import ParamSyntaxError, nest, parse_query
from vigil.errors import PayloadTooLarge, RequestError, UnsupportedMediaType

JSON = "application/json"


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # Exactly `application/json`, no charset parameter: the official clients compare the whole value.
    return Response(orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY), status_code=status,
                    headers=headers, media_type=JSON)


def empty_response(status: int = 204, headers: dict[str, str] | None = None) -> Response:
    return Response(b"", status_code=status, headers=headers)


def content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_raw_body(request: Request, limit: int) -> bytes:
    """The request body as sent, never more than `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, gunzipped if need be, never more than `limit` bytes either way."""
    body = await read_raw_body(request, limit)
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            raise RequestError(f"The request body is not valid {encoding}: {exc}") from None
        if len(body) > limit or inflater.unconsumed_tail:
            raise PayloadTooLarge(f"The decompressed request body is larger than {limit} bytes")
    elif encoding not in ("", "identity"):
        raise UnsupportedMediaType(f"Content-Encoding {encoding} is not supported (use gzip)")
    return body


async def read_params(request: Request, limit: int, *, json_only: bool = False) -> dict[str, Any]:
    """A JSON object or form body as nested parameters. An empty body is an empty dict.

    A JSON object sent with curl's default form content type (the seed's own examples do that) is
    read as the JSON it is: no form body starts with `{`."""
    body = await read_body(request, limit)
    kind = content_type(request)
    looks_json = body.lstrip()[:1] in (b"{", b"[")
    if kind == JSON or (kind in ("", "application/x-www-form-urlencoded") and looks_json):
        if not body.strip():
            return {}
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise RequestError(f"The request body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise RequestError("The request body must be a JSON object")
        return data
    if json_only:
        raise UnsupportedMediaType("Content-Type must be application/json")
    if kind in ("", "application/x-www-form-urlencoded"):
        try:
            from urllib.parse import parse_qsl

            return nest(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=1000))
        except (UnicodeDecodeError, ValueError, ParamSyntaxError) as exc:
            raise RequestError(f"The form body cannot be parsed: {exc}") from None
    raise UnsupportedMediaType("Content-Type must be application/json or application/x-www-form-urlencoded")


def query_params(request: Request) -> dict[str, Any]:
    try:
        return parse_query(request.url.query)
    except (ValueError, ParamSyntaxError) as exc:
        raise RequestError(f"The query string cannot be parsed: {exc}") from None
