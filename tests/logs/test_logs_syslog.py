from __future__ import annotations

import contextlib
import datetime as dt
import random

import msgspec
import pytest

from vigil.logs.model import STDERR, STDOUT, LogLine
from vigil.logs.syslog import (
    SDElement,
    SyslogError,
    format_rfc5424,
    format_structured_data,
    parse_rfc3164,
    parse_rfc5424,
    parse_rfc5424_message,
    parse_structured_data,
    parse_syslog,
)
from vigil.logs.timefmt import format_rfc5424_time, parse_rfc3339_us


def us(iso: str) -> int:
    """Independent oracle: datetime's own ISO parser."""
    d = dt.datetime.fromisoformat(iso)
    return (d - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


# ---------------------------------------------------------------------------------- RFC 5424 examples


def test_rfc5424_example_1_bom_and_msgid() -> None:
    frame = (
        b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
        b"\xef\xbb\xbf'su root' failed for lonvick on /dev/pts/8"
    )
    line = parse_rfc5424(frame)
    assert line == LogLine(
        "mymachine.example.com",
        "su",
        "",
        STDERR,  # auth.crit
        us("2003-10-11T22:14:15.003+00:00"),
        "",
        "'su root' failed for lonvick on /dev/pts/8",
    )
    m = parse_rfc5424_message(frame)
    assert (m.pri, m.facility, m.severity) == (34, 4, 2)
    assert m.msgid == "ID47" and m.procid is None and m.bom is True
    assert m.structured_data == []


def test_rfc5424_example_2_offset_and_micro_fraction() -> None:
    frame = b"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts."
    line = parse_rfc5424(frame)
    assert line.timestamp == us("2003-08-24T12:14:15.000003+00:00")
    assert (line.app, line.source, line.instance, line.stream) == ("192.0.2.1", "myproc", "8710", STDOUT)
    assert line.message == "%% It's time to make the do-nuts."


def test_rfc5424_example_3_structured_data() -> None:
    frame = (
        b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
        b'[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] '
        b"\xef\xbb\xbfAn application event log entry..."
    )
    assert parse_rfc5424(frame).message == "An application event log entry..."
    m = parse_rfc5424_message(frame, structured_data=True)
    assert m.structured_data == [
        SDElement("exampleSDID@32473", [("iut", "3"), ("eventSource", "Application"), ("eventID", "1011")])
    ]


def test_rfc5424_example_4_sd_only_no_msg() -> None:
    frame = (
        b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
        b'[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]'
    )
    assert parse_rfc5424(frame, structured_data=True).message == ""
    m = parse_rfc5424_message(frame, structured_data=True)
    assert [e.id for e in m.structured_data] == ["exampleSDID@32473", "examplePriority@32473"]
    assert m.structured_data[1].params == [("class", "high")]


# ------------------------------------------------------------------------------ real-world senders

# util-linux 2.38 `logger --rfc5424 --octet-count -n 127.0.0.1 -T ...`, captured from the wire
LOGGER_1 = (
    b'<14>1 2026-11-22T08:52:55.230911+00:00 vm myapp - - [timeQuality tzKnown="1" isSynced="0"] hello from logger'
)
LOGGER_2 = (
    b'<11>1 2026-11-22T08:52:55.234597+00:00 vm myapp 3893 MSG1 [timeQuality tzKnown="1" isSynced="0"]'
    b'[origin@32473 note="a \\"q\\" b\\] c\\\\d"] with sd'
)


def test_logger_rfc5424_frames() -> None:
    assert parse_rfc5424(LOGGER_1) == LogLine(
        "vm", "myapp", "", STDOUT, us("2026-11-22T08:52:55.230911+00:00"), "", "hello from logger"
    )
    line = parse_rfc5424(LOGGER_2, host="10.1.2.3")
    assert (line.instance, line.stream, line.host, line.message) == ("3893", STDERR, "10.1.2.3", "with sd")


def test_structured_data_escapes_are_unescaped() -> None:
    m = parse_rfc5424_message(LOGGER_2, structured_data=True)
    assert m.structured_data == [
        SDElement("timeQuality", [("tzKnown", "1"), ("isSynced", "0")]),
        SDElement("origin@32473", [("note", 'a "q" b] c\\d')]),
    ]


def test_logger_nil_timestamp_uses_receive_time() -> None:
    # `logger --rfc5424=notime,notq`
    line = parse_rfc5424(b"<13>1 - vm x - - - no time", received_us=42)
    assert line.timestamp == 42 and line.message == "no time"
    assert parse_rfc5424_message(b"<13>1 - vm x - - - no time").timestamp is None


def test_rsyslog_protocol23_template_trailing_lf() -> None:
    # RSYSLOG_SyslogProtocol23Format ends every message with "\n"
    frame = b"<30>1 2024-05-01T10:00:00.123456+02:00 web01 systemd 1 - - Started Session 5 of user root.\n"
    line = parse_rfc5424(frame)
    assert line.message == "Started Session 5 of user root."
    assert line.timestamp == us("2024-05-01T08:00:00.123456+00:00")


# Loggregator's syslog agent (loggregator-agent-release pkg/egress/syslog/rfc5424_test.go)
def test_loggregator_frame_maps_procid_to_source_and_instance() -> None:
    frame = (
        b"<11>1 1970-01-01T00:00:00.012345+00:00 some-org.some-space.some-app test-app-id [MY-TASK/2] - "
        b'[tags@47450 app_name="some-app" organization_name="some-org" source_type="MY TASK" '
        b'space_name="some-space"] just a test\n'
    )
    assert parse_rfc5424(frame) == LogLine(
        "some-org.some-space.some-app", "MY-TASK", "2", STDERR, 12_345, "", "just a test"
    )
    line = parse_rfc5424(b"<14>1 2017-10-05T15:00:55.412873+00:00 org.space.app 2ca0cd5e [APP/PROC/WEB/0] - - hi\n")
    assert (line.source, line.instance, line.stream) == ("APP/PROC/WEB", "0", STDOUT)


def test_loggregator_escaped_tag_values() -> None:
    frame = (
        b"<11>1 1970-01-01T00:00:00.012345+00:00 test-hostname test-app-id [MY-TASK/2] - "
        b'[tags@47450 log-tag="\\"\\]\\\\" source_type="MY TASK"] just a test\n'
    )
    assert parse_rfc5424(frame).message == "just a test"
    sd = parse_rfc5424_message(frame, structured_data=True).structured_data
    assert sd == [SDElement("tags@47450", [("log-tag", '"]\\'), ("source_type", "MY TASK")])]


# heroku/logplex test/syslog_parse_SUITE.erl
@pytest.mark.parametrize(
    "frame",
    [
        b"<133>1 2013-05-24T06:48:51.740194+00:00 host token process - - this is the message",
        b'<133>1 2013-05-24T06:48:51.740194+00:00 host token process - [meta sequenceId="518"] this is the message',
        b'<133>1 2013-05-24T06:48:51.740194+00:00 host token process - [meta testName="bob\\]"] this is the message',
        b'<133>1 2013-05-24T06:48:51.740194+00:00 host token process - [meta sequenceId="518"]'
        b'[meta somethingElse="blah"] this is the message',
        b'<133>1 2013-05-24T06:48:51.740194+00:00 host token process - [meta sequenceId="518"]'
        b'[meta somethingElse="blah\\]"] this is the message',
    ],
)
def test_logplex_suite_frames(frame: bytes) -> None:
    line = parse_rfc5424(frame, structured_data=True)
    assert line == LogLine(
        "host", "token", "process", STDOUT, us("2013-05-24T06:48:51.740194+00:00"), "", "this is the message"
    )


def test_heroku_router_frame() -> None:
    frame = (
        b"<158>1 2013-05-27T19:59:36.538297+00:00 node.78286@heroku.com t.8ec095b4-8960-39fa-b948-e9e21f27f5de "
        b'router - - at=info method=POST path=/drain host=fakeapp.herokuapp.com fwd="108.21.18.132" '
        b"dyno=web.1 connect=2ms service=3ms status=200 bytes=0"
    )
    line = parse_rfc5424(frame)
    assert (line.source, line.instance) == ("t.8ec095b4-8960-39fa-b948-e9e21f27f5de", "router")
    assert line.message.startswith("at=info method=POST") and line.message.endswith("bytes=0")


# -------------------------------------------------------------- Logplex's SD-less frames (logplex-1)


def test_sdless_frame_explicit_and_auto() -> None:
    frame = b"<40>1 2012-11-30T06:45:29+00:00 host app web.3 - State changed from starting to up\n"
    for mode in (False, None):
        line = parse_rfc5424(frame, structured_data=mode, app="myapp")
        assert (line.app, line.source, line.instance) == ("myapp", "app", "web.3")
        assert line.message == "State changed from starting to up"
    with pytest.raises(SyslogError, match="STRUCTURED-DATA"):
        parse_rfc5424(frame, structured_data=True)


def test_sdless_message_that_looks_like_sd() -> None:
    frame = b"<190>1 2012-11-30T06:45:29+00:00 host app web.3 - [INFO] started\n"
    # auto: "[INFO]" is a valid SD element, so it is read as SD; logplex-1 mode keeps it as text
    assert parse_rfc5424(frame).message == "started"
    assert parse_rfc5424(frame, structured_data=False).message == "[INFO] started"
    # an unterminated bracket cannot be SD: auto mode keeps the whole text
    assert parse_rfc5424(b"<190>1 - h a p - [oops no close\n").message == "[oops no close"
    assert parse_rfc5424(b"<190>1 - h a p - -dash first\n").message == "-dash first"


# --------------------------------------------------------------------------------------- details


@pytest.mark.parametrize(("severity", "stream"), [(s, STDERR if s <= 3 else STDOUT) for s in range(8)])
def test_severity_to_stream(severity: int, stream: str) -> None:
    for facility in (1, 16, 23):
        frame = b"<%d>1 2020-01-01T00:00:00Z h a p - - m" % (facility * 8 + severity)
        assert parse_rfc5424(frame).stream == stream


@pytest.mark.parametrize(
    ("ts", "iso"),
    [
        (b"2003-10-11T22:14:15Z", "2003-10-11T22:14:15+00:00"),
        (b"2003-10-11T22:14:15.1Z", "2003-10-11T22:14:15.100000+00:00"),
        (b"2003-10-11T22:14:15.003Z", "2003-10-11T22:14:15.003000+00:00"),
        (b"2003-10-11T22:14:15.123456Z", "2003-10-11T22:14:15.123456+00:00"),
        (b"2003-10-11T22:14:15.123456789Z", "2003-10-11T22:14:15.123456+00:00"),  # truncated
        (b"2003-10-11T22:14:15+05:30", "2003-10-11T16:44:15+00:00"),
        (b"2003-10-11T22:14:15.5-07:00", "2003-10-12T05:14:15.500000+00:00"),
        (b"2024-02-29T23:59:59.999999-00:00", "2024-02-29T23:59:59.999999+00:00"),
        (b"1970-01-01T00:00:00Z", "1970-01-01T00:00:00+00:00"),
    ],
)
def test_timestamps(ts: bytes, iso: str) -> None:
    assert parse_rfc3339_us(ts) == us(iso)
    assert parse_rfc3339_us(ts) == us(iso)  # second call hits the cache
    assert parse_rfc5424(b"<14>1 " + ts + b" h a p - - m").timestamp == us(iso)


@pytest.mark.parametrize(
    "ts",
    [
        b"2003-10-11 22:14:15Z",
        b"2003-10-11t22:14:15Z",
        b"2003-10-11T22:14:15",
        b"2003-10-11T22:14:15.Z",
        b"2003-10-11T22:14:15.1234567890Z",
        b"2003-10-11T22:14:15+0000",
        b"2003-10-11T22:14:15+24:00",
        b"2003-13-11T22:14:15Z",
        b"2023-02-29T22:14:15Z",
        b"2003-10-11T22:14:61Z",
        b"2003-10-11T22:14:1xZ",
        b"2003-10-11T22:14:15.1_2Z",
        b"Oct 11 22:14:15",
    ],
)
def test_bad_timestamps(ts: bytes) -> None:
    with pytest.raises(ValueError):
        parse_rfc3339_us(ts)
    with pytest.raises(SyslogError):
        parse_rfc5424(b"<14>1 " + ts.replace(b" ", b"_") + b" h a p - - m")


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"", "PRI"),
        (b"14>1 2020-01-01T00:00:00Z h a p - - m", "PRI"),
        (b"<192>1 2020-01-01T00:00:00Z h a p - - m", "PRI"),
        (b"<x>1 2020-01-01T00:00:00Z h a p - - m", "PRI"),
        (b"<1234>1 2020-01-01T00:00:00Z h a p - - m", "PRI"),
        (b"<14>2 2020-01-01T00:00:00Z h a p - - m", "VERSION"),
        (b"<14>Oct 11 22:14:15 host tag: msg", "VERSION"),
        (b"<14>1 2020-01-01T00:00:00Z h a p", "header"),
        (b"<14>1 2020-01-01T00:00:00Z  a p - - m", "empty header field"),
        (b"<14>1  2020-01-01T00:00:00Z h a p - - m", "empty header field"),
        (b"<14>1 2020-01-01T00:00:00Z h a p - ", "empty header field"),
        (b"<14>1 yesterday h a p - - m", "date-time"),
    ],
)
def test_malformed_frames(frame: bytes, reason: str) -> None:
    with pytest.raises(SyslogError, match=reason) as info:
        parse_rfc5424(frame)
    assert info.value.frame == frame[:256]
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "frame",
    [
        b'<14>1 - h a p - [id k="unterminated] m',
        b"<14>1 - h a p - [] m",
        b"<14>1 - h a p - [id]m",
        b"<14>1 - h a p - plain text",
        b"<14>1 - h a p - [id k] m",  # boundary is fine, element is not
        b"<14>1 - h a p - [id k=v] m",
    ],
)
def test_strict_sd_errors(frame: bytes) -> None:
    with pytest.raises(SyslogError, match="STRUCTURED-DATA"):
        parse_rfc5424(frame, structured_data=True)
    parse_rfc5424(frame)  # auto mode never loses the line


