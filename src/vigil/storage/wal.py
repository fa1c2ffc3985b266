"""A write-ahead log of Arrow tables: numbered segments, one Arrow IPC stream file per table name.

Ingest appends each group-commit batch here before it answers, then loads whole segments into the
telemetry engine in large INSERTs (the engine's cost per INSERT dwarfs its cost per row). A
segment is deleted once the engine holds it; segments left by a crash are loaded again at start.
Appends reach the OS before the request is answered (a process crash loses nothing); with
`fsync` they also reach the disk before the answer (a power cut loses nothing).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyarrow as pa

SUFFIX = ".arrows"


class SegmentLog:
    def __init__(self, directory: Path, schemas: dict[str, pa.Schema], *, fsync: bool = False) -> None:
        self.directory = directory
        self.schemas = schemas
        self.fsync = fsync
        directory.mkdir(parents=True, exist_ok=True)
        existing = self.segments()
        self._last = existing[-1] if existing else 0
        self._current: int | None = None
        self._files: dict[str, tuple[object, pa.ipc.RecordBatchStreamWriter]] = {}

    def _path(self, segment: int, name: str) -> Path:
        return self.directory / f"{segment:012d}.{name}{SUFFIX}"

    def segments(self) -> list[int]:
        """Segment numbers present on disk, oldest first."""
        numbers = {int(p.name.split(".", 1)[0]) for p in self.directory.glob(f"*{SUFFIX}")
                   if p.name.split(".", 1)[0].isdigit()}
        return sorted(numbers)

    @property
    def current(self) -> int | None:
        return self._current

    def append(self, tables: dict[str, pa.Table]) -> int:
        """Append to the open segment (opening one if needed); returns its number. Blocking I/O."""
        if self._current is None:
            # Numbers never repeat, across restarts too (they name the engine's dedup tokens).
            self._current = self._last = max(self._last + 1, time.time_ns() // 1000)
        for name, table in tables.items():
            if table.num_rows == 0:
                continue
            if name not in self._files:
                sink = open(self._path(self._current, name), "ab")  # noqa: SIM115 (kept open across appends)
                self._files[name] = (sink, pa.ipc.new_stream(sink, self.schemas[name]))
            sink, writer = self._files[name]
            writer.write_table(table.cast(self.schemas[name]))
            sink.flush()  # type: ignore[attr-defined]
            if self.fsync:
                os.fsync(sink.fileno())  # type: ignore[attr-defined]
        return self._current

    def rotate(self) -> int | None:
        """Close the open segment; the next append starts a new one. Returns the closed number."""
        closed = self._current
        for sink, writer in self._files.values():
            writer.close()
            sink.close()  # type: ignore[attr-defined]
        self._files.clear()
        self._current = None
        return closed

    def read(self, segment: int) -> dict[str, pa.Table]:
        """A segment's tables. A torn final batch (a crash mid-append, never acknowledged) is dropped."""
        out: dict[str, pa.Table] = {}
        for name, schema in self.schemas.items():
            path = self._path(segment, name)
            batches: list[pa.RecordBatch] = []
            if path.exists():
                try:
                    with pa.ipc.open_stream(pa.memory_map(str(path))) as reader:
                        for batch in reader:
                            batches.append(batch)
                except (pa.ArrowInvalid, OSError):
                    pass
            out[name] = pa.Table.from_batches(batches, schema=schema)
        return out

    def delete(self, segment: int) -> None:
        for name in self.schemas:
            self._path(segment, name).unlink(missing_ok=True)
