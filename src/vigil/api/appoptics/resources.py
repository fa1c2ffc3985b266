"""Helpers shared by the resource routers of spaces, charts, annotations, tokens, environments, snapshots."""

from __future__ import annotations

from starlette.requests import Request

from vigil.errors import NotFound

MAX_ID_DIGITS = 17  # ids beyond this cannot exist; they are a 404, never an integer overflow in SQL


def path_id(request: Request, name: str, what: str) -> int:
    raw = request.path_params[name]
    if not raw.isdigit() or len(raw) > MAX_ID_DIGITS:
        raise NotFound(f"{what} {raw} does not exist")
    return int(raw)


def absolute(request: Request, path: str) -> str:
    """A link as the seed shows them (`href`), on the host and scheme the client used."""
    return str(request.base_url).rstrip("/") + path
