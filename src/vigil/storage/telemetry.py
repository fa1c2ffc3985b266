"""The telemetry engine: ClickHouse SQL over an embedded chDB session (or, later, a ClickHouse server).

The rest of Vigil speaks ClickHouse SQL through this small interface and never knows which engine
runs. Every statement is written so that it runs unchanged on chDB and on a ClickHouse server:
database-qualified names, query parameters (`{name:Type}`), no engine-specific functions.
"""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa


class TelemetryError(RuntimeError):
    """The engine failed a statement (not the user's fault)."""


class TelemetryStore(Protocol):
    database: str

    async def execute(self, sql: str, params: dict[str, Any] | None = None) -> None: ...

    async def query_arrow(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table: ...

    async def insert_arrow(self, table: str, data: pa.Table, dedup_token: str | None = None,
                           nice: int = 10) -> None:
        """Insert rows. With `dedup_token`, a second insert with the same token is dropped. The
        engine's threads for it run at `nice` (default INSERT_NICE)."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


_session_lock = threading.Lock()
_session: Any = None
_session_path: str | None = None


def _chdb_session(path: Path) -> Any:
    """chDB allows one data path per process: every store in this process shares its session."""
    global _session, _session_path
    from chdb import session as chs

    resolved = str(path.resolve())
    with _session_lock:
        if _session is None:
            path.mkdir(parents=True, exist_ok=True)
            _session = chs.Session(resolved)
            _session_path = resolved
        elif _session_path != resolved:
            raise TelemetryError(
                f"chDB already opened {_session_path} in this process; one data path per process"
            )
        return _session


def close_engine() -> None:
    """Close this process's chDB session. Call once, when the process is done with the engine: left
    open, the engine is torn down by static destructors at interpreter exit while its background
    threads still run, which can kill the process (SIGSEGV) after a clean shutdown."""
    global _session, _session_path
    with _session_lock:
        if _session is not None:
            _session.cleanup()
        _session = _session_path = None


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def literal(value: Any) -> str:
    """A Python value as a ClickHouse literal: strings quoted and escaped, lists as arrays, tuples as
    tuples, None as NULL."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ",".join(literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ",".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return _quote(str(value))


_PLACEHOLDER = re.compile(r"\{(\w+):([^{}]+)\}")


def render(sql: str, params: dict[str, Any]) -> str:
    """Substitute `{name:Type}` query parameters as typed literals, `CAST(literal AS Type)`.

    ClickHouse servers take these parameters natively; chDB keeps a statement's parameters on the
    shared connection, where two concurrent statements read each other's. Rendering them here keeps
    statements independent, and the literal is escaped, so a value can never become SQL.
    """
    def substitute(match: re.Match[str]) -> str:
        name, kind = match.group(1), match.group(2)
        if name not in params:
            raise TelemetryError(f"query parameter {name} is not set")
        return f"CAST({literal(params[name])} AS {kind})"

    return _PLACEHOLDER.sub(substitute, sql)


# Every INSERT is background work (its rows were acknowledged from the write-ahead log or are log
# history), so its engine threads run at this nice value: a log INSERT takes ~100 ms of a core,
# and at nice 0 it took it from the event loop, whose live tails then waited (bench/README.md).
INSERT_NICE = 10
# Log history's INSERTs yield even to the syslog workers (nice 10): a busy second of syslog is an
# INSERT of ~100 ms every half second, and a worker waiting behind it held live lines back.
HISTORY_INSERT_NICE = 19


class ChdbTelemetry:
    """ClickHouse in-process. Statements run in worker threads: chDB releases the GIL while it works."""

    def __init__(self, path: Path, database: str = "vigil", max_concurrency: int = 4) -> None:
        self.database = database
        self._session = _chdb_session(path)
        self._slots = asyncio.Semaphore(max_concurrency)

    def _run(self, sql: str, params: dict[str, Any] | None, fmt: str) -> Any:
        try:
            return self._session.query(render(sql, params) if params else sql, fmt)
        except Exception as exc:  # chDB raises bare RuntimeError for everything
            raise TelemetryError(str(exc)) from exc

    async def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        async with self._slots:
            await asyncio.to_thread(self._run, sql, params, "CSV")

    async def query_arrow(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        async with self._slots:
            return await asyncio.to_thread(self._run, sql, params, "ArrowTable")

    def _insert(self, table: str, data: pa.Table, dedup_token: str | None, nice: int) -> None:
        columns = ", ".join(f"`{name}`" for name in data.column_names)
        settings = f" SETTINGS os_thread_priority = {int(nice)}"
        if dedup_token:
            settings += f", insert_deduplication_token = {_quote(dedup_token)}"
        # chDB's Python() table function reads the Arrow table from this frame's local `data`.
        self._run(f"INSERT INTO {self.database}.{table} ({columns}) SELECT {columns} FROM Python(data){settings}",
                  None, "CSV")

    async def insert_arrow(self, table: str, data: pa.Table, dedup_token: str | None = None,
                           nice: int = INSERT_NICE) -> None:
        if data.num_rows == 0:
            return
        async with self._slots:
            await asyncio.to_thread(self._insert, table, data, dedup_token, nice)

    async def ping(self) -> bool:
        try:
            await self.query_arrow("SELECT 1 AS ok")
        except TelemetryError:
            return False
        return True

    async def close(self) -> None:
        # The session stays open for the life of the process (one per data path); nothing to flush:
        # every insert returned only after its part was written.
        return None
