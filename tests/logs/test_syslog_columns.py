"""`parse_columns` and `akkeris_text` give exactly what the Python parser and formatter give.

Every test compares with the reference path (`parse_frame` + `lines_columns`, and
`format_akkeris_lines`), so any divergence of the vectorised fast path fails it. The random frames
come from a seeded generator that mixes every shape the parser distinguishes, in batches, so that
fast rows and Python rows are merged back in order.
"""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from vigil.logs import syslog_columns
from vigil.logs.columns import SCHEMA, lines_columns, table_lines
from vigil.logs.formats import format_akkeris, format_akkeris_lines
from vigil.logs.model import LogLine
from vigil.logs.syslog import SyslogError, parse_frame
from vigil.logs.syslog_columns import akkeris_text, parse_columns, parse_reads

HOST = "10.0.0.7"
RECEIVED = 1_700_000_000_123_456
BENCH = Path(__file__).resolve().parents[2] / "bench"


def reference(frames: list[bytes], host: str = HOST, received_us: int = RECEIVED) -> tuple[pa.Table, int]:
    lines: list[LogLine] = []
    rejected = 0
    for frame in frames:
        try:
            lines.append(parse_frame(frame, host, received_us))
        except SyslogError:
            rejected += 1
    return lines_columns(lines), rejected


def rows(table: pa.Table) -> list[tuple[Any, ...]]:
    """The table's rows with the time as integer microseconds (datetimes cannot hold year 10000)."""
    columns = [table.column(name).cast(pa.int64()) if name == "time" else table.column(name) for name in SCHEMA.names]
    return list(zip(*(column.to_pylist() for column in columns), strict=True))


def assert_same_parse(frames: list[bytes], host: str = HOST, received_us: int = RECEIVED) -> pa.Table:
    expected, expected_rejected = reference(frames, host, received_us)
    table, rejected = parse_columns(frames, host, received_us)
    assert rejected == expected_rejected
    assert table.schema.equals(expected.schema)
    assert [column.type for column in table.columns] == [column.type for column in expected.columns]
    assert rows(table) == rows(expected)
    assert table.equals(expected)
    return table


def assert_same_text(table: pa.Table) -> bytes:
    text = akkeris_text(table)
    lines = table_lines(table)
    assert text == "".join(format_akkeris(line) + "\n" for line in lines).encode()
    # format_akkeris_lines starts with last_sec = -1, so a batch whose first line falls in the second
    # before the epoch gets an empty time there: not copied (format_akkeris is the definition).
    if not lines or lines[0].timestamp // 1_000_000 != -1:
        assert text == format_akkeris_lines(lines).encode()
    return text


# ------------------------------------------------------------------------------------- frame generator

_WHITESPACE = [c for c in map(chr, range(0x110000)) if c.isspace()]
# Look like whitespace to someone, but str.isspace() says no (so str.strip() keeps them).
_NOT_WHITESPACE = ["\u200b", "\u180e", "\ufeff", "\x00", "\u2060", "\x7f", "\x1b"]
_BAD_UTF8 = [b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\x80", b"\xf5\x80\x80\x80",
             b"\xe0\x80\x80", b"\xf0\x80\x80\x80", b"\xed\xbf\xbf"]
# Valid, and some of them close to a BOM (EF BB BF): U+FEFE is EF BB BE, U+FEBF is EF BA BF.
_GOOD_UTF8 = ["é", "日本", "\U0001f600", "\uffff", "\ud7ff", "\ue000", "\U0010ffff", "\x00", "\ufefe", "\ufebf",
              "\ufeff\ufeff"]


