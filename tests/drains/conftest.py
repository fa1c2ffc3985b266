"""Receivers for the drain tests, each a real server on a loopback port: a TCP (optionally TLS) syslog
sink, a blackhole (accepts connections, never reads), a refusing port, a UDP sink and an HTTPS
receiver (uvicorn) with a self-signed certificate made by `cryptography`."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import StartVigil, Vigil
from vigil.logs.framing import SyslogDeframer

# Short waits so that reconnects, retries and notices happen within a test.
FAST = {"drain_backoff_min": 0.05, "drain_backoff_max": 0.2, "drain_connect_timeout": 2.0,
        "drain_write_timeout": 0.5, "drain_notice_interval": 0.2, "drain_http_linger": 0.02,
        "drain_refresh": 0.3, "drain_http_timeout": 2.0, "drain_stats_interval": 0.05}


@pytest.fixture
async def fast_vigil(start_vigil: StartVigil) -> Vigil:
    return await start_vigil(**FAST)


async def eventually(check: Callable[[], Any], within: float = 10.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def add_drain(client: httpx.AsyncClient, url: str, owner: str = "/apps/web", **options: Any) -> dict[str, Any]:
    r = await client.post(f"{owner}/log-drains", json={"url": url, **options})
    assert r.status_code == 201, r.text
    return r.json()


async def post_lines(client: httpx.AsyncClient, lines: list[dict[str, Any]]) -> None:
    r = await client.post("/v1/logs", json=lines)
    assert r.status_code == 204, r.text


# -------------------------------------------------------------------------------------- certificates


@dataclass
class SelfSigned:
    cert: Path
    key: Path
    pem: str


def self_signed(directory: Path, host: str = "localhost", *, ip: bool = True) -> SelfSigned:
    """A self-signed certificate for `host` (and 127.0.0.1 with `ip`): its own CA, so trusting it trusts
    the server."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(host)] + ([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))] if ip else [])),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    cert_path, key_path = directory / f"{host}.crt", directory / f"{host}.key"
    cert_path.write_text(pem)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return SelfSigned(cert_path, key_path, pem)


@pytest.fixture
def cert(tmp_path: Path) -> SelfSigned:
    return self_signed(tmp_path)


# ------------------------------------------------------------------------------------------ syslog


class TcpSink:
    """A syslog receiver: records every byte of every connection."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.connections = 0
        self._writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self, tls: ssl.SSLContext | None = None, port: int = 0) -> TcpSink:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            self._writers.append(writer)
            try:
                while chunk := await reader.read(65536):
                    self.data.extend(chunk)
            except (ConnectionError, ssl.SSLError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(handle, "127.0.0.1", port, ssl=tls)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def frames(self) -> list[bytes]:
        return SyslogDeframer(max_frame=1 << 20).feed(bytes(self.data))

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            for writer in self._writers:
                writer.close()
            await self.server.wait_closed()


@pytest.fixture
async def tcp_sink() -> AsyncIterator[TcpSink]:
    sink = await TcpSink().start()
    yield sink
    await sink.close()


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A port that accepts connections (the kernel completes them) and never reads a byte."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield s.getsockname()[1]


@pytest.fixture
def refusing() -> Iterator[int]:
    """A port bound but not listening: every connection is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


class UdpSink(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.datagrams: list[bytes] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.datagrams.append(data)


@pytest.fixture
async def udp_sink() -> AsyncIterator[tuple[UdpSink, int]]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(UdpSink, local_addr=("127.0.0.1", 0))
    yield proto, transport.get_extra_info("sockname")[1]
    transport.close()


# -------------------------------------------------------------------------------------------- HTTPS


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpReceiver:
    """Records every request; answers with the statuses queued in `answers` (then 200)."""

    requests: list[Received] = field(default_factory=list)
    answers: list[int | tuple[int, dict[str, str]]] = field(default_factory=list)
    body: bytes = b"ok"  # the body of every answer
    port: int = 0
    server: uvicorn.Server | None = None
    task: asyncio.Task[None] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"] + (("?" + scope["query_string"].decode()) if scope["query_string"] else "")
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append(Received(scope["method"], path, headers, body))
        answer = self.answers.pop(0) if self.answers else 200
        status, extra = answer if isinstance(answer, tuple) else (answer, {})
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in extra.items()]})
        await send({"type": "http.response.body", "body": self.body})

    async def start(self, cert: SelfSigned | None) -> HttpReceiver:
        config = uvicorn.Config(self, host="127.0.0.1", port=0, lifespan="off", log_level="warning",
                                timeout_graceful_shutdown=1,
                                ssl_certfile=str(cert.cert) if cert else None,
                                ssl_keyfile=str(cert.key) if cert else None)
        self.server = uvicorn.Server(config)
        self.task = asyncio.create_task(self.server.serve())
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the receiver did not start"
            await asyncio.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self.server is not None and self.task is not None:
            self.server.should_exit = True
            await asyncio.wait_for(self.task, 10)


@pytest.fixture
async def https_receiver(cert: SelfSigned) -> AsyncIterator[HttpReceiver]:
    receiver = await HttpReceiver().start(cert)
    yield receiver
    await receiver.close()


@pytest.fixture
async def http_receiver() -> AsyncIterator[HttpReceiver]:
    receiver = await HttpReceiver().start(None)
    yield receiver
    await receiver.close()
