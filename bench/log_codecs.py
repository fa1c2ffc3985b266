"""The log codecs' hot paths in-process, one core: syslog parse/format, deframing, logplex batches.

    python bench/log_codecs.py
"""

from __future__ import annotations

import time

from vigil.logs.framing import SyslogDeframer, octet_frames
from vigil.logs.logplex import build_logplex_batches, parse_logplex_body
from vigil.logs.syslog import format_rfc5424, parse_rfc5424

N = 200_000

# Realistic mixes: a Heroku router line, a Loggregator app line with its tags SD, an rsyslog/logger line.
FRAMES = [
    b"<158>1 2024-05-27T19:59:36.538297+00:00 myapp heroku router - - at=info method=POST path=/drain "
    b'host=myapp.herokuapp.com request_id=1c9ea3b8-2f5e fwd="108.21.18.132" dyno=web.1 connect=2ms '
    b"service=3ms status=200 bytes=0 protocol=https\n",
    b"<14>1 2024-05-27T19:59:36.612345+00:00 org.space.myapp 2ca0cd5e-1a1f-4c39-9f50-0c5b1c9b3b30 "
    b'[APP/PROC/WEB/0] - [tags@47450 app_id="2ca0cd5e-1a1f-4c39-9f50-0c5b1c9b3b30" app_name="myapp" '
    b'instance_id="0" organization_name="org" process_type="web" source_type="APP/PROC/WEB" '
    b'space_name="space"] Completed 200 OK in 12ms (Views: 11.3ms | ActiveRecord: 0.0ms)\n',
    b'<11>1 2024-05-27T19:59:36.7+00:00 vm myapp 3893 - [timeQuality tzKnown="1" isSynced="0"] '
    b"ERROR something failed: connection refused\n",
]


def bench(name: str, fn, n: int) -> None:
    dt = float("inf")
    for _ in range(3):  # best of 3: the machine is shared, the minimum is the honest number
        t0 = time.perf_counter()
        fn()
        dt = min(dt, time.perf_counter() - t0)
    print(f"{name:<44} {n / dt:>12,.0f} lines/s  ({dt * 1e9 / n:,.0f} ns/line)")


def main() -> None:
    frames = FRAMES * (N // len(FRAMES))
    n = len(frames)

    def parse() -> None:
        for f in frames:
            parse_rfc5424(f)

    bench("parse_rfc5424 (mixed, auto SD)", parse, n)

    # worst case for the timestamp cache: every line in a different second
    distinct = [
        b"<14>1 2024-05-%02dT%02d:%02d:%02d.123456+00:00 host app web.1 - - message %d\n"
        % (1 + i // 86400 % 28, i // 3600 % 24, i // 60 % 60, i % 60, i)
        for i in range(n)
    ]

    def parse_distinct() -> None:
        for f in distinct:
            parse_rfc5424(f)

    bench("parse_rfc5424 (new second every line)", parse_distinct, n)

    stream = octet_frames(frames)
    chunks = [stream[i : i + 65536] for i in range(0, len(stream), 65536)]

    def deframe_and_parse() -> None:
        d = SyslogDeframer()
        for c in chunks:
            for f in d.feed(c):
                parse_rfc5424(f)

    bench("SyslogDeframer.feed + parse_rfc5424 (64K reads)", deframe_and_parse, n)

    lines = [parse_rfc5424(f) for f in frames]

    def fmt() -> None:
        for line in lines:
            format_rfc5424(line)

    bench("format_rfc5424", fmt, n)

    def batches() -> None:
        for b in build_logplex_batches(lines):
            parse_logplex_body(b.body, b.count)

    bench("build_logplex_batches + parse_logplex_body", batches, n)


if __name__ == "__main__":
    main()
