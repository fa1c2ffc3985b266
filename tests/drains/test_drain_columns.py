"""Lines handed to the delivery process as Arrow columns: the server's message (columns as they are,
lists made into columns), the frames made from columns byte for byte as from lines, chunks that keep
nothing of the message's table, and the real delivery process fed both kinds of groups."""

from __future__ import annotations

import asyncio
import gc
import os
import random
import signal
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
from vigil.drains.channel import DrainSpec, Encoder, Lines, ToProcess
from vigil.drains.child import Delivery, _Input
from vigil.drains.column_frames import SMALL_TABLE, table_frames
from vigil.drains.frames import SyslogFramer, placeholder_frames
from vigil.drains.handoff import WHOLE_REPORT_ROW_BYTES, Outbox, lines_message, open_lines
from vigil.drains.process import DeliveryProcess
from vigil.logs.columns import SCHEMA, ColumnLines, from_ipc, lines_columns, table_lines, to_ipc
from vigil.logs.framing import octet_frame, octet_frames
from vigil.logs.model import LogLine
from vigil.logs.ring import LINE_OVERHEAD
from vigil.logs.syslog import format_rfc5424, parse_syslog
from vigil.logs.syslog_wire import Report, report_groups

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


def ingestible(rng: random.Random, app: str = "web") -> LogLine:
    """A random line with a timestamp ingest accepts."""
    while not 0 <= (line := random_line(rng, app, near=T)).timestamp < 253_402_300_800_000_000:
        pass
    return line


def small_line(rng: random.Random, app: str = "web") -> LogLine:
    """A random line with a message of a usual size (a report of them goes whole)."""
    return msgspec.structs.replace(random_line(rng, app), message=f"GET /items/{rng.randrange(10**6)} 200")


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


def report(groups: dict[str, list[LogLine]]) -> dict[str, ColumnLines]:
    """A syslog worker's report, its groups as the server reads them (`report_groups`)."""
    table = lines_columns([line for lines in groups.values() for line in lines])
    return report_groups(Report({app: len(lines) for app, lines in groups.items()}, to_ipc(table)))[0]


def sent(msg: Lines) -> Lines:
    """The message as the delivery process decodes it."""
    out = msgspec.msgpack.decode(bytes(Encoder().frame(msg))[4:], type=ToProcess)
    assert isinstance(out, Lines)
    return out


def opened(*messages: Lines) -> tuple[dict[str, list[LogLine]], dict[str, int], list[str]]:
    """Each app's lines as the delivery process takes them from messages, what was lost, what was logged."""
    broken: list[str] = []
    rows = open_lines([sent(m) for m in messages], broken.append)
    lines = table_lines(rows.table)
    out: dict[str, list[LogLine]] = {}
    at = 0
    for app, n in rows.groups:
        assert app not in out  # one group per app
        out[app] = lines[at:at + n]
        at += n
    assert at == len(lines)
    return out, rows.lost, broken


def test_a_reports_bytes_go_as_they_are_with_the_rows_of_each_drained_app() -> None:
    """Groups of one worker report: the message carries the report's own bytes (the same object: no
    Arrow work on the server) and (app, report, first row, rows); apps without drains in the report
    are not named, and their rows are not taken."""
    rng = random.Random(5)
    lines = {app: [small_line(rng, app) for _ in range(n)] for app, n in (("api", 30), ("quiet", 40), ("web", 20))}
    read = report(lines)
    data = read["api"].origin[0]  # type: ignore[index]
    msg = lines_message([("api", read["api"]), ("web", read["web"])])  # ("quiet" has no drain: no tap)
    assert msg.groups == [("api", 0, 0, 30), ("web", 0, 70, 20)] and msg.lines == []
    assert len(msg.reports) == 1 and msg.reports[0] is data
    got, lost, broken = opened(msg)
    assert got == {"api": lines["api"], "web": lines["web"]} and lost == {} and broken == []


