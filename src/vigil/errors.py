"""Errors the domain raises; the HTTP layer turns each into the seed's error body and status."""

from __future__ import annotations

from typing import Any


class VigilError(Exception):
    status = 400
    kind = "request"  # params | request | system

    def __init__(self, message: str | None = None, *, body: Any = None) -> None:
        super().__init__(message or self.__class__.__name__)
        self.message = message or ""
        self.body = body

    def errors(self) -> Any:
        return [self.message]


class ParamsError(VigilError):
    """Something wrong with one or more named parameters: {"errors": {"params": {name: [reasons]}}}."""

    kind = "params"

    def __init__(self, params: dict[str, list[str] | str], status: int = 400) -> None:
        self.params = {k: (v if isinstance(v, list) else [v]) for k, v in params.items()}
        first = next(iter(self.params.items()), ("", [""]))
        super().__init__(f"{first[0]}: {first[1][0]}")
        self.status = status

    def errors(self) -> Any:
        return self.params


def param_error(name: str, reason: str, status: int = 400) -> ParamsError:
    return ParamsError({name: [reason]}, status=status)


class RequestError(VigilError):
    pass


class Unauthorized(VigilError):
    status = 401


class Forbidden(VigilError):
    status = 403


class NotFound(VigilError):
    status = 404


class AlreadyExists(VigilError):
    status = 422


class Conflict(VigilError):
    status = 409


class PayloadTooLarge(VigilError):
    status = 413


class UnsupportedMediaType(VigilError):
    status = 415


class Unavailable(VigilError):
    """The server cannot take the request now (overload, storage failure): clients should retry."""

    status = 503
    kind = "system"
