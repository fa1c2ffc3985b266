"""Heroku Logplex's ``application/logplex-1`` HTTP bodies, and its L10 overflow notice.

A logplex-1 body is RFC 6587 octet-counted RFC 5424 frames, back to back, each frame usually ending in
LF (counted). Logplex's own documentation (doc/README.http_drains.md) warns that the frames "do not
include STRUCTURED-DATA and do not put a NILVALUE in its place":

    70 <174>1 2012-07-22T00:06:26+00:00 host erlang console - Hi from erlang\\n

so they are parsed with ``structured_data=False`` by default. Headers Logplex sends with each POST:
Content-Type, Logplex-Msg-Count, Logplex-Frame-Id (unchanged on retries), Logplex-Drain-Token.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Final

import msgspec

from .model import STDOUT, LogLine, now_us
from .syslog import (
    APP_NAME_MAX,
    HOSTNAME_MAX,
    MSGID_MAX,
    PRI_STDERR,
    PRI_STDOUT,
    PROCID_MAX,
    SyslogError,
    header_field,
    parse_rfc5424,
)
from .timefmt import format_rfc5424_time, format_seconds_offset

CONTENT_TYPE: Final = "application/logplex-1"
# Logplex also accepts this spelling on input (logplex_logs_rest.erl).
CONTENT_TYPES: Final = frozenset((CONTENT_TYPE, "application/x-logplex-1"))
# Logplex's http_drain_target_bytes default.
TARGET_BATCH_BYTES: Final = 102_400
_MAX_LEN_DIGITS: Final = 10


class LogplexError(ValueError):
    """A logplex-1 body that cannot be trusted (bad framing or a Logplex-Msg-Count mismatch).

    Logplex answers such a request with 400; so should an ingest endpoint.
    """


class LogplexBatch(msgspec.Struct, frozen=True):
    """One POST worth of frames: the body plus the values of its Logplex-* headers."""

    body: bytes
    count: int  # Logplex-Msg-Count
    frame_id: str  # Logplex-Frame-Id: keep it when retrying so the receiver can drop duplicates


def new_frame_id() -> str:
    """A Logplex-Frame-Id: 128 random bits as 32 upper-case hex digits, like Logplex's."""
    return secrets.token_hex(16).upper()


def _parse_count(msg_count: int | str | bytes) -> int:
    if isinstance(msg_count, int):
        return msg_count
    raw = msg_count.strip()
    if not raw.isdigit():  # also rejects '+5', '1_0', ' ' which int() would take or choke on
        raise LogplexError(f"Logplex-Msg-Count is not a number: {msg_count!r}")
    return int(raw)


def parse_logplex_body(body: bytes, msg_count: int | str | bytes | None = None) -> list[bytes]:
    """Split a logplex-1 body into its frames (each without the octet count).

    `msg_count` is the Logplex-Msg-Count header; when given (it is optional, as in Logplex) the
    number of frames must match. CR/LF/SP between frames are tolerated. Raises LogplexError on a
    bad octet count, a truncated last frame, or a count mismatch.
    """
    frames: list[bytes] = []
    pos, n = 0, len(body)
    while pos < n:
        if body[pos] in b"\r\n ":
            pos += 1
            continue
        sp = body.find(b" ", pos, pos + _MAX_LEN_DIGITS + 1)
        head = body[pos:sp] if sp != -1 else b""
        if not head.isdigit() or head[0] == 48:
            raise LogplexError(f"expected an octet count at byte {pos}: {body[pos : pos + 20]!r}")
        end = sp + 1 + int(head)
        if end > n:
            raise LogplexError(f"frame at byte {pos} claims {int(head)} bytes, body has {n - sp - 1}")
        frames.append(body[sp + 1 : end])
        pos = end
    if msg_count is not None and (expected := _parse_count(msg_count)) != len(frames):
        raise LogplexError(f"Logplex-Msg-Count is {expected} but the body has {len(frames)} messages")
    return frames


