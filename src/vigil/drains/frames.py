"""What a drain writes: RFC 5424 frames with the drain token as HOSTNAME.

    <PRI>1 TIMESTAMP d.TOKEN SOURCE INSTANCE - - MESSAGE\\n

PRI is 14 (user.info) for stdout and 11 (user.err) for stderr, as Loggregator's syslog agent and
Akkeris send them; TIMESTAMP as Loggregator writes it (UTC, up to 6 fraction digits). The bytes are
exactly `syslog.format_rfc5424(line, hostname=token)`: this module only caches the parts that repeat
(the sanitised SOURCE/INSTANCE pair and PRI) and builds many frames in one pass, because formatting
is most of what a healthy drain costs. The frames of an app's lines are made once for all its syslog
drains, with a placeholder as HOSTNAME (`placeholder_frames`); each drain puts its token in with one
`bytes.replace` over its batch.

TCP and TLS frames are octet-counted (RFC 6587 3.4.1); a UDP datagram holds one message, unframed
(RFC 5426), cut to fit `max_datagram` bytes.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from itertools import pairwise
from operator import attrgetter
from typing import Any

from vigil.logs.model import STDERR, LogLine
from vigil.logs.syslog import APP_NAME_MAX, HOSTNAME_MAX, PRI_STDERR, PRI_STDOUT, PROCID_MAX, header_field
from vigil.logs.timefmt import format_rfc5424_time

FIELDS_CACHE_MAX = 4096  # distinct (stream, source, instance) headers remembered

# Stands for the HOSTNAME in frames shared by the drains of an app. It cannot occur anywhere else in
# a frame: NUL bytes are removed from MESSAGE, the header fields are printable ASCII, and UTF-8 never
# makes a 0 byte of another character.
PLACEHOLDER = "\x00"
_PLACEHOLDER_BYTE = PLACEHOLDER.encode()

_message = attrgetter("message")
_frame_fields = attrgetter("stream", "source", "instance", "timestamp", "message")
# A TIMESTAMP's fraction from two table look-ups instead of formatting and trimming six digits for
# every line (that was a third of a frame's cost): the milliseconds, then the microseconds trimmed.
_MILLIS = tuple(f".{i:03d}" for i in range(1000))  # ".120"
_MICROS_TRIMMED = tuple(f"{i:03d}".rstrip("0") for i in range(1000))  # "450" -> "45"
_MILLIS_TRIMMED = tuple(f".{i:03d}".rstrip("0") for i in range(1000))  # ".120" -> ".12" (for 0 µs)

# The last second seen and its TIMESTAMP up to the fraction: lines come in small chunks (one per app
# per message), so most chunks start in the second the last one ended in.
_last_second: list = [None, ""]

# (stream, source, instance) -> "<PRI>1 ", " HOSTNAME SOURCE INSTANCE - - " with the placeholder as
# HOSTNAME, and their length together without it.
_headers: dict[tuple[str, str, str], tuple[str, str, int]] = {}


def _header(stream: str, source: str, instance: str) -> tuple[str, str, int]:
    key = (stream, source, instance)
    parts = _headers.get(key)
    if parts is None:
        head = f"<{PRI_STDERR if stream == STDERR else PRI_STDOUT}>1 "
        fields = (f" {PLACEHOLDER} {header_field(source, APP_NAME_MAX)} {header_field(instance, PROCID_MAX)}"
                  " - - ")
        parts = (head, fields, len(head) + len(fields) - len(PLACEHOLDER))
        if len(_headers) >= FIELDS_CACHE_MAX:
            _headers.clear()
        _headers[key] = parts
    return parts


class SharedFrames:
    """Octet-counted frames of `count` consecutive lines with the placeholder as HOSTNAME, for a
    hostname of `host_len` characters (the octet counts include it)."""

    __slots__ = ("_starts", "count", "data", "host_len")

    def __init__(self, data: bytes, count: int, host_len: int) -> None:
        self.data = data
        self.count = count
        self.host_len = host_len
        self._starts: array[int] | None = None  # where each frame starts, and the end: found on the first cut

    def slice(self, start: int, end: int) -> bytes:
        """The frames of lines [start, end)."""
        if start == 0 and end == self.count:
            return self.data
        starts = self._starts
        if starts is None:
            starts = self._starts = self._find_starts()
        return self.data[starts[start]:starts[end]]

    def for_host_len(self, host_len: int) -> SharedFrames:
        """The same frames counted for a hostname of `host_len` characters (a drain whose token is not as
        long as the others': rare, so line by line)."""
        if host_len == self.host_len:
            return self
        starts = self._starts
        if starts is None:
            starts = self._starts = self._find_starts()
        data, delta = self.data, host_len - self.host_len
        out = []
        for start, end in pairwise(starts):
            space = data.index(b" ", start)
            out.append(b"%d" % (int(data[start:space]) + delta))
            out.append(data[space:end])
        return SharedFrames(b"".join(out), self.count, host_len)

    def _find_starts(self) -> array[int]:
        """Walk the octet counts. Only a chunk that a read cuts needs this (most are taken whole)."""
        data, shrink = self.data, self.host_len - len(_PLACEHOLDER_BYTE)
        starts = array("q", [0])
        pos = 0
        for _ in range(self.count):
            space = data.index(b" ", pos)
            pos = space + 1 + int(data[pos:space]) - shrink
            starts.append(pos)
        return starts


def placeholder_frames(lines: Sequence[LogLine], host_len: int, messages: str | None = None) -> SharedFrames:
    """The lines' frames as every syslog drain of their app writes them, but with the placeholder as
    HOSTNAME (`host_len` characters long in the octet counts): one pass for all of the app's drains.

    Built as text and encoded once. The messages are looked at together first: when none holds a
    NUL or a LF (nearly always) a frame is one f-string whose octet count is added up from its
    parts' lengths (characters = bytes for ASCII), with no per-line checks. `messages`, if given, is
    the lines' messages joined (the caller had them already)."""
    if messages is None:
        messages = "".join(map(_message, lines))
    ascii_only = messages.isascii()
    if "\x00" in messages or "\n" in messages:
        out = _checked_frames(lines, host_len)
    else:
        out = []
        append = out.append
        headers = _headers
        last_sec, prefix = _last_second
        base = host_len + len(prefix) + 7  # "+00:00" and the LF
        for stream, source, instance, timestamp, msg in map(_frame_fields, lines):
            parts = headers.get((stream, source, instance))
            head, fields, size = parts if parts is not None else _header(stream, source, instance)
            sec, frac = divmod(timestamp, 1_000_000)
            if sec != last_sec:
                last_sec, prefix = sec, format_rfc5424_time(sec * 1_000_000)[:-6]
                base = host_len + len(prefix) + 7
                _last_second[:] = (sec, prefix)
            ms, us = divmod(frac, 1000)
            fraction = _MILLIS[ms] + _MICROS_TRIMMED[us] if us else _MILLIS_TRIMMED[ms] if ms else ""
            n = size + base + len(fraction) + (len(msg) if ascii_only or msg.isascii() else len(msg.encode()))
            append(f"{n} {head}{prefix}{fraction}+00:00{fields}{msg}\n")
    return SharedFrames("".join(out).encode(), len(out), host_len)


def _checked_frames(lines: Sequence[LogLine], host_len: int) -> list[str]:
    """`placeholder_frames` for lines that may hold a NUL (removed) or end with a LF (not doubled)."""
    out = []
    for line in lines:
        head, fields, _ = _header(line.stream, line.source, line.instance)
        msg = line.message
        if "\x00" in msg:
            msg = msg.replace("\x00", "")
        ts = format_rfc5424_time(line.timestamp)
        text = f"{head}{ts}{fields}{msg}" if msg.endswith("\n") else f"{head}{ts}{fields}{msg}\n"
        n = (len(text) if text.isascii() else len(text.encode())) - len(PLACEHOLDER) + host_len
        out.append(f"{n} {text}")
    return out


class SyslogFramer:
    """RFC 5424 frames of one drain."""

    __slots__ = ("_host", "hostname")

    def __init__(self, token: str) -> None:
        self.hostname = header_field(token, HOSTNAME_MAX)
        self._host = self.hostname.encode()

    def message(self, line: LogLine) -> bytes:
        """One RFC 5424 message (with its trailing LF), not framed."""
        head, fields, _ = _header(line.stream, line.source, line.instance)
        msg = line.message
        if "\x00" in msg:
            msg = msg.replace("\x00", "")
        if not msg.endswith("\n"):
            msg += "\n"
        return f"{head}{format_rfc5424_time(line.timestamp)}{fields}{msg}".replace(PLACEHOLDER, self.hostname).encode()

    def octet_counted(self, lines: Sequence[LogLine]) -> bytes:
        """The lines as one run of octet-counted frames: one TCP write."""
        return self.insert_host(placeholder_frames(lines, len(self.hostname)).data)

    def octet_counted_pieces(self, pieces: Iterable[tuple[Any, int, int]]) -> bytes:
        """`octet_counted` of pieces of chunks (`buffer.Chunk`, start, end), from the chunks' shared frames."""
        host_len = len(self.hostname)
        return self.insert_host(b"".join([chunk.frames(host_len).slice(start, end) for chunk, start, end in pieces]))

    def insert_host(self, frames: bytes) -> bytes:
        return frames.replace(_PLACEHOLDER_BYTE, self._host)

    def datagram(self, line: LogLine, max_bytes: int) -> bytes:
        """One UDP datagram: the message, cut (at a character boundary) to `max_bytes` with its LF kept."""
        frame = self.message(line)
        if len(frame) <= max_bytes:
            return frame
        return frame[: max_bytes - 1].decode("utf-8", "ignore").encode() + b"\n"
