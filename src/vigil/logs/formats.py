"""Human-readable line formats, byte-for-byte as the tools users know print them.

Akkeris log sessions (akkeris/logshuttle shuttle/session.go)::

    2016-07-19T21:20:22Z app-space app[web.1]: message
    2018-03-24T01:07:18Z appname-space akkeris/router: host=... path=/theme

``cf logs``, cf CLI v7 and later (util/ui/log_message.go)::

    2016-07-19T16:08:12.00-0700 [APP/PROC/WEB/12] OUT This is a log message

``cf logs``, cf CLI v6 (cf/api/logs/log_cache_message.go), which pads the source column::

    1970-01-01T00:00:00.00+0000 [STG/1]      OUT some-message
    1970-01-01T00:00:00.00+0000 [APP/PROC/WEB/0]OUT some-message   (sic: no padding left, no space)
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from typing import Final

from .model import STDERR, LogLine
from .timefmt import format_seconds_z, to_datetime


def akkeris_tag(line: LogLine) -> str:
    """``source[instance]`` (``app[web.1]``), or just ``source`` (``akkeris/router``) without one."""
    return f"{line.source}[{line.instance}]" if line.instance else line.source


def format_akkeris(line: LogLine, *, space: str | None = None) -> str:
    """An Akkeris log-session line (no trailing LF; the session writes one after each line).

    The second column is the Akkeris app key ``<app>-<space>``: pass `space` when LogLine.app holds
    the bare app name, leave it None when LogLine.app already is the key. The time is RFC 3339 in
    UTC to the second with 'Z' (Go time.RFC3339; the fraction is truncated), and the message is
    whitespace-trimmed at both ends (Go strings.TrimSpace), exactly as logshuttle does.
    """
    key = f"{line.app}-{space}" if space else line.app
    return f"{format_seconds_z(line.timestamp)} {key} {akkeris_tag(line)}: {line.message.strip()}"


def format_akkeris_lines(lines: Iterable[LogLine]) -> str:
    """`format_akkeris` of each line, each followed by LF, in one string: what a log session writes
    for a batch. One pass; the time column is formatted once per second, not once per line."""
    out: list[str] = []
    append = out.append
    last_sec: int | None = None
    stamp = ""
    for line in lines:
        sec = line.timestamp // 1_000_000
        if sec != last_sec:
            stamp, last_sec = format_seconds_z(line.timestamp), sec
        source, instance = line.source, line.instance
        if instance:
            append(f"{stamp} {line.app} {source}[{instance}]: {line.message.strip()}\n")
        else:
            append(f"{stamp} {line.app} {source}: {line.message.strip()}\n")
    return "".join(out)


def cf_timestamp(us: int, tz: _dt.tzinfo = _dt.UTC) -> str:
    """Go layout "2006-01-02T15:04:05.00-0700": hundredths truncated (Go never rounds), offset
    without a colon, UTC as +0000."""
    d = to_datetime(us, tz)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 10_000:02d}" + d.strftime("%z")


def cf_type(line: LogLine) -> str:
    return "ERR" if line.stream == STDERR else "OUT"


def format_cf(line: LogLine, *, tz: _dt.tzinfo = _dt.UTC, indent: bool = False) -> str:
    """``cf logs`` output of cf CLI v7+: ``TIME [SOURCE/INSTANCE] OUT|ERR message``.

    Every line of a multi-line message gets its own header and trailing CR/LF are trimmed; lines are
    joined with LF (no trailing LF). One deliberate difference: a message ending in LF does not
    produce a last, empty header line (the v7 CLI would print one). The CLI prints in the user's
    local zone - pass it as `tz`. It also indents each line by three spaces on the terminal
    (`indent=True`). Like the CLI, an empty instance still prints the slash: ``[STG/]``.
    """
    header = f"{cf_timestamp(line.timestamp, tz)} [{line.source}/{line.instance}] {cf_type(line)} "
    prefix = "   " + header if indent else header
    parts = line.message.rstrip("\r\n").split("\n")
    return "\n".join(prefix + part.rstrip("\r") for part in parts)


# len("2006-01-02T15:04:05.00-0700  [HEALTH/10] "): the CLI's "longest expected header"
_CF_V6_HEADER_WIDTH: Final = 41


def format_cf_legacy(line: LogLine, *, tz: _dt.tzinfo = _dt.UTC) -> str:
    """``cf logs`` output of cf CLI v6: the ``TIME [SOURCE/INSTANCE]`` header is padded with spaces
    to 41 characters, then ``OUT|ERR message``; continuation lines of a multi-line message are
    indented to the message column. Headers of 41+ characters get no padding - and, faithfully, no
    space before OUT (``[APP/PROC/WEB/0]OUT``). No instance prints ``[SOURCE]``.
    """
    ts = cf_timestamp(line.timestamp, tz)
    header = f"{ts} [{line.source}/{line.instance}]" if line.instance else f"{ts} [{line.source}]"
    header += " " * max(0, _CF_V6_HEADER_WIDTH - len(header))
    parts = line.message.rstrip("\r\n").split("\n")
    pad = "\n" + " " * len(header)
    return f"{header}{cf_type(line)} {parts[0]}" + "".join(pad + p for p in parts[1:])
