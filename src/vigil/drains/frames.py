"""What a drain writes: RFC 5424 frames with the drain token as HOSTNAME.

    <PRI>1 TIMESTAMP d.TOKEN SOURCE INSTANCE - - MESSAGE\\n

PRI is 14 (user.info) for stdout and 11 (user.err) for stderr, as Loggregator's syslog agent and
Akkeris send them; TIMESTAMP as Loggregator writes it (UTC, up to 6 fraction digits). The bytes are
exactly `syslog.format_rfc5424(line, hostname=token)`: this module only caches the parts that repeat
(the sanitised SOURCE/INSTANCE pair and PRI), because a drain formats every line it delivers and
that is the one per-line cost a healthy drain adds to the event loop.

TCP and TLS frames are octet-counted (RFC 6587 3.4.1); a UDP datagram holds one message, unframed
(RFC 5426), cut to fit `max_datagram` bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

from vigil.logs.model import STDERR, LogLine
from vigil.logs.syslog import APP_NAME_MAX, HOSTNAME_MAX, PRI_STDERR, PRI_STDOUT, PROCID_MAX, header_field
from vigil.logs.timefmt import format_rfc5424_time

FIELDS_CACHE_MAX = 4096  # distinct (stream, source, instance) headers remembered per drain


class SyslogFramer:
    """RFC 5424 frames of one drain."""

    __slots__ = ("_fields", "hostname")

    def __init__(self, token: str) -> None:
        self.hostname = header_field(token, HOSTNAME_MAX)
        # (stream, source, instance) -> "<PRI>1 ", " TOKEN SOURCE INSTANCE - - "
        self._fields: dict[tuple[str, str, str], tuple[str, str]] = {}

    def _parts(self, line: LogLine) -> tuple[str, str]:
        key = (line.stream, line.source, line.instance)
        parts = self._fields.get(key)
        if parts is None:
            pri = PRI_STDERR if line.stream == STDERR else PRI_STDOUT
            parts = (f"<{pri}>1 ", f" {self.hostname} {header_field(line.source, APP_NAME_MAX)} "
                                   f"{header_field(line.instance, PROCID_MAX)} - - ")
            if len(self._fields) >= FIELDS_CACHE_MAX:
                self._fields.clear()
            self._fields[key] = parts
        return parts

    def message(self, line: LogLine) -> bytes:
        """One RFC 5424 message (with its trailing LF), not framed."""
        head, fields = self._parts(line)
        msg = line.message
        if "\x00" in msg:
            msg = msg.replace("\x00", "")
        if not msg.endswith("\n"):
            msg += "\n"
        return f"{head}{format_rfc5424_time(line.timestamp)}{fields}{msg}".encode()

    def octet_counted(self, lines: Sequence[LogLine]) -> bytes:
        """The lines as one run of octet-counted frames: one TCP write.

        Built as text and encoded once: for an ASCII frame (nearly all) the octet count is its length
        in characters, so no line is encoded on its own."""
        out = []
        append = out.append
        cache = self._fields
        last_sec, prefix = -1, ""
        for line in lines:
            head_fields = cache.get((line.stream, line.source, line.instance))
            head, fields = head_fields if head_fields is not None else self._parts(line)
            sec, frac = divmod(line.timestamp, 1_000_000)
            if sec != last_sec:
                last_sec, prefix = sec, format_rfc5424_time(sec * 1_000_000)[:-6]
            ts = f"{prefix}.{frac:06d}".rstrip("0") + "+00:00" if frac else prefix + "+00:00"
            msg = line.message
            if "\x00" in msg:
                msg = msg.replace("\x00", "")
            text = f"{head}{ts}{fields}{msg}" if msg.endswith("\n") else f"{head}{ts}{fields}{msg}\n"
            append(f"{len(text) if text.isascii() else len(text.encode())} {text}")
        return "".join(out).encode()

    def datagram(self, line: LogLine, max_bytes: int) -> bytes:
        """One UDP datagram: the message, cut (at a character boundary) to `max_bytes` with its LF kept."""
        frame = self.message(line)
        if len(frame) <= max_bytes:
            return frame
        return frame[: max_bytes - 1].decode("utf-8", "ignore").encode() + b"\n"
