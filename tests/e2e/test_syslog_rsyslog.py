"""Real syslog senders against `vigil serve`'s syslog listener: util-linux `logger` directly (octet
counting and newline framing, RFC 5424 and RFC 3164), and rsyslog forwarding with `omfwd` and
octet-counted framing."""

from __future__ import annotations

import base64
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import in_ci
from tests.e2e.conftest import ServerProcess, free_port
from vigil.logs.apps import app_name

pytestmark = pytest.mark.e2e

# logger writes this machine's host name as HOSTNAME, which Vigil maps to the app.
APP = app_name(socket.gethostname()) or "localhost"


def need(program: str) -> str:
    path = shutil.which(program) or (f"/usr/sbin/{program}" if Path(f"/usr/sbin/{program}").exists() else None)
    if path is None:
        if in_ci():
            pytest.fail(f"{program} is not installed (apt-get install -y rsyslog)")
        pytest.skip(f"{program} is not installed (apt-get install -y rsyslog)")
    return path


@pytest.fixture
def syslog_server(server_factory) -> ServerProcess:  # type: ignore[no-untyped-def]
    return server_factory(VIGIL_LISTENERS="ephemeral").start()


def syslog_port(server: ServerProcess) -> int:
    for line in server.output:
        if m := re.match(r"syslog listening on [\d.]+:(\d+)", line):
            return int(m.group(1))
    raise AssertionError("no syslog listener announced:\n" + "".join(server.output))


def read_messages(server: ServerProcess, marker: str, n: int, within: float = 20) -> list[dict]:
    """Envelopes of APP whose message contains `marker`, once there are n of them."""
    deadline = time.monotonic() + within
    with server.client() as client:
        while True:
            batch = client.get(f"/api/v1/read/{APP}", params={"limit": 1000}).json()["envelopes"]["batch"]
            found = [e for e in batch if marker in base64.b64decode(e["log"]["payload"]).decode()]
            if len(found) >= n or time.monotonic() > deadline:
                return found
            time.sleep(0.1)


def fields(e: dict) -> tuple[str, str, str, str]:
    return (e["tags"]["source_type"], e["instance_id"], e["log"]["type"],
            base64.b64decode(e["log"]["payload"]).decode())


def logger(port: int, *args: str) -> None:
    subprocess.run([need("logger"), "-n", "127.0.0.1", "-P", str(port), "-T", *args], check=True, timeout=30)


def test_logger_with_octet_counting_and_with_newlines(syslog_server: ServerProcess) -> None:
    port = syslog_port(syslog_server)
    marker = uuid.uuid4().hex
    logger(port, "--octet-count", "--rfc5424", "-t", "worker", "--id=3", "-p", "user.info", f"{marker} counted")
    logger(port, "--rfc5424", "-t", "worker", "--id=3", "-p", "user.err", f"{marker} newline")
    logger(port, "--rfc3164", "-t", "cron", "--id=42", "-p", "user.warning", f"{marker} bsd")
    got = sorted(fields(e) for e in read_messages(syslog_server, marker, 3))
    assert got == sorted([("worker", "3", "OUT", f"{marker} counted"), ("worker", "3", "ERR", f"{marker} newline"),
                          ("cron", "42", "OUT", f"{marker} bsd")])


@pytest.fixture
def rsyslog(syslog_server: ServerProcess, tmp_path: Path) -> Iterator[int]:
    """rsyslogd receiving on a loopback port (imtcp) and forwarding everything to Vigil with omfwd,
    TCP, octet-counted framing and the RFC 5424 template. Yields its input port."""
    rsyslogd = need("rsyslogd")
    in_port = free_port()
    work = tmp_path / "rsyslog"
    work.mkdir()
    conf = work / "rsyslog.conf"
    conf.write_text(f"""
global(workDirectory="{work}")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{in_port}")
action(type="omfwd" target="127.0.0.1" port="{syslog_port(syslog_server)}" protocol="tcp"
       TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
""")
    proc = subprocess.Popen([rsyslogd, "-n", "-f", str(conf), "-i", str(work / "rsyslogd.pid")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", in_port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    raise AssertionError(f"rsyslogd did not start: {out}") from None
                time.sleep(0.1)
        yield in_port
    finally:
        proc.terminate()
        proc.wait(20)


def test_rsyslog_forwards_with_octet_counting(syslog_server: ServerProcess, rsyslog: int) -> None:
    marker = uuid.uuid4().hex
    logger(rsyslog, "--rfc5424", "-t", "api", "--id=1", "-p", "user.info", f"{marker} via rsyslog 1")
    logger(rsyslog, "--rfc5424", "-t", "api", "--id=2", "-p", "local0.crit", f"{marker} via rsyslog 2")
    got = sorted(fields(e) for e in read_messages(syslog_server, marker, 2))
    assert got == [("api", "1", "OUT", f"{marker} via rsyslog 1"), ("api", "2", "ERR", f"{marker} via rsyslog 2")]