def test_message_cleanup() -> None:
    base = b"<14>1 2020-01-01T00:00:00Z h a p - - "
    assert parse_rfc5424(base + b"one\n").message == "one"
    assert parse_rfc5424(base + b"crlf\r\n").message == "crlf"
    assert parse_rfc5424(base + b"two\n\n").message == "two\n"  # only the framing LF goes
    assert parse_rfc5424(base + b"  spaced  ").message == "  spaced  "
    assert parse_rfc5424(base + b"\xef\xbb\xbf\n").message == ""
    assert parse_rfc5424(base + b"bad \xff utf8").message == "bad \ufffd utf8"
    assert parse_rfc5424(base + "snö ☃".encode()).message == "snö ☃"
    assert parse_rfc5424(base + b"multi\nline\n").message == "multi\nline"
    assert parse_rfc5424(b"<14>1 2020-01-01T00:00:00Z h a p - -").message == ""
    assert parse_rfc5424(b"<14>1 2020-01-01T00:00:00Z h a p -").message == ""


def test_parse_structured_data_errors_and_repeats() -> None:
    assert parse_structured_data(b"-") == []
    assert parse_structured_data(b'[a x="1" x="2"][b]') == [SDElement("a", [("x", "1"), ("x", "2")]), SDElement("b")]
    assert parse_structured_data(b'[a x="back\\slash \\n"]') == [SDElement("a", [("x", "back\\slash \\n")])]
    for bad in (
        b"",
        b"[a",
        b'[a x="1"',
        b"[a x=1]",
        b"[a x]",
        b"[ a]",
        b'[a x="1"]junk',
        b"x",
        b"[" + b"n" * 33 + b"]",
    ):
        with pytest.raises(ValueError):
            parse_structured_data(bad)


