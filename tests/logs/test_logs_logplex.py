from __future__ import annotations

import datetime as dt
import re

import pytest

from vigil.logs.framing import octet_frames
from vigil.logs.logplex import (
    CONTENT_TYPE,
    OVERFLOW_PRI,
    LogplexError,
    build_logplex_batches,
    format_logplex_frame,
    new_frame_id,
    overflow_message,
    overflow_notice,
    parse_logplex_body,
    parse_logplex_lines,
)
from vigil.logs.model import STDERR, STDOUT, LogLine
from vigil.logs.syslog import format_rfc5424, parse_rfc5424


def us(iso: str) -> int:
    d = dt.datetime.fromisoformat(iso)
    return (d - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


# heroku/logplex doc/README.http_drains.md: "Logplex-Msg-Count: 10", "Content-Length: 730"
README_FRAME = b"70 <174>1 2012-07-22T00:06:26+00:00 host erlang console - Hi from erlang\n"
README_BODY = README_FRAME * 10

# Heroku Dev Center, HTTPS drains (frames carry the drain token in the PROCID position there)
DEVCENTER_BODY = (
    b"120 <40>1 2012-11-30T06:45:29+00:00 heroku web.3 d.73ea7440-270a-435a-a0ea-adf50b4e5f5a - "
    b"State changed from starting to up\n"
    b"156 <40>1 2012-11-30T06:45:26+00:00 heroku web.3 d.73ea7440-270a-435a-a0ea-adf50b4e5f5a - "
    b"Starting process with command `bundle exec rackup config.ru -p 24405`\n"
)


def test_readme_example_body() -> None:
    assert len(README_BODY) == 730
    frames = parse_logplex_body(README_BODY, "10")
    assert len(frames) == 10 and all(len(f) == 70 for f in frames)
    lines, bad = parse_logplex_lines(README_BODY, 10, app="myapp", host="203.0.113.9")
    assert bad == 0
    assert lines[0] == LogLine(
        "myapp", "erlang", "console", STDOUT, us("2012-07-22T00:06:26+00:00"), "203.0.113.9", "Hi from erlang"
    )


def test_devcenter_example_body() -> None:
    lines, bad = parse_logplex_lines(DEVCENTER_BODY, b"2")
    assert bad == 0
    assert [(x.app, x.source, x.message) for x in lines] == [
        ("heroku", "web.3", "State changed from starting to up"),
        ("heroku", "web.3", "Starting process with command `bundle exec rackup config.ru -p 24405`"),
    ]
    assert lines[0].instance == "d.73ea7440-270a-435a-a0ea-adf50b4e5f5a"
    assert lines[0].stream == STDERR  # PRI 40 is syslog.emerg: severity 0-3 -> stderr, as documented


def test_msg_count_is_checked() -> None:
    with pytest.raises(LogplexError, match="Logplex-Msg-Count is 9 but the body has 10"):
        parse_logplex_body(README_BODY, 9)
    for bad in ("ten", "", "+10", "1_0", b"-1"):
        with pytest.raises(LogplexError, match="not a number"):
            parse_logplex_body(README_BODY, bad)
    assert len(parse_logplex_body(README_BODY, " 10 ")) == 10
    assert len(parse_logplex_body(README_BODY)) == 10  # the header is optional
    assert parse_logplex_body(b"", 0) == []


@pytest.mark.parametrize(
    "body",
    [
        README_FRAME[:-5],  # truncated
        b"71 " + README_FRAME[3:],  # count one too many
        b"<174>1 2012-07-22T00:06:26+00:00 host erlang console - newline framed\n",
        b"070 " + README_FRAME[3:],
        b"12345678901 x",
    ],
)
def test_bad_framing_is_rejected(body: bytes) -> None:
    with pytest.raises(LogplexError):
        parse_logplex_body(body)


def test_malformed_message_skipped_or_rejected() -> None:
    body = octet_frames([README_FRAME[3:], b"not syslog at all\n", README_FRAME[3:]])
    lines, bad = parse_logplex_lines(body, 3)
    assert len(lines) == 2 and bad == 1
    with pytest.raises(LogplexError, match="malformed message"):
        parse_logplex_lines(body, 3, strict=True)


def test_sd_mode_for_senders_that_include_sd() -> None:
    body = octet_frames([b"<190>1 2024-01-01T00:00:00Z host app web.1 - - hello\n"])
    assert parse_logplex_lines(body)[0][0].message == "- hello"  # logplex-1 has no SD field
    assert parse_logplex_lines(body, structured_data=None)[0][0].message == "hello"


# --------------------------------------------------------------------------------------------- build


def make_lines(n: int, size: int = 80) -> list[LogLine]:
    return [
        LogLine(
            "myapp",
            "app",
            f"web.{i % 3 + 1}",
            STDOUT if i % 2 else STDERR,
            1_700_000_000_000_000 + i,
            "",
            f"line {i} " + "x" * size,
        )
        for i in range(n)
    ]


def test_frame_format_has_no_sd_and_a_trailing_lf() -> None:
    line = LogLine("myapp", "app", "web.1", STDOUT, us("2012-11-30T06:45:29+00:00"), "", "State changed")
    assert format_logplex_frame(line) == b"<14>1 2012-11-30T06:45:29+00:00 myapp app web.1 - State changed\n"
    assert format_logplex_frame(line, hostname="host").startswith(b"<14>1 2012-11-30T06:45:29+00:00 host app ")
    assert format_logplex_frame(line, pri=OVERFLOW_PRI).startswith(b"<172>1 ")


def test_batches_roundtrip_and_respect_target() -> None:
    lines = make_lines(3000)
    batches = build_logplex_batches(lines, target_bytes=10_000)
    assert len(batches) > 1
    assert all(len(b.body) < 10_000 for b in batches)
    assert sum(b.count for b in batches) == 3000
    back: list[LogLine] = []
    for b in batches:
        got, bad = parse_logplex_lines(b.body, str(b.count))
        assert bad == 0
        back += got
    assert back == lines  # order and every field survive
    assert len({b.frame_id for b in batches}) == len(batches)
    assert all(re.fullmatch(r"[0-9A-F]{32}", b.frame_id) for b in batches)


def test_default_target_is_logplex_100kb() -> None:
    batches = build_logplex_batches(make_lines(5000, size=200))
    assert all(90_000 < len(b.body) < 102_400 for b in batches[:-1])


def test_big_frame_travels_alone() -> None:
    lines = make_lines(3)
    big = LogLine("myapp", "app", "web.1", STDOUT, 0, "", "B" * 5000)
    batches = build_logplex_batches([lines[0], big, lines[1], lines[2]], target_bytes=1000)
    assert [b.count for b in batches] == [1, 1, 2]
    assert parse_logplex_lines(batches[1].body, 1)[0] == [big]
    assert build_logplex_batches([]) == []


def test_frame_id_and_content_type() -> None:
    assert new_frame_id() != new_frame_id()
    assert CONTENT_TYPE == "application/logplex-1"


# ------------------------------------------------------------------------------------- L10 overflow


def test_overflow_message_wording() -> None:
    since = us("2011-05-03T17:35:00.123456+00:00")
    assert overflow_message(500, since) == (
        "Error L10 (output buffer overflow): 500 messages dropped since 2011-05-03T17:35:00+00:00."
    )


def test_overflow_notice_line_and_wire_form() -> None:
    at = us("2011-05-03T17:40:10+00:00")
    line = overflow_notice("myapp", 500, us("2011-05-03T17:35:00+00:00"), at_us=at)
    assert line == LogLine(
        "myapp",
        "heroku",
        "logplex",
        STDOUT,
        at,
        "",
        "Error L10 (output buffer overflow): 500 messages dropped since 2011-05-03T17:35:00+00:00.",
    )
    frame = format_rfc5424(line, pri=OVERFLOW_PRI)
    assert frame.startswith(b"<172>1 2011-05-03T17:40:10+00:00 myapp heroku logplex - - Error L10 ")
    assert parse_rfc5424(frame) == line
    assert overflow_notice("myapp", 1, 0).timestamp > at  # defaults to now
