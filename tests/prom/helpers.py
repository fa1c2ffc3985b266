"""Helpers of the Prometheus tests: remote-write payloads built with the protobuf messages, and
small exporters (real HTTP servers on loopback) whose expositions the tests change at will."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator, Callable

import cramjam

from vigil.prom.prompb.remote_pb2 import WriteRequest

STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
WRITE_HEADERS = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
                 "X-Prometheus-Remote-Write-Version": "0.1.0"}

Series = tuple[dict[str, str], list[tuple[float, int]]]  # labels (with __name__), [(value, ms)]


def write_request(series: list[Series]) -> WriteRequest:
    request = WriteRequest()
    for labels, samples in series:
        ts = request.timeseries.add()
        for name, value in sorted(labels.items()):
            label = ts.labels.add()
            label.name, label.value = name, value
        for value, ms in samples:
            sample = ts.samples.add()
            sample.value, sample.timestamp = value, ms
    return request


def snappy(data: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(data))


def payload(series: list[Series]) -> bytes:
    return snappy(write_request(series).SerializeToString())


class Exporter:
    """A real HTTP server on 127.0.0.1 answering GET with `body()` (a function: each scrape may see
    something new). `delay` seconds before answering simulate a slow target."""

    def __init__(self, body: Callable[[], str], content_type: str = "text/plain; version=0.0.4",
                 delay: float = 0.0) -> None:
        self.body = body
        self.content_type = content_type
        self.delay = delay
        self.requests = 0
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/metrics"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readline() not in (b"\r\n", b"\n", b""):
                pass
            self.requests += 1
            if self.delay:
                await asyncio.sleep(self.delay)
            data = self.body().encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: " + self.content_type.encode() +
                         b"\r\nContent-Length: " + str(len(data)).encode() + b"\r\nConnection: close\r\n\r\n" + data)
            await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def start(self) -> Exporter:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)


@contextlib.asynccontextmanager
async def exporters(*items: Exporter) -> AsyncIterator[list[Exporter]]:
    started = [await e.start() for e in items]
    try:
        yield started
    finally:
        for e in started:
            await e.stop()


async def wait_for(predicate: Callable[[], bool], limit: float = 20.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
