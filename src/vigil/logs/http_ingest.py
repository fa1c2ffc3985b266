"""Bodies of `POST /v1/logs`: `application/logplex-1` frames or JSON lines, into LogLines.

JSON: one object or a list of `{"app", "source", "instance", "stream", "time", "message", "host"}`;
`app` and `message` are required; `source` defaults to `app`, `instance` and `host` to "",
`stream` to `stdout`; `time` is epoch seconds (a number, fractions allowed) or an RFC 3339 string,
default the time of receipt. A body with any bad line is refused whole (400) and stores nothing.

logplex-1: octet-counted RFC 5424 frames (no STRUCTURED-DATA, as Logplex writes them), checked
against `Logplex-Msg-Count`; a malformed frame is skipped and counted, a bad count or framing
refuses the body (400). The app is the frame's HOSTNAME unless the request names one (`?app=`),
which Heroku-style HTTPS drains need: they write the literal HOSTNAME `host`.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import msgspec

from vigil.errors import ParamsError, RequestError
from vigil.logs.logplex import LogplexError, parse_logplex_lines
from vigil.logs.model import STREAMS, LogLine, is_valid_app_name
from vigil.logs.pipeline import clip
from vigil.logs.timefmt import parse_rfc3339_str_us

MAX_REPORTED = 20


class LineIn(msgspec.Struct, gc=False):
    app: str
    message: str
    source: str = "app"
    instance: str = ""
    stream: str = "stdout"
    time: float | str | None = None
    host: str = ""


_decoder = msgspec.json.Decoder(list[LineIn] | LineIn)


def _time_us(value: float | str | None, now_us: int) -> int:
    if value is None:
        return now_us
    if isinstance(value, str):
        return parse_rfc3339_str_us(value)
    if not 0 <= value < 1e11:  # seconds: up to the year 5138; a millisecond value is a mistake
        raise ValueError("must be epoch seconds or an RFC 3339 date-time")
    return int(value * 1_000_000)


def parse_json_lines(body: bytes, *, max_line_bytes: int, max_lines: int) -> list[LogLine]:
    try:
        decoded = _decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise RequestError(f"The request body is not a log line or a list of them: {exc}") from None
    except msgspec.DecodeError as exc:
        raise RequestError(f"The request body is not valid JSON: {exc}") from None
    items = decoded if isinstance(decoded, list) else [decoded]
    if len(items) > max_lines:
        raise RequestError(f"A request may carry at most {max_lines} lines")
    now = time.time_ns() // 1000
    errors: dict[str, list[str]] = {}
    lines: list[LogLine] = []
    for i, item in enumerate(items):
        if not is_valid_app_name(item.app):
            errors[f"[{i}].app"] = ["must be an app name: lower-case letters, digits and '-', at most 63 characters"]
        if item.stream not in STREAMS:
            errors[f"[{i}].stream"] = ["must be stdout or stderr"]
        try:
            ts = _time_us(item.time, now)
        except ValueError as exc:
            errors[f"[{i}].time"] = [str(exc)]
            ts = 0
        if len(errors) >= MAX_REPORTED:
            break
        if not errors:
            lines.append(LogLine(item.app, item.source[:255], item.instance[:255], item.stream, ts, item.host[:255],
                                 clip(item.message, max_line_bytes)))
    if errors:
        raise ParamsError(errors)
    return lines


def parse_logplex(body: bytes, msg_count: str | None, *, app: str | None, host: str,
                  max_line_bytes: int) -> tuple[list[LogLine], int]:
    """(lines, malformed frames skipped)."""
    if app is not None and not is_valid_app_name(app):
        raise ParamsError({"app": ["must be an app name: lower-case letters, digits and '-', at most 63 characters"]})
    try:
        lines, bad = parse_logplex_lines(body, msg_count, app=app, host=host)
    except LogplexError as exc:
        raise RequestError(str(exc)) from None
    if any(len(x.message) > max_line_bytes for x in lines):
        lines = [msgspec.structs.replace(x, message=clip(x.message, max_line_bytes)) for x in lines]
    return lines, bad


class RecentIds:
    """The last `capacity` Logplex-Frame-Ids: a retried batch is recognised and not stored twice."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def seen(self, frame_id: str) -> bool:
        """True if `frame_id` was seen before; remembers it otherwise."""
        if frame_id in self._ids:
            self._ids.move_to_end(frame_id)
            return True
        self._ids[frame_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return False

    def forget(self, frame_id: str) -> None:
        self._ids.pop(frame_id, None)

    def __len__(self) -> int:
        return len(self._ids)