# ------------------------------------------------------------------------------------------ RFC 3164

NOV_2026 = us("2026-11-22T09:00:00+00:00")


def test_rfc3164_logger_capture() -> None:
    # util-linux `logger --rfc3164 -n 127.0.0.1 -T -t bsdapp -i -p user.notice "bsd style"`
    line = parse_rfc3164(b"<13>Nov 22 08:52:55 vm bsdapp[3895]: bsd style\n", received_us=NOV_2026)
    assert line == LogLine("vm", "bsdapp", "3895", STDOUT, us("2026-11-22T08:52:55+00:00"), "", "bsd style")


def test_rfc3164_variants() -> None:
    # rsyslog RSYSLOG_TraditionalForwardFormat, single-digit day space-padded
    line = parse_rfc3164(b"<30>Nov  2 08:00:01 web01 systemd[1]: Started foo.", received_us=NOV_2026)
    assert (line.app, line.source, line.instance, line.timestamp) == (
        "web01",
        "systemd",
        "1",
        us("2026-11-02T08:00:01+00:00"),
    )
    # rsyslog RSYSLOG_ForwardFormat: RFC 3339 timestamp
    line = parse_rfc3164(b"<27>2024-05-01T10:00:00.5+02:00 web01 app: failed", received_us=NOV_2026)
    assert (line.stream, line.source, line.timestamp) == (STDERR, "app", us("2024-05-01T08:00:00.5+00:00"))
    # no hostname (local sender): the first word is the tag
    line = parse_rfc3164(b"<13>Nov 22 08:52:55 cron[12]: job done", received_us=NOV_2026)
    assert (line.app, line.source, line.instance, line.message) == ("", "cron", "12", "job done")
    # no tag at all
    line = parse_rfc3164(b"<13>Nov 22 08:52:55 host just some words", received_us=NOV_2026)
    assert (line.app, line.source, line.message) == ("host", "", "just some words")
    # no timestamp: the receive time
    line = parse_rfc3164(b"<13>host tag: msg", received_us=NOV_2026)
    assert (line.timestamp, line.app, line.source, line.message) == (NOV_2026, "host", "tag", "msg")


