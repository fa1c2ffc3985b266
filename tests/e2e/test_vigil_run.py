"""`vigil run` against a real `vigil serve`: output and exit code unchanged, lines shipped in order with
their streams, the program unharmed when the server is down, shipping resumed when it returns."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import TOKEN, ServerProcess

pytestmark = pytest.mark.e2e

PROGRAM = r"""
import sys, time
time.sleep(1)  # long enough for vigil's first sample of the program's metrics
for i in range(5):
    print(f"out {i}", flush=True)
    print(f"err {i}", file=sys.stderr, flush=True)
    time.sleep(0.01)
sys.stdout.write("no newline at the end")
sys.exit(3)
"""


def vigil_run(server_url: str, app: str, program: Path, *extra: str,
              timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vigil", "run", "--app", app, "--server", server_url, "--token", TOKEN,
                           *extra, "--", sys.executable, str(program)], capture_output=True, timeout=timeout)


def lines_of(server: ServerProcess, app: str, n: int, within: float = 20) -> list[dict]:
    deadline = time.monotonic() + within
    with server.client() as client:
        while True:
            r = client.get(f"/api/v1/read/{app}", params={"limit": 1000})
            batch = r.json()["envelopes"]["batch"]
            if len(batch) >= n or time.monotonic() > deadline:
                return batch
            time.sleep(0.1)


def text(envelope: dict) -> tuple[str, str, str, str]:
    import base64

    return (envelope["log"]["type"], envelope["tags"]["source_type"], envelope["instance_id"],
            base64.b64decode(envelope["log"]["payload"]).decode())


def test_output_and_exit_code_are_unchanged_and_lines_arrive(server: ServerProcess, tmp_path: Path) -> None:
    program = tmp_path / "prog.py"
    program.write_text(PROGRAM)
    direct = subprocess.run([sys.executable, str(program)], capture_output=True, timeout=60)
    shipped = vigil_run(server.url, "runapp", program, "--instance", "worker.2")
    assert (shipped.returncode, shipped.stdout, shipped.stderr) == (direct.returncode, direct.stdout, direct.stderr)
    assert shipped.returncode == 3
    got = lines_of(server, "runapp", 11)
    outs = [text(e) for e in got if e["log"]["type"] == "OUT"]
    errs = [text(e) for e in got if e["log"]["type"] == "ERR"]
    assert outs == [("OUT", "app", "worker.2", f"out {i}") for i in range(5)] + \
        [("OUT", "app", "worker.2", "no newline at the end")]
    assert errs == [("ERR", "app", "worker.2", f"err {i}") for i in range(5)]
    # In order: each stream's lines in the order written, and overall by time.
    stamps = [int(e["timestamp"]) for e in got]
    assert stamps == sorted(stamps)
    # The program's own metrics went along (sampled when it started).
    with server.client() as client:
        r = client.get("/v1/measurements/container_memory_rss", params={"duration": 600, "resolution": 1})
        assert r.status_code == 200
        assert any(series["tags"] == {"app": "runapp", "instance": "worker.2"} for series in r.json()["series"])


def test_with_the_server_down_the_program_runs_as_without_vigil(server_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = server_factory().start()
    server.kill()
    program = tmp_path / "prog.py"
    program.write_text("import time, sys\nfor i in range(10):\n    print(i, flush=True)\n    time.sleep(0.1)\n"
                       "sys.exit(5)\n")
    started = time.monotonic()
    result = vigil_run(server.url, "downapp", program)
    elapsed = time.monotonic() - started
    assert result.returncode == 5
    assert result.stdout == b"".join(b"%d\n" % i for i in range(10))
    assert result.stderr == b""
    # The program takes 1 s; vigil adds its own start-up but never waits for the missing server.
    assert elapsed < 8, elapsed


def test_shipping_resumes_when_the_server_comes_back(server_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = server_factory()  # not started yet: its port refuses connections
    go = tmp_path / "go"
    program = tmp_path / "prog.py"
    program.write_text(
        "import os, sys, time\n"
        "i = 0\n"
        f"while not os.path.exists({str(go)!r}):\n"
        "    print(f'line {i}', flush=True); i += 1; time.sleep(0.05)\n"
        "for _ in range(10):\n"
        "    print(f'line {i}', flush=True); i += 1; time.sleep(0.05)\n")
    proc = subprocess.Popen([sys.executable, "-m", "vigil", "run", "--app", "backapp", "--server", server.url,
                             "--token", TOKEN, "--", sys.executable, str(program)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)  # lines pile up while the server is away
        server.start()
        go.touch()
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    printed = out.decode().splitlines()
    got = lines_of(server, "backapp", len(printed))
    assert [text(e)[3] for e in got] == printed  # everything, in order, including the lines from before


def test_a_bad_token_is_reported_once_and_the_program_is_unharmed(server: ServerProcess, tmp_path: Path) -> None:
    program = tmp_path / "prog.py"
    program.write_text("print('hello')\n")
    result = subprocess.run([sys.executable, "-m", "vigil", "run", "--app", "tokapp", "--server", server.url,
                             "--token", "wrong-token", "--", sys.executable, str(program)],
                            capture_output=True, timeout=60)
    assert result.returncode == 0 and result.stdout == b"hello\n"
    assert result.stderr.decode().count("vigil: the server refused the log lines (401)") == 1


def test_usage_errors(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "vigil", "run", *args], capture_output=True, timeout=60)

    assert run("--app", "x").returncode == 2
    assert run("--app", "Bad_Name", "--", "true").returncode == 2
    missing = run("--app", "x", "--server", "http://127.0.0.1:9", "--", str(tmp_path / "no-such-program"))
    assert missing.returncode == 127 and b"command not found" in missing.stderr


def test_the_server_api_still_sees_no_lines_from_a_silent_program(server: ServerProcess, tmp_path: Path) -> None:
    program = tmp_path / "prog.py"
    program.write_text("")
    assert vigil_run(server.url, "silent", program).returncode == 0
    with httpx.Client(base_url=server.url, auth=(TOKEN, "")) as client:
        assert client.get("/api/v1/read/silent").json() == {"envelopes": {"batch": []}}
