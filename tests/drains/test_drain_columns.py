"""Lines handed to the delivery process as Arrow columns: the server's message (columns as they are,
lists made into columns), the frames made from columns byte for byte as from lines, chunks that keep
nothing of the message's table, and the real delivery process fed both kinds of groups."""

from __future__ import annotations

import asyncio
import gc
import random
import uuid
from itertools import pairwise
from typing import Any

import msgspec
import pyarrow as pa
import pytest

from tests.conftest import StartVigil
from tests.drains.conftest import FAST, TcpSink, add_drain, eventually
from vigil.config import Settings
from vigil.drains import column_frames
from vigil.drains.buffer import LineHub
from vigil.drains.channel import DrainSpec, Encoder, Lines, ToProcess, lines_message
from vigil.drains.child import Delivery, _Input
from vigil.drains.column_frames import SMALL_TABLE, table_frames
from vigil.drains.frames import SyslogFramer, placeholder_frames
from vigil.drains.process import DeliveryProcess
from vigil.logs.columns import SCHEMA, ColumnLines, from_ipc, lines_columns, table_lines
from vigil.logs.framing import octet_frame, octet_frames
from vigil.logs.model import LogLine
from vigil.logs.ring import LINE_OVERHEAD
from vigil.logs.syslog import format_rfc5424, parse_syslog

TOKEN = "d.0b9b3c1e-8f2c-4d4e-9a0e-123456789abc"
T = 1_700_000_000_123_456  # 2023-11-14T22:13:20.123456Z

SOURCES = ["app", "", "heroku router", "APP/PROC/WEB", "x" * 60, "bad\u00e9src", " \t ", "ü", "rou\x01ter", "a b"]
INSTANCES = ["web.1", "", "y" * 200, "in st", "0", "\u2603", "web.2", "[web.3]"]
MESSAGES = ["", "GET / 200", "héllo ✓ 日本語", "nul\x00inside", "\x00", "ends with LF\n", "two\nlines", "\n",
            "trailing LF then NUL\n\x00", "🎉" * 3, "x" * 12_000, "é" * 5_000, "\ttab", "\r\n", "a\x00\x00\nb\n"]
ODD_TIMES = [0, 1, -1, -1_500_000, 999_999, 1_000_000, 253_402_300_799_999_999, 253_402_300_800_000_000,
             -62_135_596_800_000_000, T - T % 1_000_000, T - T % 1_000, T + 5_000, T + 100_100]


def random_line(rng: random.Random, app: str = "web", *, near: int = T) -> LogLine:
    kind = rng.random()
    if kind < 0.15:
        timestamp = rng.choice(ODD_TIMES)
    elif kind < 0.3:
        timestamp = rng.randrange(-10**15, 10**17)
    else:  # mostly close together, as lines come
        timestamp = near + rng.choice([0, 1, 10, 120_000, 999_999, rng.randrange(3_000_000)])
    if rng.random() < 0.6:
        message = rng.choice(MESSAGES)
    else:
        alphabet = "abc xyz 019-_/\\\"'[]=é✓日🎉\x00\n\t"
        message = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 300)))
    return LogLine(app, rng.choice(SOURCES), rng.choice(INSTANCES), rng.choice(["stdout", "stderr"]), timestamp,
                   rng.choice(["", "10.0.0.1", "host-ü"]), message)


def reference(lines: list[LogLine], token: str = TOKEN) -> list[bytes]:
    """What a syslog drain writes for each line, by the RFC 5424 formatter itself."""
    return [octet_frame(format_rfc5424(line, hostname=token)) for line in lines]


def written(made: Any, token: str = TOKEN) -> list[bytes]:
    """Each row's frame, cut at `made.starts`, with the drain's token put in."""
    framer = SyslogFramer(token)
    return [framer.insert_host(made.data[a:b]) for a, b in pairwise(made.starts.tolist())]


# ------------------------------------------------------------------------------------ column frames


