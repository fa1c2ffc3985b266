"""Akkeris log sessions: an unguessable, single-use, expiring URL that streams an app's or a site's logs.

`POST /apps/{app}/log-sessions` (or `/sites/{site}/…`) stores the request under the SHA-256 of a
fresh secret (`secrets.token_urlsafe(32)`: 256 random bits) and answers with a URL holding the
secret. The URL needs no credentials: whoever has it may read the logs once. Opening it deletes
the row (single use, also across nodes: only one DELETE can win); an unopened URL expires after
`ttl` seconds. At most `max_pending` unopened URLs exist at a time.

The stream is text, one line per log line in the Akkeris format
(`2016-07-19T21:20:22Z app-space app[web.1]: message`): the newest `lines` lines, then, with
`tail`, every new line until the client goes away.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from vigil.errors import ParamsError, Unavailable
from vigil.logs.tail import TextTail
from vigil.storage import logs_tables as t
from vigil.storage.metadata import MetadataDB

LINES_DEFAULT = 100
LINES_MAX = 250
# Akkeris controller-api's own messages for a bad `lines`.
LINES_NOT_A_NUMBER = "The specified lines was either not a number or less than 1."
LINES_TOO_LARGE = f"The specified lines field was larger than allowed ({LINES_MAX} is the maximum)."


@dataclass(frozen=True)
class SessionRequest:
    kind: str  # "app" | "site"
    name: str
    lines: int
    tail: bool


@dataclass(frozen=True)
class CreatedSession:
    id: str
    secret: str
    created_at: float


def parse_options(body: dict[str, Any]) -> tuple[int, bool]:
    """`lines` (1..250, default 100) and `tail` (default false) from a request body, or a 422."""
    lines = body.get("lines")
    if lines is None:
        lines = LINES_DEFAULT
    # As Akkeris (JavaScript's Number.isInteger): 10.0 is an integer, "10" and true are not.
    if isinstance(lines, float) and lines.is_integer():
        lines = int(lines)
    if isinstance(lines, bool) or not isinstance(lines, int) or lines < 1:
        raise ParamsError({"lines": [LINES_NOT_A_NUMBER]}, status=422)
    if lines > LINES_MAX:
        raise ParamsError({"lines": [LINES_TOO_LARGE]}, status=422)
    tail = body.get("tail")
    if tail is None:
        tail = False
    if not isinstance(tail, bool):
        raise ParamsError({"tail": ["The specified tail was not a boolean (true or false)."]}, status=422)
    return lines, tail


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class LogSessions:
    def __init__(self, db: MetadataDB, *, ttl: int, max_pending: int) -> None:
        self.db = db
        self.ttl = ttl
        self.max_pending = max_pending

    async def create(self, request: SessionRequest) -> CreatedSession:
        now = time.time()
        secret = secrets.token_urlsafe(32)
        created = CreatedSession(str(uuid.uuid4()), secret, now)
        s = t.log_sessions
        async with self.db.begin() as conn:
            await conn.execute(s.delete().where(s.c.expires_at <= now))
            pending = (await conn.execute(sa.select(sa.func.count()).select_from(s))).scalar_one()
            if pending >= self.max_pending:
                raise Unavailable(f"There are {pending} unopened log sessions, the most this server keeps; "
                                  "open or let some expire, then try again.")
            await conn.execute(s.insert().values(
                token_hash=_digest(secret), id=created.id, kind=request.kind, name=request.name,
                lines=request.lines, tail=request.tail, created_at=now, expires_at=now + self.ttl))
        return created

    async def claim(self, kind: str, name: str, secret: str) -> SessionRequest | None:
        """The session behind `secret` if it exists, is unexpired and belongs to (kind, name). Once
        found it is deleted, so a URL works once."""
        if not secret or len(secret) > 128:
            return None
        s = t.log_sessions
        digest = _digest(secret)
        async with self.db.begin() as conn:
            row = (await conn.execute(sa.select(s).where(s.c.token_hash == digest, s.c.kind == kind,
                                                         s.c.name == name))).mappings().first()
            if row is None:
                return None
            deleted = await conn.execute(s.delete().where(s.c.token_hash == digest))
        if deleted.rowcount != 1 or row["expires_at"] <= time.time():
            return None  # opened by someone else meanwhile, or expired
        return SessionRequest(row["kind"], row["name"], row["lines"], row["tail"])

    async def pending(self) -> int:
        s = t.log_sessions
        async with self.db.connect() as conn:
            return (await conn.execute(sa.select(sa.func.count()).select_from(s)
                                       .where(s.c.expires_at > time.time()))).scalar_one()


async def akkeris_stream(tail: TextTail) -> AsyncIterator[bytes]:
    """The session's body: the newest lines, then (tail) new lines as they come, one chunk per
    batch so that each is flushed at once. Ends when the tail is closed (the client went away) or
    the server shuts down."""
    try:
        first = await tail.start()
        if first:
            yield first
        while True:
            text = await tail.next()
            if text is None:
                break
            if text:
                yield text
    finally:
        tail.close()