def test_reports_shared_by_several_apps_and_lists_mixed_in_one_turn() -> None:
    """Two reports, each holding rows of two drained apps and one without drains, between lists of
    lines (HTTP, builds) of the same apps: each report once, lists as `LogLine`s, and every app's lines
    in the order they were tapped."""
    rng = random.Random(6)
    def lines_of(app: str, n: int) -> list[LogLine]:
        return [small_line(rng, app) for _ in range(n)]
    first = {"web": lines_of("web", 25), "other": lines_of("other", 50), "api": lines_of("api", 35)}
    second = {"api": lines_of("api", 40), "web": lines_of("web", 30), "other": lines_of("other", 10)}
    http, build = lines_of("web", 3), lines_of("api", 2)
    one, two = report(first), report(second)
    groups: list[tuple[str, Any]] = [("web", one["web"]), ("api", one["api"]), ("web", http), ("api", two["api"]),
                                     ("api", build), ("web", two["web"])]
    msg = lines_message(groups)
    assert msg.groups == [("web", 0, 0, 25), ("api", 0, 75, 35), ("web", -1, 0, 3), ("api", 1, 0, 40),
                          ("api", -1, 3, 2), ("web", 1, 40, 30)]
    assert [len(r) for r in msg.reports] == [len(one["web"].origin[0]), len(two["web"].origin[0])]  # type: ignore[index]
    assert msg.lines == http + build
    got, lost, _ = opened(msg)
    assert got == {"web": first["web"] + http + second["web"], "api": first["api"] + second["api"] + build}
    assert lost == {}


def test_columns_without_an_origin_are_written_anew_and_lists_go_as_lines() -> None:
    rng = random.Random(7)
    table_rows = [small_line(rng, "web") for _ in range(10)]
    sliced = ColumnLines(lines_columns(table_rows))[2:7]  # a slice: no origin
    settled = ColumnLines(lines_columns(table_rows[:4]))
    assert list(settled) == table_rows[:4]  # read once, so settling keeps only the lines
    settled.settle()
    assert settled.table is None
    plain = [small_line(rng, "web") for _ in range(3)]
    msg = lines_message([("web", sliced), ("web", settled), ("web", plain)])
    assert msg.groups == [("web", 0, 0, 5), ("web", -1, 0, 4), ("web", -1, 4, 3)]
    assert len(msg.reports) == 1 and msg.lines == table_rows[:4] + plain
    assert opened(msg)[0] == {"web": table_rows[2:7] + table_rows[:4] + plain}


def test_a_report_mostly_of_apps_without_drains_goes_as_its_drained_rows() -> None:
    """A drain on one app of many: the report does not go whole (the pipe and the channel would carry
    every other app's lines), its drained rows are written anew."""
    rng = random.Random(8)
    lines = {f"app{i}": [random_line(rng, f"app{i}") for _ in range(20)] for i in range(50)}
    read = report(lines)
    assert len(read["app7"].origin[0]) > WHOLE_REPORT_ROW_BYTES * 20  # type: ignore[index]
    msg = lines_message([("app7", read["app7"])])
    assert msg.groups == [("app7", 0, 0, 20)]
    assert from_ipc(msg.reports[0]).num_rows == 20
    assert opened(msg)[0] == {"app7": lines["app7"]}


def test_columns_whose_schema_says_not_null_go_with_the_others() -> None:
    rng = random.Random(6)
    first, second = [random_line(rng, "web") for _ in range(3)], [random_line(rng, "web") for _ in range(4)]
    strict = pa.schema([pa.field(f.name, f.type, nullable=False) for f in SCHEMA])
    msg = lines_message([("web", first), ("web", ColumnLines(lines_columns(second).cast(strict)))])
    assert opened(msg)[0] == {"web": first + second}


def test_an_unreadable_report_loses_only_its_groups_and_says_so() -> None:
    """A report whose bytes are not an Arrow stream of the log columns (or a group beyond its rows):
    its groups' lines are counted lost for their apps and reported; the message's other groups go on."""
    rng = random.Random(9)
    good = report({"web": [random_line(rng, "web") for _ in range(5)]})
    plain = [random_line(rng, "api") for _ in range(2)]
    msg = lines_message([("web", good["web"]), ("api", plain)])
    msg.reports.append(b"not arrow at all")
    msg.reports.append(to_ipc(pa.table({"x": [1, 2, 3]})))
    msg.groups += [("api", 1, 0, 7), ("web", 2, 0, 3), ("web", 0, 3, 9), ("api", 5, 0, 4)]
    got, lost, broken = opened(msg)
    assert got == {"web": list(good["web"]), "api": plain}
    assert lost == {"api": 7 + 4, "web": 3 + 9}
    assert len(broken) == 4 and "not an Arrow stream" in broken[0] and "wrong schema" in broken[1]


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
    delivery.settings = Settings(drain_buffer_lines=4_000, drain_yield_max=0)  # (lines never wait for the machine)
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