@pytest.mark.parametrize("seed", range(6))
def test_frames_from_columns_are_byte_for_byte_the_frames_of_the_lines(seed: int) -> None:
    rng = random.Random(seed)
    lines = [random_line(rng) for _ in range(rng.choice([1, 7, 300, 2_000]))]
    made = table_frames(lines_columns(lines), len(TOKEN))
    assert made.data == placeholder_frames(lines, len(TOKEN)).data
    assert written(made) == reference(lines)


def test_frames_from_a_sliced_and_chunked_table_and_for_other_hostname_lengths() -> None:
    rng = random.Random(11)
    lines = [random_line(rng) for _ in range(900)]
    table = pa.concat_tables([lines_columns(lines[:400]), lines_columns(lines[400:])]).slice(150, 600)
    for token in (TOKEN, "d.short", "d." + "f" * 200):
        made = table_frames(table, len(token))
        assert written(made, token) == reference(lines[150:750], token)


def test_a_table_beyond_one_take_is_framed_in_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """One `take` result holds at most 2 GiB; a bigger table is framed in halves (here the limit is made
    small so that 300 lines take several parts)."""
    monkeypatch.setattr(column_frames, "PART_BYTES", 20_000)
    rng = random.Random(3)
    lines = [random_line(rng) for _ in range(300)]
    made = table_frames(lines_columns(lines), len(TOKEN))
    assert made.data == placeholder_frames(lines, len(TOKEN)).data
    assert written(made) == reference(lines)


def test_no_rows_no_frames() -> None:
    made = table_frames(lines_columns([]), len(TOKEN))
    assert (made.data, list(made.starts)) == (b"", [0])


# ------------------------------------------------------------------------------------ the server side


def test_a_turns_message_holds_columns_as_they_are_and_lists_made_into_columns() -> None:
    rng = random.Random(5)
    syslog = sorted((random_line(rng, rng.choice(["web", "api"])) for _ in range(50)), key=lambda line: line.app)
    read = lines_columns(syslog)  # one worker read, its groups slices of one table
    web = sum(line.app == "web" for line in syslog)
    http = [random_line(rng, "web") for _ in range(3)]
    build = [random_line(rng, "api") for _ in range(2)]
    groups: list[tuple[str, Any]] = [("api", ColumnLines(read.slice(0, 50 - web))), ("web", http),
                                     ("api", build), ("web", ColumnLines(read.slice(50 - web)))]
    msg = msgspec.msgpack.decode(bytes(Encoder().frame(lines_message(groups)))[4:], type=ToProcess)
    assert isinstance(msg, Lines)
    assert msg.groups == [("api", 50 - web), ("web", 3), ("api", 2), ("web", web)]
    table = from_ipc(msg.table)
    assert table.column("message").num_chunks == 1  # one record batch
    assert table_lines(table) == syslog[:50 - web] + http + build + syslog[50 - web:]


def test_columns_whose_schema_says_not_null_go_with_the_others() -> None:
    rng = random.Random(6)
    first, second = [random_line(rng, "web") for _ in range(3)], [random_line(rng, "web") for _ in range(4)]
    strict = pa.schema([pa.field(f.name, f.type, nullable=False) for f in SCHEMA])
    msg = lines_message([("web", first), ("web", ColumnLines(lines_columns(second).cast(strict)))])
    assert table_lines(from_ipc(msg.table)) == first + second


# -------------------------------------------------------------------------------- the delivery process


def hub_with(*specs: tuple[list[str], int, bool]) -> tuple[LineHub, list[Any]]:
    """A hub and buffers subscribed as (apps, frame_host_len, wants_lines)."""
    hub = LineHub()
    bufs = []
    for apps, host_len, wants_lines in specs:
        buf = hub.subscribe(apps, 100_000)
        buf.frame_host_len, buf.wants_lines = host_len, wants_lines
        bufs.append(buf)
    return hub, bufs