def _pri(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.8:
        return b"%d" % rng.choice([0, 1, 3, 4, 7, 11, 13, 14, 99, 100, 134, 165, 190, 191, rng.randrange(192)])
    return rng.choice([b"192", b"255", b"007", b"014", b"00", b"0", b"1000", b"", b"a", b"-1", b"+1", b"1 ", b"19x"])


def _digits(rng: random.Random, k: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(k))


def _timestamp(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.1:
        return b"-"
    if roll < 0.15:
        return rng.choice([b"2024-01-01T00:00:00", b"2024-01-01t00:00:00Z", b"2024-01-01T00:00:00z",
                           b"2024-01-01 00:00:00Z", b"2024-1-01T00:00:00Z", b"Jan  1 00:00:00", b"now", b"--",
                           b"2024-01-01T00:00:00.Z", b"2024-01-01T00:00:00.+00:00", b"2024-01-01T00:00:00+0000",
                           b"2024-01-01T00:00:00.1234567890Z", b"2024-01-01T00:00:00.12a4Z", b"\xd9\xa1" * 10,
                           b"2024-01-01T00:00:00+00:00Z", b"2024-01-01T00:00:00.5+00", b"0000-01-01T00:00:00Z",
                           b"+024-01-01T00:00:00Z", b"2024-01-01T00:00:00\xffZ", b"2024-01-01T00:00:00Z ",
                           "２０２４-01-01T00:00:00Z".encode()])
    year = rng.choice([1970, 2003, 2016, 2024, 2000, 1900, 2100, 1, 9999, 1969, rng.randrange(1, 10000)])
    month = rng.choice([1, 2, 3, 12, rng.randrange(1, 13), 0, 13])
    day = rng.choice([1, 28, 29, 30, 31, rng.randrange(1, 32), 0, 32])
    hour = rng.choice([0, 12, 23, 24, rng.randrange(24)])
    minute = rng.choice([0, 59, 60, rng.randrange(60)])
    second = rng.choice([0, 59, 60, 61, rng.randrange(60)])
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    if rng.random() < 0.6:
        text += "." + _digits(rng, rng.choice([1, 2, 3, 4, 5, 6, 6, 6, 7, 8, 9, 0, 10]))
    if rng.random() < 0.5:
        text += "Z"
    else:
        text += rng.choice(["+00:00", "-00:00", "+05:30", "-07:00", "+23:59", "-23:59", "+24:00", "+01:60",
                            "+1:00", "+01:0a", "*01:00", "+0100", ""])
    return text.encode()


def _field(rng: random.Random, max_len: int = 12) -> bytes:
    roll = rng.random()
    if roll < 0.15:
        return b"-"
    if roll < 0.2:
        return b""  # two spaces in a row
    if roll < 0.25:
        return rng.choice(_BAD_UTF8) + b"x"
    if roll < 0.3:
        return rng.choice(_GOOD_UTF8).replace("\x00", "n").encode()
    if roll < 0.35:
        return rng.choice([b"[APP/PROC/WEB/0]", b"[STG/1]", b"[x]", b"[", b"]", b"[a/b", b"a/b]", b"[/]", b"[]",
                           b"--", b"\t", b"a\tb", b"\xef\xbb\xbf", b"<14>1"])
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789.-_/"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, max_len))).encode()


def _procid(rng: random.Random) -> bytes:
    if rng.random() < 0.2:
        return rng.choice([b"[APP/PROC/WEB/0]", b"[APP/PROC/WEB/12]", b"[RTR/3]", b"[STG/0]", b"[a/]", b"[/b]"])
    return _field(rng)


def _structured_data(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.7:
        return b"- "
    return rng.choice([b"-", b"", b"-x ", b"-- ", b'[id k="v"] ', b'[id k="v"]', b'[x@1 a="1" b="2"][y c="3"] ',
                       b'[id k="a\\"]b"] ', b'[id k="a\\\\"] ', b'[id k="x]y"] ', b"[bad ", b"[] ", b'[id k="v"]x ',
                       b'[id k="v" ] ', b"[id] ", b'[i d="v"] ', b'[id k="unterminated] '])


def _message(rng: random.Random) -> bytes:
    roll = rng.random()
    words = " ".join(rng.choice(["GET", "/items/1", "200", "in", "5", "ms", "a=b", "x", "ünï", "日本"])
                     for _ in range(rng.randint(0, 8)))
    if roll < 0.4:
        body = words.encode()
    elif roll < 0.55:
        ends = "".join(rng.choice(_WHITESPACE + _NOT_WHITESPACE) for _ in range(rng.randint(1, 3)))
        tail = "".join(rng.choice(_WHITESPACE + _NOT_WHITESPACE) for _ in range(rng.randint(0, 3)))
        body = (ends + words + tail).encode()
    elif roll < 0.6:
        body = "".join(rng.choice(_WHITESPACE) for _ in range(rng.randint(0, 4))).encode()
    elif roll < 0.65:
        body = b""
    elif roll < 0.7:
        body = words.encode() + rng.choice(_BAD_UTF8) + b" tail"
    elif roll < 0.75:
        body = b"\xef\xbb\xbf" + words.encode()
    elif roll < 0.8:
        body = rng.choice([b"\xef\xbb\xbf", b"\xef\xbb", b"\xef\xbb\xbf\xef\xbb\xbf", b"\xef\xbb\xbf\n", b"\x00"])
    elif roll < 0.85:
        body = rng.choice(_GOOD_UTF8).encode() + words.encode()
    else:
        body = words.encode() + b"\t" + words.encode()
    return body + rng.choice([b"", b"", b"", b"\n", b"\r\n", b"\n\n", b"\r", b"\r\r\n", b" \n", b"\n\r"])


def _rfc3164(rng: random.Random) -> bytes:
    stamp = rng.choice([b"Feb  5 17:32:18 ", b"Dec 31 23:59:59 ", b"Feb 29 00:00:00 ", b"Foo  5 17:32:18 ",
                        b"2024-01-01T00:00:00Z ", b"2024-13-01T00:00:00Z ", b""])
    rest = rng.choice([b"host tag[12]: msg here", b"tag: only a tag", b"host msg without tag", b"", b"x",
                       b"host app[web.1]: m\n", b"host \xff[1]: m"])
    return b"<" + _pri(rng) + b">" + stamp + rest


def _garbage(rng: random.Random) -> bytes:
    if rng.random() < 0.5:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 40)))
    alphabet = b"<>1- 0123456789[]\"\\:TZ.\n\xef\xbb\xbf"
    return b"<" + bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))


