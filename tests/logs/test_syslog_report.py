"""A syslog worker's report: its lines as one table grouped by app, with each group's text and lengths."""

from __future__ import annotations

import pytest

from vigil.logs.columns import from_ipc, lines_columns, table_lines, to_ipc
from vigil.logs.formats import format_akkeris_lines
from vigil.logs.model import STDOUT, LogLine
from vigil.logs.syslog_report import group_by_app, group_lengths, group_texts
from vigil.logs.syslog_wire import Report, report_groups


def line(app: str, i: int, message: str = "") -> LogLine:
    return LogLine(app, "app", "web.1", STDOUT, 1_700_000_000_000_000 + i, "h", message or f"m{i}")


def test_groups_follow_first_appearance_names_are_mapped_and_lines_keep_their_order() -> None:
    lines = [line("b", 0), line("A_x", 1), line("b", 2), line("---", 3), line("a-x", 4), line("a", 5), line("A_x", 6)]
    grouped = group_by_app(lines_columns(lines))
    # "A_x" becomes "a-x" and joins the lines already named so; "---" has nothing usable: dropped.
    assert grouped.groups == {"b": 2, "a-x": 3, "a": 1} and grouped.no_app == 1
    got = table_lines(grouped.table)
    assert [(x.app, x.message) for x in got] == [("b", "m0"), ("b", "m2"), ("a-x", "m1"), ("a-x", "m4"),
                                                 ("a-x", "m6"), ("a", "m5")]


def test_valid_names_in_one_run_per_app_are_left_as_they_are() -> None:
    lines = [line("a", 0), line("a", 1), line("b", 2)]
    grouped = group_by_app(lines_columns(lines))
    assert grouped.groups == {"a": 2, "b": 1} and grouped.no_app == 0 and table_lines(grouped.table) == lines


def test_texts_of_the_followed_groups_and_every_groups_lengths() -> None:
    lines = [line("b", 0, "  hi  "), line("a", 1, "ünï"), line("b", 2, "x" * 40), line("c", 3)]
    grouped = group_by_app(lines_columns(lines))
    by_app = {app: [x for x in lines if x.app == app] for app in ("a", "b", "c")}
    assert group_texts(grouped, frozenset({"b", "c"})) == {
        app: format_akkeris_lines(by_app[app]).encode() for app in ("b", "c")}
    assert group_texts(grouped, None) == {app: format_akkeris_lines(by_app[app]).encode() for app in by_app}
    assert group_texts(grouped, frozenset({"zzz"})) == {}
    assert group_lengths(grouped) == {"b": [6, 40], "a": [3], "c": [2]}


def test_an_empty_table_has_no_groups() -> None:
    grouped = group_by_app(lines_columns([]))
    assert grouped.groups == {} and grouped.no_app == 0 and group_lengths(grouped) == {}


def test_the_server_reads_a_report_as_zero_copy_groups_that_know_where_their_bytes_are() -> None:
    lines = [line("b", 0), line("a", 1), line("b", 2)]
    grouped = group_by_app(lines_columns(lines))
    report = Report(grouped.groups, to_ipc(grouped.table), lengths=group_lengths(grouped))
    groups, table = report_groups(report)
    assert table.equals(grouped.table) and list(groups) == ["b", "a"]
    assert [list(g) for g in groups.values()] == [[lines[0], lines[2]], [lines[1]]]
    for group in groups.values():
        assert group.origin is not None and group.origin[0] is report.table
        assert from_ipc(group.origin[0]).slice(group.origin[1], len(group)).equals(group.table)


def test_a_report_whose_groups_do_not_add_up_is_refused() -> None:
    grouped = group_by_app(lines_columns([line("a", 0)]))
    with pytest.raises(ValueError):
        report_groups(Report({"a": 2}, to_ipc(grouped.table)))
    with pytest.raises(ValueError):
        report_groups(Report({"a": 1}, b"not arrow"))