async def test_a_message_table_becomes_one_chunk_per_group_with_what_its_drains_need() -> None:
    rng = random.Random(8)
    web1, api, web2, nobody = ([random_line(rng, app) for _ in range(n)]
                               for app, n in (("web", 200), ("api", 150), ("web", 100), ("nobody", 40)))
    table = lines_columns(web1 + api + web2 + nobody)
    # web: a syslog drain and an HTTP drain; api: a syslog drain only; a site drain (syslog) on both.
    hub, (web_syslog, web_http, api_syslog, site) = hub_with(
        (["web"], len(TOKEN), False), (["web"], 0, True), (["api"], len(TOKEN), False),
        (["web", "api"], len(TOKEN), False))
    hub.publish_table([("web", 200), ("api", 150), ("web", 100), ("nobody", 40)], table)
    # Frames for every app with a syslog drain; lines only where a drain reads lines (web's HTTP drain).
    chunks = [entry[0] for entry in site._chunks]
    assert [(c.app, c.n, c._frames is not None, c._lines is not None) for c in chunks] == [
        ("web", 200, True, True), ("api", 150, True, False), ("web", 100, True, True)]
    assert [c.weight for c in chunks] == [sum(len(x.message) + LINE_OVERHEAD for x in part)
                                          for part in (web1, api, web2)]
    framer = SyslogFramer(TOKEN)

    async def sent(buf: Any) -> bytes:
        return framer.octet_counted_pieces(await buf.get_pieces(100_000, 0))

    assert await sent(web_syslog) == b"".join(reference(web1 + web2))
    assert await web_http.get(100_000, 0) == web1 + web2
    assert await sent(api_syslog) == b"".join(reference(api))
    assert await sent(site) == b"".join(reference(web1 + api + web2))
    assert all(buf.pending == 0 and buf.bytes == 0 for buf in (web_syslog, web_http, api_syslog, site))
    assert web_http.delivered == 300 and site.delivered == 450


def test_groups_that_do_not_add_up_to_the_table_are_refused() -> None:
    hub, _ = hub_with((["web"], len(TOKEN), False))
    with pytest.raises(ValueError, match="broken drain channel"):
        hub.publish_table([("web", 5)], lines_columns([random_line(random.Random(1), "web")] * 6))


async def test_chunks_weigh_as_lines_and_a_dead_drain_cuts_exactly() -> None:
    """Weights come from the columns (message characters + LINE_OVERHEAD, as for lines); a drain that
    does not read drops whole chunks at a push and the cut inside the oldest at its next look."""
    rng = random.Random(9)
    lines = [random_line(rng, "web") for _ in range(3 * SMALL_TABLE)]
    weights = [len(line.message) + LINE_OVERHEAD for line in lines]
    hub = LineHub()
    dead = hub.subscribe(["web"], capacity=SMALL_TABLE + 10)
    dead.frame_host_len, dead.wants_lines = len(TOKEN), False
    for start in range(0, len(lines), SMALL_TABLE):
        hub.publish_table([("web", SMALL_TABLE)], lines_columns(lines[start:start + SMALL_TABLE]))
    assert len(dead._chunks) == 2 and all(entry[0]._cum is None for entry in dead._chunks)
    assert (dead.pending, dead.dropped, dead.bytes) == (SMALL_TABLE + 10, 2 * SMALL_TABLE - 10,
                                                        sum(weights[-(SMALL_TABLE + 10):]))
    kept = lines[-(SMALL_TABLE + 10):]
    assert SyslogFramer(TOKEN).octet_counted_pieces(await dead.get_pieces(1_000, 0)) == b"".join(reference(kept))

    by_bytes = hub.subscribe(["web"], capacity=10_000, max_bytes=sum(weights[-50:]))
    by_bytes.wants_lines = True
    hub.publish_table([("web", len(lines))], lines_columns(lines))
    assert (by_bytes.pending, by_bytes.dropped) == (50, len(lines) - 50)
    assert await by_bytes.get(1_000, 0) == lines[-50:]


async def test_a_drain_with_a_token_of_another_length_gets_its_own_counts() -> None:
    rng = random.Random(10)
    lines = [random_line(rng, "web") for _ in range(SMALL_TABLE)]
    hub, (usual, other) = hub_with((["web"], len(TOKEN), False), (["web"], len("d.short"), False))
    hub.publish_table([("web", len(lines))], lines_columns(lines))
    pieces = await other.get_pieces(1_000, 0)
    assert SyslogFramer("d.short").octet_counted_pieces(pieces) == b"".join(reference(lines, "d.short"))
    assert SyslogFramer(TOKEN).octet_counted_pieces(await usual.get_pieces(1_000, 0)) == b"".join(reference(lines))


