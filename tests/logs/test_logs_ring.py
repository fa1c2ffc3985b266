"""The per-app ring of recent lines: bounded by lines, bytes and apps."""

from __future__ import annotations

from vigil.logs.model import STDOUT, LogLine
from vigil.logs.ring import LINE_OVERHEAD, RecentLines


def line(app: str, i: int, message: str | None = None, ts: int | None = None) -> LogLine:
    return LogLine(app, "app", "web.1", STDOUT, ts if ts is not None else 1_000_000 + i, "", message or f"m{i}")


def test_keeps_the_newest_lines_per_app_up_to_the_line_limit() -> None:
    ring = RecentLines(max_lines=3, max_bytes=10**9, max_apps=10)
    ring.extend("a", [line("a", i) for i in range(5)])
    ring.extend("b", [line("b", 0)])
    assert [x.message for x in ring.last("a", 10)] == ["m2", "m3", "m4"]
    assert ring.count("a") == 3 and ring.count("b") == 1
    assert ring.evicted == 2


def test_keeps_lines_within_the_byte_limit() -> None:
    # Each line costs its message length plus LINE_OVERHEAD: room for exactly two 100-byte lines.
    ring = RecentLines(max_lines=100, max_bytes=2 * (100 + LINE_OVERHEAD), max_apps=10)
    ring.extend("a", [line("a", i, "x" * 100) for i in range(3)])
    assert ring.count("a") == 2
    assert ring.total_bytes == 2 * (100 + LINE_OVERHEAD)
    ring.extend("a", [line("a", 9, "y" * 500)])  # 500 + overhead alone is over the limit: the ring empties
    assert ring.count("a") == 0 and ring.total_bytes == 0
    assert ring.evicted == 4


def test_the_least_recently_written_app_goes_when_there_are_too_many() -> None:
    ring = RecentLines(max_lines=10, max_bytes=10**9, max_apps=2)
    ring.extend("a", [line("a", 0), line("a", 1)])
    ring.extend("b", [line("b", 0)])
    ring.extend("a", [line("a", 2)])  # a is now the most recent
    ring.extend("c", [line("c", 0)])  # b goes
    assert "b" not in ring and "a" in ring and "c" in ring
    assert ring.evicted == 1 and ring.evicted_apps == 1


def test_last_and_last_of_merge_apps_in_time_order() -> None:
    ring = RecentLines(max_lines=10, max_bytes=10**9, max_apps=10)
    ring.extend("a", [line("a", 0, ts=10), line("a", 1, ts=30), line("a", 2, ts=50)])
    ring.extend("b", [line("b", 0, ts=20), line("b", 1, ts=40)])
    assert [x.message for x in ring.last("a", 2)] == ["m1", "m2"]
    assert ring.last("nope", 5) == [] and ring.last("a", 0) == []
    assert [(x.app, x.timestamp) for x in ring.last_of(["a", "b"], 3)] == [("a", 30), ("b", 40), ("a", 50)]


def test_the_ring_never_changes_the_lists_it_was_handed() -> None:
    # The same list is queued for history and given to readers: trimming makes new lists.
    ring = RecentLines(max_lines=4, max_bytes=10**9, max_apps=10)
    first = [line("a", i) for i in range(3)]
    second = [line("a", i) for i in range(3, 6)]
    ring.extend("a", first)
    ring.extend("a", second)  # 6 lines, room for 4: two go off the front of `first`
    assert [x.message for x in first] == ["m0", "m1", "m2"] and len(second) == 3
    assert [x.message for x in ring.last("a", 10)] == ["m2", "m3", "m4", "m5"]
    assert [x.message for x in ring.last("a", 2)] == ["m4", "m5"]
    assert ring.count("a") == 4 and ring.total_lines == 4 and ring.evicted == 2
    assert ring.total_bytes == sum(len(f"m{i}") + LINE_OVERHEAD for i in range(2, 6))
