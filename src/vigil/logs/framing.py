"""Syslog over TCP (RFC 6587): an incremental, bounded deframer and the octet-counting encoder.

The framing method is chosen once per connection from its first byte, as RFC 6587 3.4 suggests a
receiver can: a digit means octet counting (``MSG-LEN SP SYSLOG-MSG``, 3.4.1), ``<`` (or anything
else) means non-transparent framing, one message per LF-terminated line (3.4.2).

Memory is bounded: at most ``max_frame`` + 11 bytes are buffered per connection. A frame longer than
``max_frame`` is skipped without being buffered and counted in ``oversized``; because its length is
known (octet counting) or its end is the next LF (non-transparent), the stream stays in sync.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

DEFAULT_MAX_FRAME: Final = 64 * 1024
# MSG-LEN digits we accept before the SP: 10 digits is already > 4 GiB; more is garbage, not a length.
_MAX_LEN_DIGITS: Final = 10
_INTER_FRAME: Final = b"\r\n \x00"  # tolerated between octet-counted frames (not counted as junk)

Mode = Literal["octet", "newline"]


def octet_frame(frame: bytes) -> bytes:
    """RFC 6587 octet-counting: ``b"<len> " + frame``."""
    return b"%d %b" % (len(frame), frame)


def octet_frames(frames: Iterable[bytes]) -> bytes:
    """Several frames octet-counted back to back (one TCP write, or a logplex-1 body)."""
    return b"".join(b"%d %b" % (len(f), f) for f in frames)


def _resync_point(buf: bytes, start: int) -> int:
    """Start of the next plausible ``DIGITS SP <`` header at or after `start`, or -1."""
    i = buf.find(b" <", start)
    while i != -1:
        j = i
        while j > start and 48 <= buf[j - 1] <= 57:
            j -= 1
        if j < i and buf[j] != 48 and i - j <= _MAX_LEN_DIGITS:
            return j
        i = buf.find(b" <", i + 1)
    return -1


class SyslogDeframer:
    """Turns the byte stream of one syslog TCP connection into frames.

    ``feed(data)`` returns the complete frames (without octet count or LF trailer) that `data`
    finished; ``close()`` flushes at end of stream. Counters: ``frames`` returned, ``malformed``
    (bad octet-count header, non-syslog line, truncated last frame) and ``oversized`` (longer than
    ``max_frame``, skipped).
    """

    __slots__ = (
        "_buf",
        "_discard_line",
        "_in_token",
        "_more",
        "_more_len",
        "_need_lf",
        "_resync",
        "_skip",
        "_wake",
        "frames",
        "malformed",
        "max_frame",
        "mode",
        "oversized",
    )

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        if max_frame < 1:
            raise ValueError("max_frame must be positive")
        self.max_frame = max_frame
        self.mode: Mode | None = None
        self.frames = 0
        self.malformed = 0
        self.oversized = 0
        self._buf = b""
        self._skip = 0  # octet mode: bytes of an oversized frame still to discard
        self._resync = False  # octet mode: looking for the next header after garbage
        self._in_token = False  # octet mode: the garbage token continues in the next read
        self._discard_line = False  # newline mode: discarding an oversized line up to its LF
        # While a frame is known to be incomplete, reads are only collected in _more and joined
        # once the frame can be complete: a sender trickling a 64 KiB frame one byte per packet
        # must not cost 64 Ki copies of the buffer.
        self._more: list[bytes] = []
        self._more_len = 0
        self._wake = 0  # octet mode: buffered length at which the pending frame is complete
        self._need_lf = False  # newline mode: the buffered partial line needs a LF

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf) + self._more_len

    def feed(self, data: bytes) -> list[bytes]:
        if self._skip:
            if len(data) <= self._skip:
                self._skip -= len(data)
                return []
            data = data[self._skip :]
            self._skip = 0
        if self._wake or self._need_lf:
            total = len(self._buf) + self._more_len + len(data)
            if (self._wake and total < self._wake) or (
                self._need_lf and b"\n" not in data and total <= self.max_frame + 1
            ):
                self._more.append(bytes(data))
                self._more_len += len(data)
                return []
            if self._more:
                data = b"".join([*self._more, data])
                self._more.clear()
                self._more_len = 0
            self._wake, self._need_lf = 0, False
        buf = self._buf + data if self._buf else bytes(data)
        if self.mode is None:
            stripped = buf.lstrip(_INTER_FRAME)
            if not stripped:
                self._buf = b""
                return []
            self.mode = "octet" if 48 <= stripped[0] <= 57 else "newline"
        out: list[bytes] = []
        if self.mode == "octet":
            self._buf = buf[self._octet(buf, out) :]
        else:
            self._buf = buf[self._newline(buf, out) :]
        self.frames += len(out)
        return out

    def close(self) -> list[bytes]:
        """End of stream: return a last unterminated line (non-transparent framing) if any; a
        partial octet-counted frame is counted as malformed (truncated)."""
        buf = self._buf + b"".join(self._more)
        self._buf, self._more, self._more_len, self._wake, self._need_lf = b"", [], 0, 0, False
        out: list[bytes] = []
        if self.mode == "newline" and not self._discard_line:
            frame = buf.rstrip(b"\r")
            if frame:
                if frame[0] == 60:
                    out.append(frame)
                else:
                    self.malformed += 1
        elif self.mode == "octet" and buf.strip(_INTER_FRAME) and not self._resync:
            self.malformed += 1  # a frame cut short (garbage being resynced was already counted)
        self._skip, self._resync, self._in_token, self._discard_line = 0, False, False, False
        self.frames += len(out)
        return out

    def _octet(self, buf: bytes, out: list[bytes]) -> int:
        """Consume octet-counted frames from buf; returns how many bytes were consumed."""
        pos, n, max_frame = 0, len(buf), self.max_frame
        while pos < n:
            if self._resync:
                if self._in_token:  # finish skipping the bad token first
                    tok_end = buf.find(b" ", pos)
                    if tok_end == -1:
                        return n
                    pos, self._in_token = tok_end, False
                nxt = _resync_point(buf, pos)
                if nxt == -1:
                    # Keep a tail that may hold the start of a header split across reads, cut at
                    # the start of a digit run so "007" never resurfaces as a header "7".
                    keep = max(pos, n - _MAX_LEN_DIGITS - 1)
                    while keep > pos and 48 <= buf[keep - 1] <= 57:
                        keep -= 1
                    return keep
                pos, self._resync = nxt, False
            if buf[pos] in _INTER_FRAME:  # LF etc. some senders put after each counted frame
                pos += 1
                continue
            sp = buf.find(b" ", pos, pos + _MAX_LEN_DIGITS + 1)
            if sp == -1:
                head = buf[pos : pos + _MAX_LEN_DIGITS + 1]
                if len(head) <= _MAX_LEN_DIGITS and head.isdigit() and head[0] != 48:
                    return pos  # a header still arriving
                sp = pos  # garbage: fall through to the malformed branch below
            head = buf[pos:sp]
            if not head.isdigit() or head[0] == 48:  # MSG-LEN = NONZERO-DIGIT *DIGIT
                # Garbage: count it once, skip the bad token and look for the next header.
                self.malformed += 1
                self._resync = True
                tok_end = buf.find(b" ", pos)
                if tok_end == -1:
                    self._in_token = True
                    return n
                pos = tok_end
                continue
            length = int(head)
            start = sp + 1
            end = start + length
            if length > max_frame:
                self.oversized += 1
                if end > n:
                    self._skip = end - n
                    return n
                pos = end
                continue
            if end > n:
                self._wake = end - pos  # wait for the rest (bounded: length <= max_frame)
                return pos
            out.append(buf[start:end])
            pos = end
        return pos

    def _newline(self, buf: bytes, out: list[bytes]) -> int:
        """Consume LF-terminated frames from buf; returns how many bytes were consumed."""
        pos, n, max_frame = 0, len(buf), self.max_frame
        while pos < n:
            if self._discard_line:
                nl = buf.find(b"\n", pos)
                if nl == -1:
                    return n
                pos, self._discard_line = nl + 1, False
                continue
            # a frame may be max_frame bytes plus an optional CR before the LF
            nl = buf.find(b"\n", pos, pos + max_frame + 2)
            if nl == -1:
                if n - pos > max_frame + 1:
                    self.oversized += 1
                    self._discard_line = True
                    pos += max_frame + 2  # no LF in there: discard it and look for the LF beyond
                    continue
                self._need_lf = True
                return pos
            frame = buf[pos : nl - 1] if nl > pos and buf[nl - 1] == 13 else buf[pos:nl]
            pos = nl + 1
            if not frame:
                continue  # blank line: keep-alive or stray CRLF, not an error
            if len(frame) > max_frame:
                self.oversized += 1
            elif frame[0] != 60:  # '<': every syslog message starts with PRI
                self.malformed += 1
            else:
                out.append(frame)
        return pos
