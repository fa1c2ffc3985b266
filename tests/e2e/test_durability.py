"""Nothing acknowledged is lost: kill -9 right after 202s, and a clean SIGTERM, then restart."""

from __future__ import annotations

import time

import orjson
import pytest

from tests.e2e.conftest import ServerProcess

pytestmark = pytest.mark.e2e


def count_points(server: ServerProcess, metric: str, start: int) -> int:
    with server.client() as client:
        r = client.get(f"/v1/measurements/{metric}", params={"start_time": start, "resolution": 1,
                                                              "summary_function": "count", "group_by": "*",
                                                              "group_by_function": "sum"})
        assert r.status_code == 200, r.text
        return sum(int(m["value"]) for s in r.json()["series"] for m in s["measurements"])


def post_batches(server: ServerProcess, metric: str, start: int, batches: int, size: int) -> int:
    accepted = 0
    with server.client() as client:
        for b in range(batches):
            body = {"measurements": [{"name": metric, "value": i, "time": start + b, "tags": {"n": f"s{i}"}}
                                     for i in range(size)]}
            r = client.post("/v1/measurements", content=orjson.dumps(body),
                            headers={"Content-Type": "application/json"})
            assert r.status_code == 202
            accepted += r.json()["measurements"]["summary"]["accepted"]
    return accepted


def test_kill_9_after_202_loses_nothing(server_factory) -> None:
    # A long flush interval keeps the acknowledged data in the write-ahead log, not yet in the
    # engine, when the process dies.
    server = server_factory(VIGIL_FLUSH_INTERVAL="3600", VIGIL_FLUSH_ROWS="10000000").start()
    start = int(time.time()) - 100
    accepted = post_batches(server, "durable", start, batches=20, size=500)
    server.kill()
    restarted = server_factory(server.data_dir).start()
    assert count_points(restarted, "durable", start) == accepted == 10_000
    # The replayed log is not loaded twice on the next start.
    restarted.stop()
    again = server_factory(server.data_dir).start()
    assert count_points(again, "durable", start) == accepted


def test_sigterm_flushes_and_exits_cleanly(server_factory) -> None:
    server = server_factory(VIGIL_FLUSH_INTERVAL="3600", VIGIL_FLUSH_ROWS="10000000").start()
    start = int(time.time()) - 100
    accepted = post_batches(server, "graceful", start, batches=5, size=200)
    assert server.stop() == 0
    assert list((server.data_dir / "wal" / "metrics").iterdir()) == []  # everything went to the engine
    restarted = server_factory(server.data_dir).start()
    assert count_points(restarted, "graceful", start) == accepted


def test_first_start_prints_and_keeps_an_admin_token(server_factory, tmp_path) -> None:
    server = server_factory(tmp_path / "fresh")
    del server.env["VIGIL_ADMIN_TOKEN"]
    server.start()
    printed = [line.split(":", 1)[1].strip() for line in server.output if line.startswith("admin token:")]
    assert len(printed) == 1 and len(printed[0]) == 64
    assert (tmp_path / "fresh" / "admin-token").read_text().strip() == printed[0]
    assert server.output[-1].startswith(f"listening on http://127.0.0.1:{server.port}")
    import httpx

    assert httpx.get(f"{server.url}/v1/metrics", auth=(printed[0], "")).status_code == 200
