"""Roles and what each may do."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    RECORDER = "recorder"  # submits data (measurements, annotations, logs, notifications); reads nothing
    VIEWER = "viewer"  # reads everything, changes nothing


class Access(StrEnum):
    READ = "read"  # any query or listing
    RECORD = "record"  # data submission
    MANAGE = "manage"  # changes to configuration: metrics' properties, tokens, spaces, alerts …


ALLOWED: dict[Access, frozenset[Role]] = {
    Access.READ: frozenset({Role.ADMIN, Role.VIEWER}),
    Access.RECORD: frozenset({Role.ADMIN, Role.RECORDER}),
    Access.MANAGE: frozenset({Role.ADMIN}),
}


def permits(role: Role, access: Access) -> bool:
    return role in ALLOWED[access]