async def test_a_turn_beyond_the_limit_goes_as_several_messages_and_loses_nothing(tcp_sink: TcpSink) -> None:
    """`drain_feed_lines` bounds a message, not a turn: whenever the lines kept reach it they go as a
    message of their own (a group split between two), so a turn of 451 lines with a limit of 300 reaches
    the drain whole and in order, in messages of at most 300 lines."""
    stats: dict[str, list[int]] = {}
    process = DeliveryProcess(Settings(drain_feed_lines=300, drain_linger=0.01), lambda lines: None, stats.update,
                              lambda: None)
    await process.start()
    sizes: list[int] = []
    write = process._write

    def spy(msg: Any, **kw: Any) -> bool:
        if isinstance(msg, Lines):
            sizes.append(sum(rows for _, _, _, rows in msg.groups))
        return write(msg, **kw)

    process._write = spy  # type: ignore[method-assign]
    drain_id = str(uuid.uuid4())
    try:
        process.configure([DrainSpec(drain_id, "app", "web", f"syslog://127.0.0.1:{tcp_sink.port}", TOKEN, False,
                                     None, 0.0, 0.0, ["web"])])
        rng = random.Random(15)
        turn = [[ingestible(rng) for _ in range(n)] for n in (200, 150, 100, 1)]
        read = report({"web": turn[1]})["web"]  # a worker report's group (its bytes go as they are)
        for _, tapped in zip(turn, [ColumnLines(lines_columns(turn[0])), read, turn[2], turn[3]], strict=True):
            process.tap("web", tapped)
            assert process._outbox.count <= 300
        await asyncio.sleep(0)
        expected = [line for lines in turn for line in lines]
        assert sizes == [300, 151] and process.gapped == 0
        await eventually(lambda: len(tcp_sink.data) >= sum(map(len, reference(expected))))
        assert bytes(tcp_sink.data) == b"".join(reference(expected))
        assert await process.refresh()
        assert stats[drain_id][1] == 0  # nothing dropped
    finally:
        await process.close(1.0)


def test_a_message_holds_at_most_drain_message_bytes_of_reports_and_one_more() -> None:
    rng = random.Random(16)
    reads = [report({"web": [random_line(rng, "web") for _ in range(30)]})["web"] for _ in range(5)]
    size = len(reads[0].origin[0])  # type: ignore[index]
    box = Outbox(10_000, 2 * size + 1)
    full = [box.add("web", read, 0, 30) for read in reads[:3]]
    assert full == [False, False, True]  # the third report went over: send
    assert len(box.message().reports) == 3 and box.bytes == 0 and box.groups == []
    assert box.add("web", reads[3], 0, 30) is False and box.add("web", reads[3], 0, 0) is False  # same report
    assert box.bytes == len(reads[3].origin[0])  # type: ignore[index]


async def test_the_channel_bound_still_counts_what_does_not_fit(tcp_sink: TcpSink) -> None:
    """With the delivery process stopped, messages fill the channel (`drain_channel_bytes`): what does not
    fit is not sent but counted (`gapped`), and the drain counts it as dropped once the process runs
    again: every line tapped is delivered or counted, none twice."""
    stats: dict[str, list[int]] = {}
    settings = Settings(drain_feed_lines=500, drain_channel_bytes=64 * 1024, drain_linger=0.01,
                        drain_buffer_lines=100_000, drain_buffer_bytes=1 << 30)
    process = DeliveryProcess(settings, lambda lines: None, stats.update, lambda: None)
    await process.start()
    drain_id = str(uuid.uuid4())
    assert process.proc is not None
    try:
        process.configure([DrainSpec(drain_id, "app", "web", f"syslog://127.0.0.1:{tcp_sink.port}", TOKEN, False,
                                     None, 0.0, 0.0, ["web"])])
        await asyncio.sleep(0.2)
        os.kill(process.proc.pid, signal.SIGSTOP)
        rng = random.Random(17)
        total = 0
        try:
            while process.gapped == 0 or total < 20_000:  # beyond the pipe (1 MiB) and the channel
                read = report({"web": [ingestible(rng) for _ in range(800)],
                               "other": [random_line(rng, "other") for _ in range(10)]})
                process.tap("web", read["web"])
                total += 800
                await asyncio.sleep(0)
                assert process.channel_bytes <= settings.drain_channel_bytes + 2 * 1024 * 1024
        finally:
            os.kill(process.proc.pid, signal.SIGCONT)
        gapped = process.gapped
        assert 0 < gapped < total and gapped % 100 == 0  # (pieces of 800-line groups cut at 500-line messages)

        async def settled() -> bool:
            await process.refresh()
            st = stats.get(drain_id)
            return st is not None and st[0] + st[1] == total and st[8] == 0

        try:
            await eventually(settled, within=30)
        except AssertionError:
            raise AssertionError(f"{stats.get(drain_id)} for {total} lines, {gapped} not sent") from None
        assert stats[drain_id][1] == gapped  # dropped: exactly the lines not sent
        assert len(tcp_sink.frames()) == total - gapped
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
