"""`vigil run`'s app metrics of a real child process, read from /proc and sent to the server."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from tests.conftest import Vigil
from tests.prom.helpers import wait_for
from vigil.appmetrics.process import ProcessReporter, process_tree, sample

# A child that spends about half a second of CPU, holds 64 MiB, and starts a grandchild.
PROGRAM = """
import subprocess, sys, time
block = bytearray(64 * 1024 * 1024)
for i in range(0, len(block), 4096):
    block[i] = 1
end = time.process_time() + 0.5
while time.process_time() < end:
    pass
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
print("ready", flush=True)
time.sleep(30)
"""


def _start() -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", PROGRAM], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _stop(proc: subprocess.Popen[str]) -> None:
    for pid in reversed(process_tree(proc.pid)):
        subprocess.run(["kill", "-9", str(pid)], check=False)
    proc.wait(10)


def test_sample_reads_the_process_tree() -> None:
    proc = _start()
    try:
        assert len(process_tree(proc.pid)) == 2  # the program and its grandchild
        values = sample(proc.pid)
        assert values is not None
        assert values["container_cpu_usage_seconds_total"] >= 0.45
        assert values["container_cpu_usage_seconds_total"] == (values["container_cpu_user_seconds_total"]
                                                               + values["container_cpu_system_seconds_total"])
        assert values["container_memory_rss"] >= 64 * 1024 * 1024
        assert values["container_memory_usage_bytes"] >= values["container_memory_rss"]
        assert "container_fs_usage_bytes" not in values
    finally:
        _stop(proc)
    assert sample(proc.pid) is None


async def test_reported_metrics_show_in_the_app_metrics(vigil: Vigil) -> None:
    proc = _start()
    sent: list[int] = []

    async def send(body: dict) -> None:
        r = await vigil.client.post("/v1/measurements", json=body)
        assert r.status_code == 202, r.text
        sent.append(r.status_code)

    reporter = ProcessReporter(proc.pid, "runner", "web.1", send, interval=0.5)
    reporter.start()
    try:
        await wait_for(lambda: len(sent) >= 3, 20, "three reports")
    finally:
        await reporter.stop()
        await asyncio.to_thread(_stop, proc)
    r = await vigil.client.get("/apps/runner/metrics", params={"resolution": "1h"})
    assert r.status_code == 200
    body = r.json()
    # One instance: its mean over the step is the average and the 90th percentile.
    assert max(body["memory_rss"].values()) >= 64 * 1024 * 1024
    assert body["memory_rss_p90"] == body["memory_rss"]