def test_rfc3164_year_rollover() -> None:
    jan_1 = us("2027-01-01T00:00:05+00:00")
    line = parse_rfc3164(b"<13>Dec 31 23:59:59 h t: m", received_us=jan_1)
    assert line.timestamp == us("2026-12-31T23:59:59+00:00")


def test_rfc3164_bad_pri() -> None:
    for frame in (b"no pri", b"<999>Nov 22 08:52:55 h t: m", b"<>x"):
        with pytest.raises(SyslogError, match="PRI"):
            parse_rfc3164(frame)


def test_parse_syslog_dispatches() -> None:
    assert parse_syslog(LOGGER_1).source == "myapp"
    assert parse_syslog(b"<13>Nov 22 08:52:55 vm bsdapp[3895]: bsd style", received_us=NOV_2026).instance == "3895"


# -------------------------------------------------------------------------------------------- format


def test_format_matches_loggregator_byte_for_byte() -> None:
    line = LogLine("test-hostname", "MY-TASK", "2", STDOUT, 12_345, "", "just a test")
    frame = format_rfc5424(
        line,
        app_name="test-app-id",
        procid="[MY-TASK/2]",
        structured_data=[SDElement("tags@47450", [("source_type", "MY TASK")])],
    )
    assert frame == (
        b"<14>1 1970-01-01T00:00:00.012345+00:00 test-hostname test-app-id [MY-TASK/2] - "
        b'[tags@47450 source_type="MY TASK"] just a test\n'
    )
    err = msgspec.structs.replace(line, stream=STDERR)
    assert format_rfc5424(err, app_name="test-app-id", procid="[MY-TASK/2]").startswith(
        b"<11>1 1970-01-01T00:00:00.012345+00:00 test-hostname test-app-id [MY-TASK/2] - - just a test"
    )