async def test_chunks_keep_nothing_of_the_messages_table() -> None:
    """A chunk that a dead drain holds for hours must not hold the whole message it came in: its frames,
    lines and lengths are copies of its own."""
    rng = random.Random(12)
    lines = [random_line(rng, rng.choice(["web", "api"])) for _ in range(2_000)]
    lines.sort(key=lambda line: line.app)
    web = sum(line.app == "web" for line in lines)
    gc.collect()
    before = pa.total_allocated_bytes()
    table = lines_columns(lines)
    assert pa.total_allocated_bytes() - before > 100_000
    hub, (dead, http) = hub_with((["web"], len(TOKEN), False), (["api"], 0, True))
    hub.publish_table([("api", 2_000 - web), ("web", web)], table)
    del table
    gc.collect()
    assert pa.total_allocated_bytes() - before < 1_000  # (all of it back, while the buffers hold both chunks)
    assert dead.pending == web and await http.get(10_000, 0) == lines[:2_000 - web]


async def test_messages_waiting_together_are_merged_into_one_table() -> None:
    """Behind, the delivery process merges the `Lines` messages waiting in its inbox: one table, each
    app's rows together and in order, then framed at once."""
    rng = random.Random(13)
    delivery = Delivery(None)  # type: ignore[arg-type]  # (nothing is sent back here)
    delivery.settings = Settings(drain_buffer_lines=4_000)
    hub = delivery.hub
    web = hub.subscribe(["web"], 4_000)
    web.frame_host_len, web.wants_lines = len(TOKEN), False
    api = hub.subscribe(["api"], 4_000)
    inp = _Input(delivery, -1)
    encoder = Encoder()
    sent: dict[str, list[LogLine]] = {"web": [], "api": []}
    for _ in range(3):
        groups = []
        for app in ("web", "api", "web"):
            lines = [random_line(rng, app) for _ in range(rng.randrange(20, 60))]
            sent[app] += lines
            groups.append((app, ColumnLines(lines_columns(lines)) if app == "web" else lines))
        inp.inbox.append(bytes(encoder.frame(lines_message(groups)))[4:])
    inp.hand_on()
    assert [entry[0].n for entry in web._chunks] == [len(sent["web"])]
    assert [entry[0].n for entry in api._chunks] == [len(sent["api"])]
    assert SyslogFramer(TOKEN).octet_counted_pieces(await web.get_pieces(4_000, 0)) == b"".join(reference(sent["web"]))
    assert await api.get(4_000, 0) == sent["api"]


async def test_the_delivery_process_takes_columns_and_lists_alike(tcp_sink: TcpSink) -> None:
    """The real delivery process, fed by the server's side as the log pipeline feeds it: groups of
    syslog columns and lists of lines in the same turns reach a syslog drain exactly, in order."""
    rng = random.Random(14)
    notices: list[Any] = []
    process = DeliveryProcess(Settings(drain_linger=0.01), notices.extend, lambda stats: None, lambda: None)
    await process.start()
    try:
        process.configure([DrainSpec(str(uuid.uuid4()), "app", "web", f"syslog://127.0.0.1:{tcp_sink.port}", TOKEN,
                                     False, None, 0.0, 0.0, ["web"])])
        expected: list[LogLine] = []
        for turn in range(4):
            for size in (SMALL_TABLE * 2, 5):  # a read of the syslog workers, and an HTTP request
                lines = [random_line(rng, "web", near=T + turn * 10_000_000) for _ in range(size)]
                lines = [line for line in lines if line.timestamp >= 0]  # (what ingest accepts)
                process.tap("web", ColumnLines(lines_columns(lines)) if size > 5 else lines)
                expected += lines
            process.tap("other", [random_line(rng, "other")])  # no drain: not sent
            await asyncio.sleep(0)  # the end of the turn: one message
        await eventually(lambda: len(tcp_sink.data) >= sum(map(len, reference(expected))))
        assert bytes(tcp_sink.data) == b"".join(reference(expected))
        assert process.gapped == 0 and notices == []
    finally:
        await process.close(1.0)


