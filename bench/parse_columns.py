"""CPU per line of the syslog workers' parse and Akkeris text, vectorised against the Python path.

    .venv/bin/python bench/parse_columns.py [--lines 100000] [--odd 0.05]

In-process, no server: the frames of `bench/logs.py` (RFC 5424, NILVALUE SD, deframed), best of 5
runs by `time.process_time`. Rows:
  parse    `parse_frame` each frame + `lines_columns`   against  `syslog_columns.parse_columns`
  text     `format_akkeris_lines(lines).encode()`       against  `syslog_columns.akkeris_text(table)`
and the parse again with a share (`--odd`) of frames the fast path leaves to `parse_frame` (an SD
element each), to show what the per-row fallback and the merge cost.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from logs import frames as bench_frames
from vigil.logs.columns import lines_columns
from vigil.logs.formats import format_akkeris_lines
from vigil.logs.syslog import parse_frame
from vigil.logs.syslog_columns import akkeris_text, parse_columns

HOST = "10.0.0.1"
RECEIVED = 1_700_000_000_000_000


def best_us(run: Callable[[], object], lines: int, repeat: int = 5) -> float:
    """Fewest CPU seconds of `repeat` runs, as µs a line."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best * 1e6 / lines


def python_parse(frames: list[bytes]) -> object:
    return lines_columns([parse_frame(frame, HOST, RECEIVED) for frame in frames])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--odd", type=float, default=0.05, help="share of frames with an SD element")
    args = parser.parse_args()
    frames = [frame.split(b" ", 1)[1] for frame in bench_frames([f"app{i}" for i in range(100)], args.lines, 0)]
    n = len(frames)
    table, rejected = parse_columns(frames, HOST, RECEIVED)
    assert rejected == 0 and table.equals(python_parse(frames)), "the fast path must equal the Python path"
    lines = [parse_frame(frame, HOST, RECEIVED) for frame in frames]
    assert akkeris_text(table) == format_akkeris_lines(lines).encode()

    step = max(1, round(1 / args.odd)) if args.odd > 0 else n + 1
    odd = [f.replace(b" - - ", b' - [meta@1 k="v"] ', 1) if i % step == 0 else f for i, f in enumerate(frames)]

    print(f"{n:,} bench frames, {sum(map(len, frames)) / n:.0f} bytes each; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; µs of CPU a line, best of 5")
    print(f"parse  python {best_us(lambda: python_parse(frames), n):.3f}   "
          f"vectorised {best_us(lambda: parse_columns(frames, HOST, RECEIVED), n):.3f}")
    print(f"text   python {best_us(lambda: format_akkeris_lines(lines).encode(), n):.3f}   "
          f"vectorised {best_us(lambda: akkeris_text(table), n):.3f}")
    print(f"parse, {args.odd:.0%} with SD  python {best_us(lambda: python_parse(odd), n):.3f}   "
          f"vectorised {best_us(lambda: parse_columns(odd, HOST, RECEIVED), n):.3f}")


if __name__ == "__main__":
    main()