def test_format_escapes_sd_like_loggregator() -> None:
    assert format_structured_data([SDElement("tags@47450", [("log-tag", '"]\\')])]) == (
        '[tags@47450 log-tag="\\"\\]\\\\"]'
    )
    assert format_structured_data([]) == "-"


def test_format_defaults_and_roundtrip() -> None:
    line = LogLine("myapp", "app", "web.1", STDERR, us("2024-05-01T10:00:00.5+00:00"), "", "boom ☃")
    frame = format_rfc5424(line)
    assert frame == "<11>1 2024-05-01T10:00:00.5+00:00 myapp app web.1 - - boom ☃\n".encode()
    assert parse_rfc5424(frame) == line
    assert format_rfc5424(line, newline=False).endswith("boom ☃".encode())
    assert format_rfc5424(line, pri=172, msgid="L10").startswith(
        b"<172>1 2024-05-01T10:00:00.5+00:00 myapp app web.1 L10 - "
    )
    with pytest.raises(ValueError):
        format_rfc5424(line, pri=192)


def test_format_sanitises_fields_and_message() -> None:
    line = LogLine("", "my source", "wéb.1", STDOUT, 0, "", "nul\x00byte")
    frame = format_rfc5424(line)
    assert frame == b"<14>1 1970-01-01T00:00:00+00:00 - my-source wb.1 - - nulbyte\n"
    long = LogLine("h" * 300, "a" * 60, "p" * 200, STDOUT, 0, "", "")
    fields = format_rfc5424(long).split(b" ")
    assert [len(f) for f in fields[2:5]] == [255, 48, 128]
    assert (
        format_rfc5424(LogLine("h", "a", "p", STDOUT, 0), newline=False) == b"<14>1 1970-01-01T00:00:00+00:00 h a p - -"
    )
    assert format_rfc5424(LogLine("h", "a", "p", STDOUT, 0)).endswith(b"- - \n")  # as Loggregator


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (0, "1970-01-01T00:00:00+00:00"),
        (12_345, "1970-01-01T00:00:00.012345+00:00"),
        (1_507_215_655_412_873, "2017-10-05T15:00:55.412873+00:00"),
        (1_507_215_655_400_000, "2017-10-05T15:00:55.4+00:00"),
        (1_507_215_655_000_010, "2017-10-05T15:00:55.00001+00:00"),
    ],
)
def test_format_time_like_go_layout(micros: int, text: str) -> None:
    assert format_rfc5424_time(micros) == text
    assert parse_rfc3339_us(text.encode()) == micros


def test_mutated_frames_fail_cleanly_and_both_parsers_agree() -> None:
    """Random byte mutations of real frames: only SyslogError is ever raised, and the fast and the
    full parser agree on whether a frame is valid and on its message, in every SD mode."""
    rng = random.Random(424)
    seeds = [LOGGER_1, LOGGER_2, b"<13>Nov 22 08:52:55 vm bsdapp[3895]: bsd style\n"]
    alphabet = b' <>[]"\\=-:.T0123456789Z+\n\r\xef\xbb\xbfa'
    for _ in range(3000):
        f = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 4)):
            f[rng.randrange(len(f))] = rng.choice(alphabet)
        frame = bytes(f)
        for mode in (True, False, None):
            try:
                fast = parse_rfc5424(frame, structured_data=mode, received_us=0)
            except SyslogError:
                fast = None
            try:
                full = parse_rfc5424_message(frame, structured_data=mode)
            except SyslogError:
                full = None
            assert (fast is None) == (full is None), (mode, frame)
            if fast is not None and full is not None:
                assert fast.message == full.message
        with contextlib.suppress(SyslogError):  # anything else propagates and fails the test
            parse_syslog(frame, received_us=NOV_2026)
