"""The log line every codec in this package produces or consumes.

`LogLine` is a `msgspec.Struct` rather than a dataclass: construction is ~2x cheaper, which matters at
hundreds of thousands of lines per second, and other parts of Vigil can encode it straight to JSON or
msgpack with msgspec. `gc=False` because a LogLine only ever holds str/int (it can never be part of a
reference cycle), so the cyclic GC never needs to track the millions of them alive in buffers.
`array_like=True` because lines cross process boundaries as msgpack (syslog workers to the server,
the server to the drain delivery process): as arrays they decode a third faster than as maps with
the field names repeated in every line (0.41 against 0.62 µs a line) and take a third fewer bytes.
"""

from __future__ import annotations

import re
import time
from typing import Final

import msgspec

STDOUT: Final = "stdout"
STDERR: Final = "stderr"
STREAMS: Final = frozenset((STDOUT, STDERR))


class LogLine(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """One application log line.

    app:       the application it belongs to (Vigil app name, see `validate_app_name`), "" if unknown.
    source:    who emitted it: ``app``, ``router``, ``build``, ``heroku``, ``APP/PROC/WEB`` ...
    instance:  which process/instance: ``web.1``, ``0``, ``logplex``; "" if none.
    stream:    ``stdout`` or ``stderr``.
    timestamp: microseconds since the Unix epoch, UTC.
    host:      the machine or peer the line came from, "" if unknown.
    message:   the text, without the trailing newline the wire formats add.
    """

    app: str
    source: str
    instance: str
    stream: str
    timestamp: int
    host: str = ""
    message: str = ""


# What one line costs in memory besides its message: the LogLine object and its short strings
# (measured with sys.getsizeof on typical lines: ~200 bytes; 256 keeps the bounds on the safe side).
LINE_OVERHEAD: Final = 256


def now_us() -> int:
    """Current time in microseconds since the epoch (the unit of `LogLine.timestamp`)."""
    return time.time_ns() // 1000


# App names: one DNS label (RFC 1123): lowercase letters, digits and '-', starting and ending with a
# letter or digit, at most 63 characters. Why this rule:
#  * Heroku's platform API requires ^[a-z][a-z0-9-]{1,28}[a-z0-9]$ (3-30 chars) - every Heroku name
#    passes ours.
#  * Akkeris app names are [a-z0-9]+ (no dashes) and the app key Vigil sees is "<app>-<space>",
#    which controller-api limits to < 25 characters - every Akkeris key passes ours.
#  * Apps show up as hostnames (<app>.<domain>) and as the RFC 5424 HOSTNAME field, so a DNS label is
#    the widest rule that is still safe in both places. Cloud Foundry's "org.space.app" syslog
#    hostname is NOT an app name (dots); callers map it before validating.
APP_NAME_MAX: Final = 63
_APP_NAME_RE: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def is_valid_app_name(name: str) -> bool:
    """True if `name` is a valid Vigil app name (see the rule above)."""
    return _APP_NAME_RE.fullmatch(name) is not None


def validate_app_name(name: str) -> str:
    """Return `name` unchanged if it is a valid app name, else raise ValueError saying why."""
    if is_valid_app_name(name):
        return name
    if not name:
        reason = "must not be empty"
    elif len(name) > APP_NAME_MAX:
        reason = f"must be at most {APP_NAME_MAX} characters"
    elif name[0] == "-" or name[-1] == "-":
        reason = "must start and end with a lowercase letter or digit"
    else:
        reason = "may only contain lowercase letters, digits and '-'"
    raise ValueError(f"invalid app name {name!r}: {reason}")


def split_akkeris_app_key(key: str) -> tuple[str, str]:
    """Split an Akkeris app key ``<app>-<space>`` into (app, space).

    Akkeris app names cannot contain '-', so the first '-' is the separator; the space may contain
    more dashes (``api-prod-east`` -> ``("api", "prod-east")``). Raises ValueError without a '-'.
    """
    app, sep, space = key.partition("-")
    if not sep or not app or not space:
        raise ValueError(f"not an Akkeris app key (<app>-<space>): {key!r}")
    return app, space


# Sources name the app in many ways (a syslog HOSTNAME, a Loggregator source_id), not all of them valid.
_INVALID_RUN = re.compile(r"[^a-z0-9]+")
_NAME_CACHE_MAX: Final = 100_000
_name_cache: dict[str, str | None] = {}
_MISSING = object()


def app_name(raw: str) -> str | None:
    """`raw` as a valid app name (itself when it already is one), or None."""
    cached = _name_cache.get(raw, _MISSING)
    if cached is not _MISSING:
        return cached  # type: ignore[return-value]
    if is_valid_app_name(raw):
        name: str | None = raw
    else:
        fixed = _INVALID_RUN.sub("-", raw.lower()).strip("-")[:APP_NAME_MAX].rstrip("-")
        name = fixed or None
    if len(_name_cache) >= _NAME_CACHE_MAX:
        _name_cache.clear()
    _name_cache[raw] = name
    return name