def random_frame(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.08:
        return _rfc3164(rng)
    if roll < 0.12:
        return _garbage(rng)
    version = b"1" if rng.random() < 0.95 else rng.choice([b"2", b"", b"01", b"1x"])
    header = b" ".join([b"<" + _pri(rng) + b">" + version, _timestamp(rng), _field(rng, 30), _field(rng),
                        _procid(rng), _field(rng)])
    if rng.random() < 0.03:
        return header + rng.choice([b"", b" "])  # no SD / MSG at all
    return header + b" " + _structured_data(rng) + _message(rng)


def fast_frame(rng: random.Random, i: int) -> bytes:
    """A frame of the fast path's shape, each part now and then drawn from the odd ones above, so that
    both sides of every condition of the fast path's mask are met often."""

    def odd(p: float = 0.15) -> bool:
        return rng.random() < p

    # runs of five lines in the same second, seconds 00..61 (60: a leap second; 61: refused)
    ts = _timestamp(rng) if odd(0.3) else b"2024-02-29T23:59:%02d.%06dZ" % (i // 5 % 62, i % 1_000_000)
    parts = [b"<%d>1" % rng.randrange(192) if not odd(0.05) else b"<" + _pri(rng) + b">1", ts,
             _field(rng, 30) if odd() else b"app%d" % (i % 7), _field(rng) if odd() else b"web",
             _procid(rng) if odd() else b"web.%d" % (i % 4), _field(rng) if odd() else b"-"]
    sd = _structured_data(rng) if odd(0.05) else b"- "
    message = _message(rng) if odd(0.4) else b"GET /items/%d 200" % i
    return b" ".join(parts) + b" " + sd + message


# ----------------------------------------------------------------------------------------------- tests


def _bench_frames(monkeypatch: pytest.MonkeyPatch, total: int) -> list[bytes]:
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_logs_frames", BENCH / "logs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    counted: list[bytes] = module.frames([f"app{i}" for i in range(100)], total, 0)
    return [frame.split(b" ", 1)[1] for frame in counted]  # deframed: the octet count off


def test_bench_frames_parse_and_text(monkeypatch: pytest.MonkeyPatch) -> None:
    frames = _bench_frames(monkeypatch, 20_000)
    table = assert_same_parse(frames)
    assert table.num_rows == 20_000
    assert table.column("message")[3].as_py() == "GET /items/3 200 in 3 ms bytes=3 user-agent=bench"
    assert_same_text(table)


def test_empty_input() -> None:
    table, rejected = parse_columns([], HOST, RECEIVED)
    assert rejected == 0 and table.num_rows == 0 and table.schema.equals(SCHEMA)
    assert_same_parse([])
    assert akkeris_text(table) == b""
    assert_same_text(table)


def test_only_empty_frames_are_rejected() -> None:
    assert_same_parse([b"", b"", b""])
    assert parse_columns([b"", b""], HOST, RECEIVED)[1] == 2


@pytest.mark.parametrize("seed", range(6))
def test_random_frames_in_batches(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(5):
        frames = [random_frame(rng) for _ in range(rng.choice([1, 2, 17, 400, 1000]))]
        table = assert_same_parse(frames, host=rng.choice([HOST, "", "h\u00e9"]), received_us=rng.choice(
            [RECEIVED, 0, -1, 253_402_300_799_000_000]))
        assert_same_text(table)


def test_random_frames_one_at_a_time() -> None:
    rng = random.Random(99)
    for _ in range(2000):
        assert_same_parse([random_frame(rng)])


@pytest.mark.parametrize("seed", range(4))
def test_mostly_fast_frames_with_odd_ones_between(seed: int) -> None:
    rng = random.Random(1000 + seed)
    frames = [fast_frame(rng, i) if rng.random() < 0.9 else random_frame(rng) for i in range(3000)]
    table = assert_same_parse(frames)
    assert_same_text(table)


@pytest.mark.parametrize("seed", range(3))
def test_several_reads_at_once_keep_each_reads_host_and_time(seed: int) -> None:
    # A worker parses all the reads of a report in one pass: each row keeps its read's peer, and a
    # NILVALUE TIMESTAMP its read's time, exactly as parsing each read alone would.
    rng = random.Random(2000 + seed)
    reads = []
    for k in range(rng.randint(1, 12)):
        frames = [fast_frame(rng, i) if rng.random() < 0.8 else random_frame(rng) for i in range(rng.randint(0, 60))]
        frames += [b"<14>1 - app%d web probe - - nil %d" % (k, k)]  # takes the read's time
        reads.append((frames, rng.choice([HOST, "", f"10.0.0.{k}", "h\u00e9"]), RECEIVED + k * 1_000_003))
    expected = [reference(frames, host, received) for frames, host, received in reads]
    table, rejected = parse_reads(reads)
    assert rejected == sum(bad for _, bad in expected)
    assert rows(table) == [row for part, _ in expected for row in rows(part)]
    assert table.equals(pa.concat_tables([part for part, _ in expected]).combine_chunks())


def test_fast_shape_with_one_invalid_utf8_frame() -> None:
    # All frames pass the byte-shape checks; one is not UTF-8 and must be the Python parser's.
    frames = [b"<14>1 2024-01-01T00:00:00Z app web web.1 - - line %d" % i for i in range(50)]
    for bad in _BAD_UTF8:
        frames[17] = b"<14>1 2024-01-01T00:00:00Z app web web.1 - - bad " + bad
        table = assert_same_parse(frames)
        assert table.column("message")[17].as_py().startswith("bad \ufffd")
        frames[17] = b"<14>1 2024-01-01T00:00:00Z ap" + bad + b"p web web.1 - - bad"
        assert_same_parse(frames)


def test_character_split_across_frames_is_invalid_in_both() -> None:
    # The frames' bytes lie end to end in one buffer: "€" (E2 82 AC) cut between two frames is valid
    # there, but each frame alone is not UTF-8, and the Python parser puts U+FFFD in both.
    for frames in ([b"<14>1 - a b c d - x\xe2\x82", b"\xac<14>1 - a b c d - y"],
                   [b"<14>1 - a b c d - x\xe2", b"\x82\xac<14>1 - a b c d - y", b"<14>1 - a b c d - z"],
                   [b"<14>1 - a b c d - x\xf0\x9f", b"\x98\x80"]):
        table = assert_same_parse(frames)
        assert table.column("message")[0].as_py() == "x\ufffd"


@pytest.mark.parametrize("text", ["2024-01-01T00:00:00Z", "2024-02-29T12:00:00Z", "2023-02-29T12:00:00Z",
                                  "1900-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "2016-12-31T23:59:60Z",
                                  "2016-12-31T23:59:61Z", "2024-04-31T00:00:00Z", "2024-06-30T24:00:00Z",
                                  "0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:60-23:59",
                                  "1969-12-31T23:59:59.999999Z", "2024-01-01T00:00:00.1Z",
                                  "2024-01-01T00:00:00.123456789Z", "2024-01-01T00:00:00.1234567890Z",
                                  "2024-01-01T00:00:00.000001+05:30", "2024-01-01T00:00:00-00:00",
                                  "2024-01-01T00:00:00+23:59", "2024-01-01T00:00:00+24:00",
                                  "2024-01-01T00:00:00.987654321-07:00", "2024-01-01T00:00:00.Z",
                                  "2024-01-01T00:00:00", "2024-01-01T00:00:00.5", "-",
                                  # a non-digit as the last (or ninth) fraction digit
                                  "2024-01-01T00:00:00.12aZ", "2024-01-01T00:00:00.a+01:00",
                                  "2024-01-01T00:00:00.12345678aZ", "2024-01-01T00:00:00.1234567a-01:00"])
def test_timestamps(text: str) -> None:
    frames = [b"<14>1 " + text.encode() + b" app web web.1 - - m"] * 3
    assert_same_parse(frames)


def test_every_pri() -> None:
    frames = [b"<%b>1 2024-01-01T00:00:00Z app web 1 - - m" % p
              for p in [b"%d" % i for i in range(200)] + [b"%03d" % i for i in range(200)] + [b"", b"x", b"1a"]]
    table = assert_same_parse(frames)
    # 0..191 as written, and again 100..191 among the three-digit ones; a zero-padded PRI is refused
    # (">1 " sends it to the RFC 5424 parser, which allows no leading zero), as are 192..199.
    assert table.num_rows == 192 + 92


def test_fields_and_messages() -> None:
    frames = [
        b"<14>1 - - - - - - ",  # every field NILVALUE, empty MSG
        b"<14>1 - - - - - -",  # SD only
        b"<14>1 - - - - -",  # no SD
        b"<14>1 - - - - - - \xef\xbb\xbf\r\n",
        b"<14>1 - a b [APP/PROC/WEB/0] - - cf",
        b"<14>1 - a b [x] - - bracketed",
        b"<14>1 - a b c d [e f=\"g\"] sd",
        b"<14>1 - a b c d x msg",  # SD neither "-" nor "[": the whole rest is MSG
        b"<14>1 - a b c d 5 5",
        b"<14>1 - a b c d [ x",
        b"<14>1 - a b c d -- x",
        b"<14>1 - a b c d - \xe2\x80\x83 padded \xe3\x80\x80\n",
        b"<14>1 - a b c d - \x1c\x1d separators \x1e\x1f",
        b"<14>1 - a b c d - \xe2\x80\x8b zero width \xef\xbb\xbf",
        b"<13>Feb  5 17:32:18 host tag[12]: bsd",
    ]
    table = assert_same_parse(frames)
    assert_same_text(table)


def test_split_when_over_the_byte_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # Arrow strings have int32 offsets: a batch over ~2 GiB is parsed in halves. A small limit
    # reaches that path without 2 GiB of memory.
    monkeypatch.setattr(syslog_columns, "_MAX_BYTES", 300)
    rng = random.Random(5)
    frames = [fast_frame(rng, i) if i % 3 else random_frame(rng) for i in range(64)]
    assert_same_parse(frames)


# ------------------------------------------------------------------------------------------ akkeris_text


def _lines(rng: random.Random, n: int) -> list[LogLine]:
    out = []
    micros = rng.randrange(-10**12, 10**15)
    for _ in range(n):
        micros += rng.choice([0, 1, 999_999, 1_000_000, 3_600_000_000, -1_500_000])
        message = "".join(rng.choice(_WHITESPACE + _NOT_WHITESPACE + ["a", "b", "日", " "])
                          for _ in range(rng.randint(0, 6)))
        out.append(LogLine(rng.choice(["app-space", "a", ""]), rng.choice(["app", "akkeris/router", ""]),
                           rng.choice(["web.1", "", "0"]), "stdout", micros, "h", message))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_akkeris_text_random_tables(seed: int) -> None:
    rng = random.Random(seed)
    assert_same_text(lines_columns(_lines(rng, 3000)))


def test_the_strip_set_is_what_str_isspace_says() -> None:
    assert sorted(syslog_columns._PY_WHITESPACE) == _WHITESPACE


def test_akkeris_text_every_whitespace_character() -> None:
    lines = [LogLine("a", "s", "", "stdout", 0, "", f"{c}{c} x{c}y {c}") for c in _WHITESPACE + _NOT_WHITESPACE]
    text = assert_same_text(lines_columns(lines))
    assert text.startswith(b"1970-01-01T00:00:00Z a s: x\ty\n")


def test_akkeris_text_chunked_and_sliced_tables() -> None:
    rng = random.Random(7)
    first, second = lines_columns(_lines(rng, 50)), lines_columns(_lines(rng, 70))
    assert_same_text(pa.concat_tables([first, second]))
    assert_same_text(pa.concat_tables([first, second]).slice(30, 60))


def test_akkeris_text_falls_back_on_nulls_and_other_types() -> None:
    nulls = pa.table({"app": ["a", None], "time": pa.array([0, 1], SCHEMA.field("time").type), "source": ["s", "s"],
                      "instance": ["", "1"], "stream": ["stdout", "stdout"], "host": ["", ""], "message": ["m", "n"]})
    assert_same_text(nulls)  # "None" for the null app, as the Python formatter writes it
    bad_message = nulls.set_column(0, "app", pa.array(["a", "b"])).set_column(6, "message", pa.array(["m", None]))
    with pytest.raises(AttributeError):
        format_akkeris_lines(table_lines(bad_message))
    with pytest.raises(AttributeError):
        akkeris_text(bad_message)
    large = lines_columns(_lines(random.Random(3), 20)).cast(
        pa.schema([f.with_type(pa.large_string()) if f.type == pa.string() else f for f in SCHEMA]))
    assert_same_text(large)


def test_parse_then_text_for_all_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(11)
    frames = _bench_frames(monkeypatch, 500) + [random_frame(rng) for _ in range(2000)]
    rng.shuffle(frames)
    assert_same_text(assert_same_parse(frames))


def test_loggregator_procids_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # Cloud Foundry's syslog: PROCID "[APP/PROC/WEB/0]" is split at its last "/" (APP-NAME, the app's
    # GUID, is not used). Same answer as parse_frame, without calling it.
    frames = [b"<14>1 2024-05-01T10:00:00.5Z org.space.app 7f0c1d2e-guid [APP/PROC/WEB/0] - - hello",
              b"<11>1 2024-05-01T10:00:01+02:00 host guid [RTR/12] - - GET / 200",
              b"<14>1 - host guid [a/b/c] - - nested",
              b"<14>1 - host guid [-/-] - - nil parts",
              b"<14>1 - host guid [/] - - empty parts",
              b"<14>1 - host guid [x/] - - no instance",
              b"<14>1 - host guid [nobracket/] - - x",
              b"<14>1 - host guid [] - - no slash",
              b"<14>1 - host guid [plain] - - no slash either"]
    expected = assert_same_parse(frames)
    assert rows(expected)[0][2:4] == ("APP/PROC/WEB", "0")

    def refuse(*args: object) -> None:
        raise AssertionError("the fast path should have taken every frame")

    monkeypatch.setattr(syslog_columns, "parse_frame", refuse)
    table, rejected = parse_columns(frames, HOST, RECEIVED)
    assert rejected == 0 and table.equals(expected)
