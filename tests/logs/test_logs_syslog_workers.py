"""The syslog worker processes: report size, the report channel's bound, restarts and clean exits."""

from __future__ import annotations

import asyncio
import os
import signal

from tests.conftest import StartVigil, Vigil
from tests.logs.conftest import eventually
from vigil.ingest.syslog import SyslogListener
from vigil.logs.columns import ColumnLines
from vigil.logs.framing import octet_frame, octet_frames
from vigil.logs.syslog_wire import Report


def listener(vigil: Vigil) -> SyslogListener:
    syslog = vigil.services.log_listeners.syslog
    assert syslog is not None and syslog.pool is not None
    return syslog


def frames(app: str, count: int, start: int = 0) -> bytes:
    return octet_frames(f"<14>1 - {app} app web.1 - - line {i}".encode() for i in range(start, start + count))


async def connect_and_send(port: int, data: bytes) -> asyncio.StreamWriter:
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    return writer


async def test_a_report_holds_at_most_batch_lines(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(listeners="ephemeral", log_syslog_workers=1, log_syslog_batch_lines=100)
    syslog = listener(vigil)
    sizes: list[int] = []
    on_report = syslog._on_report

    def spy(report: Report) -> None:
        sizes.append(sum(report.groups.values()))
        on_report(report)

    syslog.pool.on_report = spy  # type: ignore[union-attr]
    writer = await connect_and_send(syslog.port, frames("batch", 1_050))
    ring = vigil.services.logs.ring
    await eventually(lambda: ring.count("batch") == 1_000)  # the ring's own limit
    await eventually(lambda: sum(sizes) == 1_050)
    assert max(sizes) == 100 and len(sizes) >= 11
    assert [x.message for x in ring.last("batch", 2)] == ["line 1048", "line 1049"]
    writer.close()


async def test_a_report_holds_at_most_report_bytes_of_frames(start_vigil: StartVigil) -> None:
    from vigil.logs.syslog_child import REPORT_BYTES

    vigil = await start_vigil(listeners="ephemeral", log_syslog_workers=1)
    syslog = listener(vigil)
    sizes: list[int] = []
    on_report = syslog._on_report

    def spy(report: Report) -> None:
        sizes.append(sum(map(sum, report.lengths.values())))
        on_report(report)

    syslog.pool.on_report = spy  # type: ignore[union-attr]
    big = "x" * 60_000
    total = 200  # 12 MB of messages, far fewer lines than batch_lines
    writer = await connect_and_send(syslog.port, octet_frames(
        f"<14>1 - wide app web.1 - - {i:03d}{big}".encode() for i in range(total)))
    # 24 MB of reports in a blink can outrun the server: what the channel's bound drops is counted.
    await eventually(lambda: syslog.lines + syslog.dropped == total, within=30)
    # A report stops at the frame that reaches the limit: at most the limit plus one frame.
    assert len(sizes) >= 3 and max(sizes) <= REPORT_BYTES + 60_003
    writer.close()


async def test_a_full_report_channel_drops_and_counts(start_vigil: StartVigil) -> None:
    # The server stops reading one worker's reports: the socket fills, then the worker's own queue
    # up to its 64 KiB bound; what does not fit is dropped and counted, never waited for.
    vigil = await start_vigil(listeners="ephemeral", log_syslog_workers=1, log_syslog_worker_bytes=64 * 1024,
                              log_syslog_batch_lines=500)
    syslog = listener(vigil)
    worker = syslog.pool.workers[0]  # type: ignore[union-attr]
    assert worker.transport is not None
    worker.transport.pause_reading()  # type: ignore[attr-defined]
    total = 60_000  # ~16 MB of reports: more than the socket buffer and the bound together
    writer = await connect_and_send(syslog.port, frames("full", total))
    await asyncio.sleep(1.0)
    worker.transport.resume_reading()  # type: ignore[attr-defined]
    await eventually(lambda: syslog.lines + syslog.dropped == total, within=30)
    assert syslog.dropped > 0 and syslog.lines < total
    assert syslog.stats()["dropped"] == syslog.dropped
    assert vigil.services.logs.pipeline.accepted == syslog.lines
    # Lines after the gap arrive as usual.
    writer.write(octet_frame(b"<14>1 - full app web.1 - - after the gap"))
    await writer.drain()
    ring = vigil.services.logs.ring
    await eventually(lambda: ring.last("full", 1) and ring.last("full", 1)[0].message == "after the gap")
    writer.close()


async def test_a_worker_that_dies_is_started_again(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(listeners="ephemeral", log_syslog_workers=1)
    syslog = listener(vigil)
    pool = syslog.pool
    assert pool is not None
    writer = await connect_and_send(syslog.port, frames("crash", 3))
    await eventually(lambda: vigil.services.logs.ring.count("crash") == 3)
    assert syslog.stats()["connections"] == 1
    first = pool.pids[0]
    os.kill(first, signal.SIGKILL)
    await eventually(lambda: pool.restarts == 1 and pool.pids and pool.pids[0] != first)
    assert syslog.stats()["connections"] == 0  # its connection went with it
    writer.close()
    again = await connect_and_send(syslog.port, frames("crash", 2, start=3))
    await eventually(lambda: vigil.services.logs.ring.count("crash") == 5)
    again.close()


async def test_sigterm_ends_a_worker_cleanly_with_its_last_lines(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(listeners="ephemeral", log_syslog_workers=1)
    syslog = listener(vigil)
    pool = syslog.pool
    assert pool is not None
    worker = pool.workers[0]
    proc = worker.proc
    assert proc is not None
    # Newline framing: the last line has no LF yet, so only closing the connection delivers it.
    _, writer = await asyncio.open_connection("127.0.0.1", syslog.port)
    writer.write(b"<14>1 - term app web.1 - - complete\n<14>1 - term app web.1 - - unterminated")
    await writer.drain()
    await eventually(lambda: vigil.services.logs.ring.count("term") == 1)
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 10) == 0
    await eventually(lambda: vigil.services.logs.ring.count("term") == 2)
    assert [x.message for x in vigil.services.logs.ring.last("term", 2)] == ["complete", "unterminated"]
    await eventually(lambda: pool.restarts == 1 and len(pool.pids) == 1)  # and it is back
    writer.close()


async def test_workers_exit_0_when_the_server_closes(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(listeners="ephemeral", log_syslog_workers=2)
    syslog = listener(vigil)
    pool = syslog.pool
    assert pool is not None
    writer = await connect_and_send(syslog.port, frames("bye", 10))
    await eventually(lambda: vigil.services.logs.ring.count("bye") == 10)
    procs = [w.proc for w in pool.workers]
    await vigil.services.log_listeners.close()
    assert [p.returncode for p in procs if p is not None] == [0, 0]
    assert pool.pids == [] and pool.restarts == 0
    writer.close()


async def test_a_worker_leaves_when_the_server_goes_away(start_vigil: StartVigil) -> None:
    # As if the server were killed: its ends of both sockets close without a word.
    vigil = await start_vigil(listeners="ephemeral", log_syslog_workers=1)
    pool = listener(vigil).pool
    assert pool is not None
    worker = pool.workers[0]
    proc = worker.proc
    assert proc is not None and worker.ctrl is not None and worker.transport is not None
    pool.closing = True  # no restart: this test plays the dead server
    worker.ctrl.close()
    worker.ctrl = None
    worker.transport.close()
    assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_a_failed_tls_handshake_is_counted_and_ends_only_that_connection(start_vigil: StartVigil,
                                                                               tmp_path) -> None:  # type: ignore[no-untyped-def]
    import ssl

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(cert_file)
    cert.private_key_pem.write_to_path(key_file)
    vigil = await start_vigil(listeners="ephemeral", log_syslog_workers=1, syslog_tls_cert=str(cert_file),
                              syslog_tls_key=str(key_file))
    syslog = listener(vigil)
    reader, plain = await asyncio.open_connection("127.0.0.1", syslog.port)
    plain.write(frames("plain", 1))  # not a TLS ClientHello
    await plain.drain()
    assert await asyncio.wait_for(reader.read(), 10) == b""
    await eventually(lambda: syslog.stats()["tls_failures"] == 1 and syslog.stats()["connections"] == 0)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    _, good = await asyncio.open_connection("127.0.0.1", syslog.port, ssl=client, server_hostname="localhost")
    good.write(frames("secure", 2))
    await good.drain()
    await eventually(lambda: vigil.services.logs.ring.count("secure") == 2)
    assert vigil.services.logs.ring.count("plain") == 0
    good.close()


async def test_kept_report_slices_stop_pinning_their_reports(start_vigil: StartVigil) -> None:
    # The ring keeps a quiet app's lines as slices of the worker's report at first; about
    # COMPACT_AFTER later the log service's settler gives them columns of their own.
    vigil = await start_vigil(listeners="ephemeral", log_syslog_workers=1)
    syslog = listener(vigil)
    writer = await connect_and_send(syslog.port, frames("quiet", 20) + frames("other", 5))
    ring = vigil.services.logs.ring
    await eventually(lambda: ring.count("quiet") == 20 and ring.count("other") == 5)
    assert any(isinstance(c, ColumnLines) and c.origin is not None for c in ring._rings["quiet"].chunks)
    await eventually(lambda: ring.compacted >= 2, within=5)
    chunks = list(ring._rings["quiet"].chunks)
    assert all(isinstance(c, ColumnLines) and c.origin is None for c in chunks)
    assert [x.message for x in ring.last("quiet", 2)] == ["line 18", "line 19"]
    text = (await vigil.client.get("/metrics")).text
    assert f"vigil_log_recent_compacted_total {float(ring.compacted)}" in text
    assert "vigil_log_columns_unsettled " in text
    writer.close()