async def test_lines_beyond_a_turns_limit_are_counted_whole_groups_at_a_time(tcp_sink: TcpSink) -> None:
    """`drain_feed_lines` bounds a turn whatever the kind of group: a group that does not fit is not
    sent, its lines are counted, and the app's drain counts them as dropped."""
    stats: dict[str, list[int]] = {}
    process = DeliveryProcess(Settings(drain_feed_lines=300, drain_linger=0.01), lambda lines: None, stats.update,
                              lambda: None)
    await process.start()
    drain_id = str(uuid.uuid4())
    try:
        process.configure([DrainSpec(drain_id, "app", "web", f"syslog://127.0.0.1:{tcp_sink.port}", TOKEN, False,
                                     None, 0.0, 0.0, ["web"])])
        rng = random.Random(15)
        first = [random_line(rng, "web", near=T) for _ in range(200)]
        process.tap("web", ColumnLines(lines_columns(first)))
        process.tap("web", ColumnLines(lines_columns([random_line(rng, "web") for _ in range(150)])))  # over 300
        process.tap("web", [random_line(rng, "web") for _ in range(100)])  # fits: 300
        process.tap("web", [random_line(rng, "web")])  # over
        assert process.gapped == 151
        await asyncio.sleep(0)
        await eventually(lambda: len(tcp_sink.frames()) == 300)
        assert await process.refresh()
        assert stats[drain_id][1] == 151  # dropped, as the drain counts them
    finally:
        await process.close(1.0)


@pytest.mark.parametrize("workers", [1, 0])
async def test_lines_ingested_over_syslog_reach_a_drain_exactly(start_vigil: StartVigil, workers: int) -> None:
    """Through the real server: syslog lines parsed by the worker processes (handed to the drains as
    columns) or on the event loop (as lines) reach each app's syslog drain byte for byte as the RFC
    5424 formatter writes the lines ingest accepted."""
    vigil = await start_vigil(**FAST, listeners="ephemeral", log_syslog_workers=workers)
    syslog = vigil.services.log_listeners.syslog
    assert syslog is not None
    sinks = {app: await TcpSink().start() for app in ("web", "api")}  # (one receiver per drain: no interleaving)
    try:
        tokens = {app: (await add_drain(vigil.client, f"syslog://127.0.0.1:{sink.port}", owner=f"/apps/{app}"))["token"]
                  for app, sink in sinks.items()}
        rng = random.Random(16)
        texts = ["GET / 200", "héllo ✓ 日本語", "tab\tinside", "x" * 3_000, "", "ends with spaces  "]
        sent = []
        for i in range(600):
            app = rng.choice(["web", "api", "undrained"])
            ts = f"2024-05-01T10:00:{i % 60:02d}" + rng.choice(["Z", ".5Z", ".123456Z", ".000100+02:00"])
            sent.append(f"<{rng.choice([14, 11, 13, 3])}>1 {ts} {app} {rng.choice(['app', 'router', 'APP/PROC/WEB'])} "
                        f"{rng.choice(['web.1', '-', 'web.2'])} - - {rng.choice(texts)} {i}".encode())
        _, writer = await asyncio.open_connection("127.0.0.1", syslog.port)
        writer.write(octet_frames(sent))
        await writer.drain()
        await eventually(lambda: syslog.lines == 600)
        writer.close()
        lines = [parse_syslog(frame) for frame in sent]
        for app, sink in sinks.items():
            expected = [format_rfc5424(line, hostname=tokens[app]) for line in lines if line.app == app]
            await eventually(lambda: len(sink.frames()) >= len(expected))  # noqa: B023  (awaited here)
            assert sink.frames() == expected
    finally:
        for sink in sinks.values():
            await sink.close()
