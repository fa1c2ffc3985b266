"""Delivery over syslog TCP, TLS and UDP to real receivers on loopback: exact bytes, reconnects with
backoff, the bounded buffer and its L10 notice, site drains, and drains that outlive their server."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import time
from pathlib import Path

import pytest

from tests.conftest import StartVigil, Vigil
from tests.drains.conftest import (
    FAST,
    SelfSigned,
    TcpSink,
    UdpSink,
    add_drain,
    eventually,
    post_lines,
    self_signed,
)
from vigil.logs.timefmt import format_seconds_offset

T = 1_700_000_000  # 2023-11-14T22:13:20Z


def unframed(token: str, text: str) -> bytes:
    """`text` is a frame without its HOSTNAME; the token goes there."""
    pri, ts, rest = text.split(" ", 2)
    return f"{pri} {ts} {token} {rest}".encode()


def frame(token: str, text: str) -> bytes:
    body = unframed(token, text)
    return b"%d %b" % (len(body), body)


def msg(frame: bytes) -> bytes:
    """MSG of an RFC 5424 frame: after PRI/VERSION, TIMESTAMP, HOSTNAME, APP-NAME, PROCID, MSGID, SD."""
    return frame.split(b" ", 7)[7]


async def test_syslog_tcp_exact_bytes(fast_vigil: Vigil, tcp_sink: TcpSink) -> None:
    drain = await add_drain(fast_vigil.client, f"syslog://127.0.0.1:{tcp_sink.port}")
    token = drain["token"]
    await post_lines(fast_vigil.client, [
        {"app": "web", "message": "GET / 200", "instance": "web.1", "time": T + 0.25},
        {"app": "api", "message": "not for this drain", "time": T},
        {"app": "web", "message": "boom", "stream": "stderr", "source": "worker", "instance": "worker.3",
         "time": T + 1},
        {"app": "web", "message": "héllo ✓", "source": "akkeris/router", "time": T + 2.000001},
    ])
    expected = (frame(token, "<14>1 2023-11-14T22:13:20.25+00:00 app web.1 - - GET / 200\n")
                + frame(token, "<11>1 2023-11-14T22:13:21+00:00 worker worker.3 - - boom\n")
                + frame(token, "<14>1 2023-11-14T22:13:22.000001+00:00 akkeris/router - - - héllo ✓\n"))
    await eventually(lambda: len(tcp_sink.data) >= len(expected))
    await asyncio.sleep(0.1)
    assert bytes(tcp_sink.data) == expected
    # By hand: "<14>1 " 6 + time 28 + SP + token 38 + " app web.1 - - " 15 + "GET / 200" 9 + LF = 98.
    assert expected.startswith(b"98 <14>1 ")
    worker = fast_vigil.services.drains.workers[drain["id"]]
    assert await fast_vigil.services.drains.refresh()
    assert (worker.stats.delivered, worker.dropped, worker.stats.failed) == (3, 0, 0)
    assert tcp_sink.connections == 1


async def test_reconnects_with_backoff_and_keeps_what_it_buffered(fast_vigil: Vigil) -> None:
    # Reserve a port that refuses, then open a receiver on it later.
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    drain = await add_drain(fast_vigil.client, f"syslog://127.0.0.1:{port}")
    worker = fast_vigil.services.drains.workers[drain["id"]]
    await post_lines(fast_vigil.client, [{"app": "web", "message": f"line {i}", "time": T + i} for i in range(5)])
    await eventually(lambda: worker.stats.connect_failures >= 3)
    assert await fast_vigil.services.drains.refresh()
    assert worker.stats.delivered == 0 and worker.pending == 5 and not worker.stats.connected
    holder.close()
    sink = await TcpSink().start(port=port)
    try:
        await eventually(lambda: len(sink.frames()) == 5)
        assert [msg(f) for f in sink.frames()] == [f"line {i}\n".encode() for i in range(5)]
        await eventually(lambda: worker.stats.delivered == 5)
        assert worker.stats.connected and worker.backoff_attempts == 0
        # The receiver goes away and comes back: lines sent meanwhile arrive on a new connection.
        await sink.close()
        await eventually(lambda: not worker.connection_open)  # (a line written before the FIN arrives is lost)
        await post_lines(fast_vigil.client, [{"app": "web", "message": "after", "time": T + 9}])
        sink = await TcpSink().start(port=port)
        await eventually(lambda: sink.frames())
        assert msg(sink.frames()[0]) == b"after\n"
        assert worker.stats.failed == 0
    finally:
        await sink.close()


async def test_full_buffer_drops_oldest_and_says_so_in_the_apps_log(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(**{**FAST, "drain_buffer_lines": 10, "drain_notice_interval": 30.0})
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    drain = await add_drain(vigil.client, f"syslog://127.0.0.1:{port}")
    worker = vigil.services.drains.workers[drain["id"]]
    before = format_seconds_offset(time.time_ns() // 1000)
    await post_lines(vigil.client, [{"app": "web", "message": f"line {i}", "time": T + i} for i in range(25)])
    assert await vigil.services.drains.refresh()
    assert worker.dropped == 15 and worker.pending == 10
    ring = vigil.services.logs.ring
    notice = await eventually(lambda: [x for x in ring.last("web", 5) if x.source == "heroku"])
    assert len(notice) == 1 and (notice[0].instance, notice[0].stream) == ("logplex", "stdout")
    m = re.fullmatch(r"Error L10 \(output buffer overflow\): 15 messages dropped since "
                     r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00)\.", notice[0].message)
    assert m and m.group(1) >= before
    assert await vigil.services.drains.refresh()  # (the notice went back to the drain first)
    assert worker.stats.notices == 1
    # The notice is a line of the app: the full buffer makes room for it too (line 15 goes).
    assert worker.dropped == 16 and worker.pending == 10
    metrics = (await vigil.client.get("/metrics")).text
    assert f'vigil_log_drain_lines_total{{drain="{drain["id"]}",outcome="dropped"}} 16.0' in metrics
    assert f'vigil_log_drain_notices_total{{drain="{drain["id"]}"}} 1.0' in metrics
    assert f'vigil_log_drain_buffered_lines{{drain="{drain["id"]}"}} 10.0' in metrics
    # When the receiver comes, it gets the newest lines and the notice after the gap.
    holder.close()
    sink = await TcpSink().start(port=port)
    try:
        await eventually(lambda: len(sink.frames()) == 10)
        messages = [msg(f) for f in sink.frames()]
        assert messages[:9] == [f"line {i}\n".encode() for i in range(16, 25)]
        assert messages[9].startswith(b"Error L10 (output buffer overflow): 15 messages dropped since ")
        assert sink.frames()[9].split(b" ")[3:5] == [b"heroku", b"logplex"]
    finally:
        await sink.close()


async def test_the_buffer_is_bounded_in_bytes_too(start_vigil: StartVigil, refusing: int) -> None:
    # A line weighs its message plus 256 bytes: 1,256 here, so 3,000 bytes hold two of them.
    vigil = await start_vigil(**{**FAST, "drain_buffer_bytes": 3_000, "drain_notice_interval": 30.0})
    drain = await add_drain(vigil.client, f"syslog://127.0.0.1:{refusing}")
    worker = vigil.services.drains.workers[drain["id"]]
    await post_lines(vigil.client, [{"app": "web", "message": f"{i}" * 1000, "time": T} for i in range(5)])
    assert await vigil.services.drains.refresh()
    assert (worker.pending, worker.dropped) == (2, 3)  # which two: tests/drains/test_drain_buffer.py


async def test_a_site_drain_follows_the_sites_members(fast_vigil: Vigil, tcp_sink: TcpSink) -> None:
    client = fast_vigil.client
    assert (await client.put("/sites/www.example.com", json={"apps": ["web", "api"]})).status_code == 200
    drain = await add_drain(client, f"syslog://127.0.0.1:{tcp_sink.port}", owner="/sites/www.example.com")
    await post_lines(client, [{"app": a, "message": f"1 {a}", "time": T} for a in ("web", "api", "other")])
    await eventually(lambda: len(tcp_sink.frames()) == 2)
    assert sorted(msg(f) for f in tcp_sink.frames()) == [b"1 api\n", b"1 web\n"]
    assert (await client.put("/sites/www.example.com", json={"apps": ["web", "worker"]})).status_code == 200
    worker = fast_vigil.services.drains.workers[drain["id"]]
    await eventually(lambda: worker.apps == ["web", "worker"])
    await post_lines(client, [{"app": a, "message": f"2 {a}", "time": T} for a in ("web", "api", "worker")])
    await eventually(lambda: len(tcp_sink.frames()) == 4)
    await asyncio.sleep(0.1)
    assert sorted(msg(f) for f in tcp_sink.frames()[2:]) == [b"2 web\n", b"2 worker\n"]


async def test_syslog_udp(start_vigil: StartVigil, udp_sink: tuple[UdpSink, int]) -> None:
    vigil = await start_vigil(**{**FAST, "drain_udp_max_bytes": 600})
    sink, port = udp_sink
    drain = await add_drain(vigil.client, f"syslog+udp://127.0.0.1:{port}")
    token = drain["token"]
    await post_lines(vigil.client, [{"app": "web", "message": "one", "instance": "web.1", "time": T},
                                    {"app": "web", "message": "x" * 1000, "time": T}])
    await eventually(lambda: len(sink.datagrams) == 2)
    assert sink.datagrams[0] == f"<14>1 2023-11-14T22:13:20+00:00 {token} app web.1 - - one\n".encode()
    head = f"<14>1 2023-11-14T22:13:20+00:00 {token} app - - - ".encode()
    assert sink.datagrams[1] == head + b"x" * (599 - len(head)) + b"\n" and len(sink.datagrams[1]) == 600


def _tls_server(cert: SelfSigned) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert.cert, cert.key)
    return ctx


async def test_syslog_tls_trusting_the_receivers_certificate(fast_vigil: Vigil, cert: SelfSigned) -> None:
    sink = await TcpSink().start(tls=_tls_server(cert))
    try:
        drain = await add_drain(fast_vigil.client, f"syslog+tls://localhost:{sink.port}", tls_ca=cert.pem)
        await post_lines(fast_vigil.client, [{"app": "web", "message": "secret stuff", "time": T}])
        expected = frame(drain["token"], "<14>1 2023-11-14T22:13:20+00:00 app - - - secret stuff\n")
        await eventually(lambda: bytes(sink.data) == expected)
    finally:
        await sink.close()


async def test_syslog_tls_verifies_unless_told_not_to(fast_vigil: Vigil, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    untrusted = self_signed(tmp_path / "a", "localhost")
    other = self_signed(tmp_path / "b", "other.example", ip=False)  # trusted below, but names another host
    sink = await TcpSink().start(tls=_tls_server(untrusted))
    other_sink = await TcpSink().start(tls=_tls_server(other))
    try:
        client = fast_vigil.client
        plain = await add_drain(client, f"syslog+tls://localhost:{sink.port}", owner="/apps/a")
        wrong_name = await add_drain(client, f"syslog+tls://localhost:{other_sink.port}", owner="/apps/b",
                                     tls_ca=other.pem)
        skip = await add_drain(client, f"syslog+tls://localhost:{sink.port}", owner="/apps/c", tls_skip_verify=True)
        workers = fast_vigil.services.drains.workers
        await post_lines(client, [{"app": a, "message": "m", "time": T} for a in ("a", "b", "c")])
        await eventually(lambda: workers[skip["id"]].stats.delivered == 1)
        await eventually(lambda: workers[plain["id"]].stats.connect_failures >= 2
                         and workers[wrong_name["id"]].stats.connect_failures >= 2)
        assert workers[plain["id"]].stats.delivered == 0 and workers[wrong_name["id"]].stats.delivered == 0
        assert sink.frames() == [unframed(skip["token"], "<14>1 2023-11-14T22:13:20+00:00 app - - - m\n")]
        assert other_sink.frames() == []
    finally:
        await sink.close()
        await other_sink.close()


async def test_drains_are_stored_and_pick_up_after_a_restart(start_vigil: StartVigil, tmp_path: Path,
                                                              tcp_sink: TcpSink) -> None:
    data = tmp_path / "shared"
    first = await start_vigil(**FAST, data_dir=data)
    drain = await add_drain(first.client, f"syslog://127.0.0.1:{tcp_sink.port}")
    await post_lines(first.client, [{"app": "web", "message": "before", "time": T}])
    await eventually(lambda: len(tcp_sink.frames()) == 1)
    await first.services.drains.close()  # the first server stops delivering …
    second = await start_vigil(**FAST, data_dir=data)  # … and a new one starts on the same data
    assert list(second.services.drains.workers) == [drain["id"]]
    assert (await second.client.get("/apps/web/log-drains")).json() == [drain]
    await post_lines(second.client, [{"app": "web", "message": "after", "time": T + 1}])
    await eventually(lambda: len(tcp_sink.frames()) == 2)
    assert tcp_sink.frames()[1] == unframed(drain["token"], "<14>1 2023-11-14T22:13:21+00:00 app - - - after\n")


async def test_at_shutdown_a_connected_drain_delivers_what_it_holds(start_vigil: StartVigil,
                                                                    tcp_sink: TcpSink) -> None:
    vigil = await start_vigil(**{**FAST, "drain_linger": 30.0})  # lines wait in the drain …
    await add_drain(vigil.client, f"syslog://127.0.0.1:{tcp_sink.port}")
    await post_lines(vigil.client, [{"app": "web", "message": "first", "time": T}])
    await eventually(lambda: len(tcp_sink.frames()) == 1)  # (an idle drain writes at once)
    await post_lines(vigil.client, [{"app": "web", "message": f"held {i}", "time": T} for i in range(3)])
    await asyncio.sleep(0.1)
    assert len(tcp_sink.frames()) == 1
    await vigil.services.drains.close()  # … until the server stops
    assert [msg(f) for f in tcp_sink.frames()] == [b"first\n", b"held 0\n", b"held 1\n", b"held 2\n"]


@pytest.mark.parametrize("gone", ["deleted", "closed"])
async def test_a_stopped_drain_holds_nothing(fast_vigil: Vigil, blackhole: int, gone: str) -> None:
    drain = await add_drain(fast_vigil.client, f"syslog://127.0.0.1:{blackhole}")
    worker = fast_vigil.services.drains.workers[drain["id"]]
    await post_lines(fast_vigil.client, [{"app": "web", "message": "m" * 100, "time": T}] * 50)
    manager = fast_vigil.services.drains
    assert await manager.refresh()
    assert worker.running and worker.pending + worker.taken == 50
    if gone == "deleted":
        assert (await fast_vigil.client.delete(f"/apps/web/log-drains/{drain['id']}")).status_code == 204
        assert await manager.refresh()
        assert drain["id"] not in manager.reported  # its worker and buffer are gone from the process
        assert "web" not in manager.process.apps  # and its app's lines are no longer sent there
    else:
        await manager.close()
        assert manager.process.proc is not None and manager.process.proc.returncode == 0
    assert not worker.running
    assert not fast_vigil.services.logs.broker.has_subscribers("logs:web")
