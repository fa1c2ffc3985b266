"""`vigil logs` against a real `vigil serve`: --recent and --tail print as `cf logs` does, Ctrl-C ends
it cleanly."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.e2e.conftest import TOKEN, ServerProcess

pytestmark = pytest.mark.e2e

T = int(time.time()) - 120 + 0.5  # inside the kept window, on a half second
PDT = dt.timezone(dt.timedelta(hours=-7))


def cf_time(t: float) -> str:
    """`cf logs`' time in UTC-7, worked out independently of Vigil's formatter."""
    return dt.datetime.fromtimestamp(int(t), PDT).strftime("%Y-%m-%dT%H:%M:%S") + ".50-0700"


def env() -> dict[str, str]:
    # POSIX TZ "PDT+7" is UTC-7; the CLI prints local time, as the cf CLI does.
    return {**os.environ, "TZ": "PDT+7", "VIGIL_TOKEN": TOKEN, "NO_COLOR": "1"}


def post(server: ServerProcess, *lines: dict) -> None:
    with httpx.Client(base_url=server.url, auth=(TOKEN, "")) as client:
        assert client.post("/v1/logs", json=list(lines)).status_code == 204


def test_recent_prints_the_newest_lines_like_cf_logs(server: ServerProcess) -> None:
    post(server, {"app": "cli", "source": "APP/PROC/WEB", "instance": "0", "message": "first", "time": T},
         {"app": "cli", "source": "RTR", "instance": "1", "message": "second", "time": T + 1},
         {"app": "cli", "source": "APP/PROC/WEB", "instance": "0", "message": "third\nmore", "time": T + 2,
          "stream": "stderr"})
    result = subprocess.run([sys.executable, "-m", "vigil", "logs", "--app", "cli", "--recent", "--lines", "2",
                             "--server", server.url], capture_output=True, timeout=60, env=env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == (f"{cf_time(T + 1)} [RTR/1] OUT second\n"
                                      f"{cf_time(T + 2)} [APP/PROC/WEB/0] ERR third\n"
                                      f"{cf_time(T + 2)} [APP/PROC/WEB/0] ERR more\n")
    only = subprocess.run([sys.executable, "-m", "vigil", "logs", "--app", "cli", "--recent", "--source", "RTR",
                           "--server", server.url], capture_output=True, timeout=60, env=env())
    assert only.stdout.decode() == f"{cf_time(T + 1)} [RTR/1] OUT second\n"


def test_tail_prints_new_lines_until_ctrl_c(server: ServerProcess) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "vigil", "logs", "--app", "tailed", "--server", server.url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
    try:
        deadline = time.monotonic() + 30
        assert proc.stdout is not None
        while True:  # keep sending until the tail is connected and prints
            post(server, {"app": "tailed", "message": "ping", "time": T, "instance": "0", "source": "APP"})
            os.set_blocking(proc.stdout.fileno(), False)
            line = proc.stdout.readline()
            if line:
                break
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.2)
        assert line.decode() == f"{cf_time(T)} [APP/0] OUT ping\n"
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        assert proc.returncode == 0
        assert proc.stderr is not None and b"Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_errors_are_reported_not_raised(server: ServerProcess) -> None:
    bad = subprocess.run([sys.executable, "-m", "vigil", "logs", "--app", "cli", "--recent", "--server", server.url,
                          "--token", "wrong"], capture_output=True, timeout=60, env=env())
    assert bad.returncode == 1 and b"refused the token (401)" in bad.stderr
    down = subprocess.run([sys.executable, "-m", "vigil", "logs", "--app", "cli", "--recent", "--server",
                           "http://127.0.0.1:9"], capture_output=True, timeout=60, env=env())
    assert down.returncode == 1 and b"cannot reach" in down.stderr
    lines = subprocess.run([sys.executable, "-m", "vigil", "logs", "--app", "cli", "--lines", "0",
                            "--server", server.url], capture_output=True, timeout=60, env=env())
    assert lines.returncode == 1 and b"--lines" in lines.stderr


def wait_for_output(proc: subprocess.Popen, server: ServerProcess, app: str) -> bytes:
    """Post lines until the tailing `vigil logs` prints one (it is then connected)."""
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    deadline = time.monotonic() + 30
    while True:
        post(server, {"app": app, "message": "ping", "time": T, "instance": "0", "source": "APP"})
        line = proc.stdout.readline()
        if line:
            return line
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.2)


def test_a_shutdown_ends_live_tails_instead_of_waiting_for_them(server: ServerProcess) -> None:
    post(server, {"app": "stopping", "message": "x"})
    with httpx.Client(base_url=server.url, auth=(TOKEN, ""), timeout=30) as client:
        url = client.post("/apps/stopping/log-sessions", json={"tail": True}).json()["logplex_url"]
    proc = subprocess.Popen([sys.executable, "-m", "vigil", "logs", "--app", "stopping", "--server", server.url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
    try:
        with httpx.Client(timeout=30) as anon, anon.stream("GET", url) as session:
            assert session.status_code == 200
            lines = session.iter_lines()
            assert next(lines).endswith("stopping app: x")
            wait_for_output(proc, server, "stopping")
            started = time.monotonic()
            assert server.stop() == 0
            assert all(line.endswith("stopping APP[0]: ping") for line in lines)  # then the stream ended
        # Far sooner than uvicorn's 30 s graceful-shutdown limit, which open streams would have used up.
        assert time.monotonic() - started < 20
        assert proc.wait(30) == 0  # `vigil logs --tail` ends quietly too
    finally:
        if proc.poll() is None:
            proc.kill()