def parse_logplex_lines(
    body: bytes,
    msg_count: int | str | bytes | None = None,
    *,
    app: str | None = None,
    host: str = "",
    structured_data: bool | None = False,
    strict: bool = False,
    received_us: int | None = None,
) -> tuple[list[LogLine], int]:
    """Parse a logplex-1 body into LogLines; returns (lines, number of malformed frames skipped).

    `app` should be the app the drain token / URL identifies: Logplex writes the literal HOSTNAME
    ``host``. `structured_data=None` auto-detects SD for senders that do include it. With
    `strict=True` a malformed frame rejects the whole body (LogplexError), as Logplex itself does;
    the default skips it so one bad line does not lose a 100 KB batch.
    """
    lines: list[LogLine] = []
    bad = 0
    for frame in parse_logplex_body(body, msg_count):
        try:
            lines.append(
                parse_rfc5424(frame, host=host, app=app, structured_data=structured_data, received_us=received_us)
            )
        except SyslogError as exc:
            if strict:
                raise LogplexError(f"malformed message: {exc.reason}") from exc
            bad += 1
    return lines, bad


def format_logplex_frame(line: LogLine, *, hostname: str | None = None, pri: int | None = None) -> bytes:
    """One logplex-1 frame (without octet count): ``<PRI>1 TS HOST APP PROCID - MSG\\n``, no SD.

    HOSTNAME defaults to the app (Logplex itself writes ``host``; pass hostname="host" to match).
    """
    if pri is None:
        pri = PRI_STDOUT if line.stream == STDOUT else PRI_STDERR
    msg = line.message.replace("\x00", "") if "\x00" in line.message else line.message
    if not msg.endswith("\n"):
        msg += "\n"
    return (
        f"<{pri}>1 {format_rfc5424_time(line.timestamp)} "
        f"{header_field(line.app if hostname is None else hostname, HOSTNAME_MAX)} "
        f"{header_field(line.source, APP_NAME_MAX)} {header_field(line.instance, PROCID_MAX)} "
        f"{header_field('', MSGID_MAX)} {msg}"
    ).encode()


def build_logplex_batches(
    lines: Iterable[LogLine],
    *,
    target_bytes: int = TARGET_BATCH_BYTES,
    hostname: str | None = None,
) -> list[LogplexBatch]:
    """Pack lines into logplex-1 bodies of less than `target_bytes` each (~100 KB, as Logplex).

    Order is kept. A single frame of `target_bytes` or more travels alone in its own batch (Logplex
    would tack it onto the current one; alone keeps every other batch under the target).
    """
    batches: list[LogplexBatch] = []
    parts: list[bytes] = []
    size = 0
    for line in lines:
        frame = format_logplex_frame(line, hostname=hostname)
        framed = b"%d %b" % (len(frame), frame)
        if parts and size + len(framed) >= target_bytes:
            batches.append(LogplexBatch(b"".join(parts), len(parts), new_frame_id()))
            parts, size = [], 0
        parts.append(framed)
        size += len(framed)
        if size >= target_bytes:  # the pig: ship it alone
            batches.append(LogplexBatch(b"".join(parts), len(parts), new_frame_id()))
            parts, size = [], 0
    if parts:
        batches.append(LogplexBatch(b"".join(parts), len(parts), new_frame_id()))
    return batches


# --------------------------------------------------------------------------- L10 overflow notice
# logplex_syslog_utils:overflow_msg/2 logs it with facility local5, severity warning, source
# "heroku", process "logplex", at the current time; `heroku logs` shows it as
#   2011-05-03T17:40:10+00:00 heroku[logplex]: Error L10 (output buffer overflow): 500 messages
#   dropped since 2011-05-03T17:35:00+00:00.
OVERFLOW_SOURCE: Final = "heroku"
OVERFLOW_INSTANCE: Final = "logplex"
OVERFLOW_PRI: Final = 21 * 8 + 4  # local5.warning = 172: pass as format_rfc5424(pri=...)


def overflow_message(dropped: int, since_us: int) -> str:
    """``Error L10 (output buffer overflow): N messages dropped since YYYY-MM-DDTHH:MM:SS+00:00.``"""
    return f"Error L10 (output buffer overflow): {dropped} messages dropped since {format_seconds_offset(since_us)}."


def overflow_notice(app: str, dropped: int, since_us: int, *, at_us: int | None = None) -> LogLine:
    """The LogLine a drain emits (first, in the next batch) after dropping `dropped` lines of `app`
    since `since_us` because its buffer overflowed. Severity warning -> stdout."""
    return LogLine(
        app,
        OVERFLOW_SOURCE,
        OVERFLOW_INSTANCE,
        STDOUT,
        now_us() if at_us is None else at_us,
        "",
        overflow_message(dropped, since_us),
    )
