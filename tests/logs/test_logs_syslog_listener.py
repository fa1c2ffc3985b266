"""The syslog TCP listener: both framings, the field mapping, malformed frames, TLS and its bounds."""

from __future__ import annotations

import asyncio
import ssl

import pytest
import trustme

from tests.conftest import StartVigil, Vigil
from tests.logs.conftest import eventually
from vigil.ingest.syslog import SyslogListener
from vigil.logs.framing import octet_frame
from vigil.logs.model import STDERR, STDOUT


@pytest.fixture(params=[0, 2], ids=["in-loop", "workers"])
def workers(request: pytest.FixtureRequest) -> int:
    """Every test runs twice: parsing on the event loop, and in two worker processes."""
    return int(request.param)


@pytest.fixture
def start_listening(start_vigil: StartVigil, workers: int) -> StartVigil:
    async def start(**overrides: object) -> Vigil:
        return await start_vigil(listeners="ephemeral", log_syslog_workers=workers, **overrides)
    return start  # type: ignore[return-value]


@pytest.fixture
async def vigil(start_listening: StartVigil) -> Vigil:
    return await start_listening()


def listener(vigil: Vigil) -> SyslogListener:
    syslog = vigil.services.log_listeners.syslog
    assert syslog is not None and syslog.port > 0
    return syslog


async def send(port: int, data: bytes, *, ssl_context: ssl.SSLContext | None = None) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ssl_context,
                                              server_hostname="localhost" if ssl_context else None)
    writer.write(data)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def test_octet_counted_rfc5424_frames_map_onto_log_lines(vigil: Vigil) -> None:
    frames = [b"<14>1 2023-11-14T22:13:20.5Z shop app web.1 - - hello",
              b"<11>1 2023-11-14T22:13:21Z shop router web.2 - [meta x=\"1\"] failed\n",
              b"<190>1 - shop app web.1 - - local7.info"]
    await send(listener(vigil).port, b"".join(octet_frame(f) for f in frames))
    ring = vigil.services.logs.ring
    await eventually(lambda: ring.count("shop") == 3)
    lines = ring.last("shop", 3)
    assert [(x.source, x.instance, x.stream, x.message) for x in lines] == [
        ("app", "web.1", STDOUT, "hello"), ("router", "web.2", STDERR, "failed"),
        ("app", "web.1", STDOUT, "local7.info")]
    assert lines[0].timestamp == 1_700_000_000_500_000 and lines[0].host == "127.0.0.1"


async def test_newline_framing_and_bsd_syslog(vigil: Vigil) -> None:
    data = (b"<13>1 2023-11-14T22:13:20Z nl app web.1 - - first\n"
            b"<11>Nov 14 22:13:21 nl worker[42]: second\r\n"
            b"<14>1 2023-11-14T22:13:22Z nl app web.1 - - unterminated")
    await send(listener(vigil).port, data)
    ring = vigil.services.logs.ring
    await eventually(lambda: ring.count("nl") == 3)
    assert [(x.source, x.instance, x.stream, x.message) for x in ring.last("nl", 3)] == [
        ("app", "web.1", STDOUT, "first"), ("worker", "42", STDERR, "second"), ("app", "web.1", STDOUT, "unterminated")]


async def test_malformed_frames_are_counted_and_the_connection_goes_on(vigil: Vigil) -> None:
    syslog = listener(vigil)
    _, writer = await asyncio.open_connection("127.0.0.1", syslog.port)
    writer.write(octet_frame(b"<14>1 2023-11-14T22:13:20Z mal app - - - before"))
    writer.write(octet_frame(b"<999>1 not syslog at all"))  # a well-framed but unparseable frame
    writer.write(b"xx garbage ")  # a broken octet count
    writer.write(octet_frame(b"<14>1 2023-11-14T22:13:21Z mal app - - - after"))
    await writer.drain()
    ring = vigil.services.logs.ring
    await eventually(lambda: ring.count("mal") == 2)
    assert [x.message for x in ring.last("mal", 2)] == ["before", "after"]
    assert syslog.stats()["malformed"] == 2
    writer.close()
    await writer.wait_closed()


async def test_oversized_frames_are_skipped(start_listening: StartVigil) -> None:
    vigil = await start_listening(log_max_line_bytes=100)
    syslog = listener(vigil)
    big = b"<14>1 - over app - - - " + b"x" * 200
    await send(syslog.port, octet_frame(big) + octet_frame(b"<14>1 - over app - - - small"))
    ring = vigil.services.logs.ring
    await eventually(lambda: ring.count("over") == 1)
    assert ring.last("over", 1)[0].message == "small"
    await eventually(lambda: syslog.stats()["oversized"] == 1)


async def test_connections_beyond_the_limit_are_closed(start_listening: StartVigil) -> None:
    vigil = await start_listening(log_max_connections=1)
    syslog = listener(vigil)
    _, first = await asyncio.open_connection("127.0.0.1", syslog.port)
    await eventually(lambda: len(syslog.connections) == 1)
    reader, second = await asyncio.open_connection("127.0.0.1", syslog.port)
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
    assert syslog.refused == 1
    first.write(octet_frame(b"<14>1 - limit app - - - still served"))
    await first.drain()
    await eventually(lambda: vigil.services.logs.ring.count("limit") == 1)
    first.close()
    second.close()


async def test_tls(start_listening: StartVigil, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(cert_file)
    cert.private_key_pem.write_to_path(key_file)
    vigil = await start_listening(syslog_tls_cert=str(cert_file), syslog_tls_key=str(key_file))
    syslog = listener(vigil)
    assert syslog.tls
    client = ssl.create_default_context()
    ca.configure_trust(client)
    await send(syslog.port, octet_frame(b"<14>1 - tls app web.1 - - encrypted"), ssl_context=client)
    await eventually(lambda: vigil.services.logs.ring.count("tls") == 1)
    assert vigil.services.logs.ring.last("tls", 1)[0].message == "encrypted"


async def test_no_listeners_unless_asked(vigil: Vigil, start_vigil: StartVigil) -> None:
    plain = await start_vigil()
    assert plain.services.log_listeners.syslog is None and plain.services.log_listeners.grpc is None
    off = await start_vigil(listeners="on", syslog_port=0, grpc_port=0)
    assert off.services.log_listeners.syslog is None and off.services.log_listeners.grpc is None
