"""`vigil logs` output: envelopes back into lines, `cf logs` format, colours only when asked."""

from __future__ import annotations

import datetime as dt

import pytest

from vigil.logs.cli import Printer, envelope_line
from vigil.logs.model import STDERR, STDOUT, LogLine

LINE = LogLine("app", "APP/PROC/WEB", "0", STDERR, 1_365_192_898_000_000, "", "boom")  # 2013-04-05T20:14:58Z


def test_envelopes_become_lines() -> None:
    e = {"timestamp": "1365192898000000123", "source_id": "app", "instance_id": "0",
         "tags": {"source_type": "APP/PROC/WEB"}, "log": {"payload": "Ym9vbQ==", "type": "ERR"}}
    assert envelope_line(e) == LINE
    assert envelope_line({"timestamp": "1", "counter": {"name": "x"}}) is None
    assert envelope_line({"timestamp": "1000", "log": {"payload": ""}}) == LogLine("", "", "", STDOUT, 1, "", "")


def test_plain_and_coloured_output(capsys: pytest.CaptureFixture[str]) -> None:
    plain = Printer(color=False)
    plain.tz = dt.timezone(dt.timedelta(hours=-7))
    plain(LINE)
    assert capsys.readouterr().out == "2013-04-05T13:14:58.00-0700 [APP/PROC/WEB/0] ERR boom\n"
    coloured = Printer(color=True)
    coloured.tz = dt.UTC
    coloured(LINE)
    assert capsys.readouterr().out == ("\x1b[2m2013-04-05T20:14:58.00+0000\x1b[0m \x1b[36m[APP/PROC/WEB/0]\x1b[0m "
                                       "\x1b[31mERR boom\x1b[0m\n")
