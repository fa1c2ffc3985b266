"""The telemetry engine: ClickHouse SQL over an embedded chDB session (or, later, a ClickHouse server).

The rest of Vigil speaks ClickHouse SQL through this small interface and never knows which engine
runs. Every statement is written so that it runs unchanged on chDB and on a ClickHouse server:
database-qualified names, query parameters (`{name:Type}`), no engine-specific functions.
"""

from __future__ import annotations

import asyncio
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

    async def insert_arrow(self, table: str, data: pa.Table, dedup_token: str | None = None) -> None:
        """Insert rows. With `dedup_token`, a second insert with the same token is dropped."""
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


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def param_text(value: Any) -> Any:
    """A query parameter in ClickHouse's text form: lists become arrays, tuples tuples, strings inside
    them quoted."""
    if isinstance(value, list | tuple):
        inner = ",".join(_quote(v) if isinstance(v, str) else str(param_text(v)) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    return value


class ChdbTelemetry:
    """ClickHouse in-process. Statements run in worker threads: chDB releases the GIL while it works."""

    def __init__(self, path: Path, database: str = "vigil", max_concurrency: int = 4) -> None:
        self.database = database
        self._session = _chdb_session(path)
        self._slots = asyncio.Semaphore(max_concurrency)

    def _run(self, sql: str, params: dict[str, Any] | None, fmt: str) -> Any:
        try:
            if params:
                return self._session.query(sql, fmt, params={k: param_text(v) for k, v in params.items()})
            return self._session.query(sql, fmt)
        except Exception as exc:  # chDB raises bare RuntimeError for everything
            raise TelemetryError(str(exc)) from exc

    async def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        async with self._slots:
            await asyncio.to_thread(self._run, sql, params, "CSV")

    async def query_arrow(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        async with self._slots:
            return await asyncio.to_thread(self._run, sql, params, "ArrowTable")

    def _insert(self, table: str, data: pa.Table, dedup_token: str | None) -> None:
        columns = ", ".join(f"`{name}`" for name in data.column_names)
        settings = ""
        if dedup_token:
            settings = " SETTINGS insert_deduplication_token = {token:String}"
        # chDB's Python() table function reads the Arrow table from this frame's local `data`.
        self._run(f"INSERT INTO {self.database}.{table} ({columns}) SELECT {columns} FROM Python(data){settings}",
                  {"token": dedup_token} if dedup_token else None, "CSV")

    async def insert_arrow(self, table: str, data: pa.Table, dedup_token: str | None = None) -> None:
        if data.num_rows == 0:
            return
        async with self._slots:
            await asyncio.to_thread(self._insert, table, data, dedup_token)

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
