"""The per-app ring of recent lines: bounded by lines, bytes and apps."""

from __future__ import annotations

import random
import time

import pytest

import vigil.logs.ring as ring_module
from vigil.logs.columns import ColumnLines, lines_columns, to_ipc
from vigil.logs.model import STDOUT, LogLine
from vigil.logs.ring import LINE_OVERHEAD, RecentLines, line_weight


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


@pytest.mark.parametrize("cut_after", [1, ring_module.CUT_AFTER])
def test_the_ring_keeps_exactly_the_newest_lines_within_both_limits_whatever_the_batches(
        cut_after: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Against a line-by-line model: after each batch the ring holds the longest run of newest lines
    # that fits both limits. Batches are plain lists and Arrow-backed `ColumnLines`, of random sizes,
    # so cuts land inside batches, across them and on batch edges (and with cut_after=1 the oldest
    # batch is also cut for real, not only skipped); compactions come between them.
    monkeypatch.setattr(ring_module, "CUT_AFTER", cut_after)
    rng = random.Random(7)
    for _ in range(40):
        max_lines, max_bytes = rng.randint(1, 30), rng.randint(LINE_OVERHEAD, 20 * (LINE_OVERHEAD + 20))
        ring = RecentLines(max_lines=max_lines, max_bytes=max_bytes, max_apps=10)
        model: list[LogLine] = []
        i = 0
        for _ in range(30):
            batch = [line("a", i + k, "x" * rng.randint(0, 40)) for k in range(rng.randint(1, 12))]
            i += len(batch)
            ring.extend("a", ColumnLines(lines_columns(batch), (b"", 0)) if rng.random() < 0.5 else batch)
            model.extend(batch)
            if rng.random() < 0.2:  # the ring's batches merged into batches of their own now and then
                ring.compact_due(time.monotonic() + 10)
            while len(model) > max_lines or sum(map(line_weight, model)) > max_bytes:
                model.pop(0)
            assert ring.last("a", 100) == model
            assert ring.count("a") == len(model) and ring.total_bytes == sum(map(line_weight, model))
            n = rng.randint(1, 40)
            assert ring.last("a", n) == model[-n:]


def test_rings_holding_report_slices_compact_them_into_batches_of_their_own() -> None:
    ring = RecentLines(max_lines=7, max_bytes=10**9, max_apps=10)
    lines = [line("a", i) for i in range(12)]
    report = lines_columns(lines)
    ring.extend("a", [line("a", 100)])  # a plain list stays as it is
    for start in range(0, 12, 3):  # four report slices; the ring keeps 7 lines: a cut into the second
        ring.extend("a", ColumnLines(report.slice(start, 3), (to_ipc(report), start)))
    before = ring.last("a", 100)
    assert ring.compact_due(time.monotonic()) == 0  # not due yet
    assert ring.compact_due(time.monotonic() + ring_module.COMPACT_AFTER + 1) == 1
    assert ring.last("a", 100) == before == lines[5:] and ring.count("a") == 7
    assert ring.total_bytes == sum(map(line_weight, lines[5:]))
    chunks = list(ring._rings["a"].chunks)
    assert len(chunks) == 1 and isinstance(chunks[0], ColumnLines) and chunks[0].origin is None
    assert ring.compacted == 3
    ring.extend("a", [line("a", 200)])
    assert ring.last("a", 2) == [lines[11], line("a", 200)]


def test_compaction_is_bounded_per_call() -> None:
    # A call stops once its time budget is spent (one ring at least, so that it always gets on).
    ring = RecentLines(max_lines=10, max_bytes=10**9, max_apps=10)
    report = lines_columns([line("x", 0)])
    for app in "abc":
        ring.extend(app, ColumnLines(report, (to_ipc(report), 0)))
    later = time.monotonic() + ring_module.COMPACT_AFTER + 1
    assert [ring.compact_due(later, budget=0) for _ in range(4)] == [1, 1, 1, 0]
