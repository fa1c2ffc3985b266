"""`vigil events …` against a running `vigil serve`."""

from __future__ import annotations

import argparse
import datetime as dt
import io
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import TOKEN, ServerProcess
from tests.events import fixtures
from tests.events.conftest import KEEP
from vigil.events import cli

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("events-cli"), VIGIL_EVENTS_RETENTION=str(KEEP),
                            VIGIL_EVENTS_REPORT_INTERVAL="0").start()
    with httpx.Client(base_url=process.url, auth=(TOKEN, "")) as client:
        for deployment, batch in (("region-1", fixtures.REGION_1), ("region-2", fixtures.REGION_2),
                                  ("region-1", fixtures.OTHERS)):
            assert client.post(f"/v1/notifications?deployment={deployment}", json=batch).status_code == 202
    yield process
    process.stop()


def parse(server: ServerProcess, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.events_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["events", "--server", server.url, "--token", TOKEN, *argv])


def run(server: ServerProcess, *argv: str, **kw: object) -> str:
    out = io.StringIO()
    cli.run(parse(server, *argv), out, **kw)  # type: ignore[arg-type]
    return out.getvalue()


def test_tables_are_aligned(server: ServerProcess) -> None:
    assert run(server, "deployments") == "#  Name\n-  --------\n1  region-1\n2  region-2\n"
    lines = run(server, "timings", fixtures.B).splitlines()
    assert lines == ["?  Event                    Time (secs)",
                     "-  -----------------------  --------------",
                     "S  compute.instance.create  n/a",
                     ".  compute.instance.delete  0d 00:00:03.33"]
    uuid = run(server, "uuid", fixtures.A, "--limit", "1").splitlines()
    assert uuid[0].split() == ["#", "?", "When", "Deployment", "Event", "Host", "State", "State'", "Task"]
    assert uuid[2].split() == ["1", "2014-01-14", "15:39:00", "region-1", "compute.instance.update", "api-1",
                               "building"]


def test_views(server: ServerProcess) -> None:
    summary = [line.split() for line in run(server, "summary").splitlines()]
    assert ["compute.instance.snapshot", "1", "0d", "00:14:11.71", "0d", "00:14:11.71", "0d", "00:14:11"] in summary
    assert "compute.instance.update" in run(server, "events")
    assert run(server, "hosts", "--service", "glance").splitlines()[2] == "localhost"
    assert len(run(server, "request", fixtures.REQ_RESIZE).splitlines()) == 2 + 5
    shown = run(server, "show", "7")
    assert "Req ID      " + fixtures.REQ_SNAP in shown and '"notifications.info"' in shown
    assert "image.activate" in run(server, "search", "status", "active", "--service", "glance")
    assert run(server, "kpi", "tenant-2").splitlines()[-1] == "No results"


def test_reports(server: ServerProcess) -> None:
    made = run(server, "report", "--start", "2014-01-14T15:00:00", "--end", "2014-01-14T16:00:00")
    assert made == "report 1 stored: summary for region: all, 1389711600.0 to 1389715199.0\n"
    assert "summary for region: all" in run(server, "reports")
    shown = run(server, "report", "1")
    assert shown.startswith("Report metadata\nKey ")
    assert "total                     1" in shown
    assert "create     base   linux    1:00s" in shown


def test_watch_follows_new_notifications(server: ServerProcess) -> None:
    # a second ago: watch looks at whole seconds, up to the current one
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=1)
    body = fixtures.note("compute.instance.update", "00:00:00", instance=fixtures.C)
    body["timestamp"] = str(now)
    with httpx.Client(base_url=server.url, auth=(TOKEN, "")) as client:
        assert client.post("/v1/notifications?deployment=region-2", json=body).status_code == 202
    out = run(server, "watch", "2", "--interval", "0", polls=1)
    head, row = out.splitlines()
    assert head.split() == ["#", "?", "Date", "Time", "Deployment", "Event", "UUID"]
    assert row.split()[1:] == [".", now.date().isoformat(), now.time().isoformat(), "region-2",
                               "compute.instance.update", fixtures.C]


def test_errors_exit_non_zero(server: ServerProcess, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(parse(server, "uuid", "nope")) == 1
    assert capsys.readouterr().err == "vigil events: Bad Request: nope is not uuid-like\n"
    assert cli.main(parse(server, "uuid")) == 1
    assert capsys.readouterr().err == "vigil events: `vigil events uuid` needs a UUID\n"
    args = parse(server, "deployments")
    args.server = "http://127.0.0.1:9"
    assert cli.main(args) == 1
    assert "cannot reach" in capsys.readouterr().err


def test_format_table_edge_cases() -> None:
    assert cli.format_table([]) == "No results"
    assert cli.format_table([["a", "bb"], [None, [1]]]) == "a  bb\n-  ---\n   [1]"
