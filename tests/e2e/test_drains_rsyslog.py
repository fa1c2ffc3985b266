"""A real rsyslog receives `vigil serve`'s drains: plain TCP (imtcp, octet-counted framing) and TLS
(imtcp with the OpenSSL stream driver, a self-signed certificate the drain is told to trust). rsyslog
writes each message's raw bytes to a file; the test reads them back byte for byte. The drain is
stored: after a restart of the server it delivers the new lines."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import in_ci
from tests.drains.conftest import SelfSigned, self_signed
from tests.e2e.conftest import ServerProcess, free_port

pytestmark = pytest.mark.e2e

OSSL_MODULE = "lmnsd_ossl.so"


def rsyslogd() -> str:
    path = shutil.which("rsyslogd") or ("/usr/sbin/rsyslogd" if Path("/usr/sbin/rsyslogd").exists() else None)
    if path is None:
        if in_ci():
            pytest.fail("rsyslogd is not installed (apt-get install -y rsyslog)")
        pytest.skip("rsyslogd is not installed (apt-get install -y rsyslog)")
    return path


def has_ossl_driver() -> bool:
    return any(Path(d).joinpath(OSSL_MODULE).exists() for d in ("/usr/lib/x86_64-linux-gnu/rsyslog",
                                                                 "/usr/lib/aarch64-linux-gnu/rsyslog",
                                                                 "/usr/lib/rsyslog"))


class Rsyslog:
    """rsyslogd in the foreground with its own work directory: imtcp on a free loopback port (octet
    counting is accepted by default) and imudp on another, every message's raw bytes into `out` with a
    newline."""

    def __init__(self, work: Path, tls: SelfSigned | None = None) -> None:
        self.work = work
        self.port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            self.udp_port = s.getsockname()[1]
        self.out = work / "received.log"
        work.mkdir(parents=True, exist_ok=True)
        tls_global = (f'DefaultNetstreamDriver="ossl" DefaultNetstreamDriverCAFile="{tls.cert}"\n'
                      f'       DefaultNetstreamDriverCertFile="{tls.cert}" DefaultNetstreamDriverKeyFile="{tls.key}"'
                      if tls else "")
        tls_module = ' StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="anon"' if tls else ""
        # Control characters are kept as they came (rsyslog would write a tab as #011), so that what
        # is in the file is exactly what was sent. %rawmsg% is the frame without its octet count and
        # without the trailing LF, which rsyslog drops on reception; the template puts one back.
        (work / "rsyslog.conf").write_text(f"""
global(workDirectory="{work}" parser.escapeControlCharactersOnReceive="off" {tls_global})
module(load="imtcp"{tls_module})
module(load="imudp")
template(name="raw" type="string" string="%rawmsg%\\n")
input(type="imtcp" address="127.0.0.1" port="{self.port}" ruleset="drain")
input(type="imudp" address="127.0.0.1" port="{self.udp_port}" ruleset="drain")
ruleset(name="drain") {{
  action(type="omfile" file="{self.out}" template="raw")
}}
""")
        self.proc = subprocess.Popen([rsyslogd(), "-n", "-f", str(work / "rsyslog.conf"), "-i", str(work / "pid")],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    out = self.proc.stdout.read().decode() if self.proc.stdout else ""
                    raise AssertionError(f"rsyslogd did not start: {out}") from None
                time.sleep(0.1)

    def received(self, n: int, within: float = 20) -> bytes:
        """The file once it holds `n` lines."""
        deadline = time.monotonic() + within
        while True:
            data = self.out.read_bytes() if self.out.exists() else b""
            if data.count(b"\n") >= n or time.monotonic() > deadline:
                return data
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


@pytest.fixture
def rsyslog(tmp_path: Path) -> Iterator[Callable[..., Rsyslog]]:
    started: list[Rsyslog] = []

    def start(tls: SelfSigned | None = None) -> Rsyslog:
        receiver = Rsyslog(tmp_path / f"rsyslog-{len(started)}", tls)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


def frame(token: str, text: str) -> bytes:
    pri, ts, rest = text.split(" ", 2)
    return f"{pri} {ts} {token} {rest}".encode()


def test_rsyslog_receives_a_drain_byte_exact_and_after_a_restart(server_factory, rsyslog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    receiver = rsyslog()
    data = tmp_path / "vigil-data"
    server: ServerProcess = server_factory(data).start()
    with server.client() as client:
        r = client.post("/apps/web/log-drains", json={"url": f"syslog://127.0.0.1:{receiver.port}"})
        assert r.status_code == 201, r.text
        drain = r.json()
        r = client.post("/v1/logs", json=[
            {"app": "web", "message": "GET /things 200 in 12ms", "instance": "web.1",
             "time": "2023-11-14T22:13:20.25Z"},
            {"app": "web", "message": "héllo ✓\tcolumns", "stream": "stderr", "source": "worker",
             "instance": "worker.2", "time": "2023-11-14T22:13:21.000001Z"},
            {"app": "other", "message": "not drained", "time": "2023-11-14T22:13:21Z"},
        ])
        assert r.status_code == 204
    token = drain["token"]
    first = (frame(token, "<14>1 2023-11-14T22:13:20.25+00:00 app web.1 - - GET /things 200 in 12ms\n")
             + frame(token, "<11>1 2023-11-14T22:13:21.000001+00:00 worker worker.2 - - héllo ✓\tcolumns\n"))
    assert receiver.received(2) == first

    server.stop()
    server = server_factory(data).start()
    with server.client() as client:
        assert client.get("/apps/web/log-drains").json() == [drain]
        r = client.post("/v1/logs", json=[{"app": "web", "message": "after the restart",
                                           "time": "2023-11-14T22:13:22Z"}])
        assert r.status_code == 204
    assert receiver.received(3) == first + frame(token, "<14>1 2023-11-14T22:13:22+00:00 app - - - after the restart\n")


def test_rsyslog_over_tls_with_a_trusted_self_signed_certificate(server, rsyslog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if not has_ossl_driver():
        if in_ci():
            pytest.fail("rsyslog's OpenSSL driver is not installed (apt-get install -y rsyslog-openssl)")
        pytest.skip("rsyslog's OpenSSL driver is not installed (apt-get install -y rsyslog-openssl)")
    cert = self_signed(tmp_path)
    receiver = rsyslog(tls=cert)
    with server.client() as client:
        r = client.post("/apps/web/log-drains", json={"url": f"syslog+tls://localhost:{receiver.port}",
                                                      "tls_ca": cert.pem})
        assert r.status_code == 201, r.text
        token = r.json()["token"]
        r = client.post("/v1/logs", json=[{"app": "web", "message": "over TLS", "instance": "web.1",
                                           "time": "2023-11-14T22:13:20Z"}])
        assert r.status_code == 204
    assert receiver.received(1) == frame(token, "<14>1 2023-11-14T22:13:20+00:00 app web.1 - - over TLS\n")


def test_rsyslog_receives_a_udp_drain(server, rsyslog) -> None:  # type: ignore[no-untyped-def]
    receiver = rsyslog()
    with server.client() as client:
        r = client.post("/apps/web/log-drains", json={"url": f"syslog+udp://127.0.0.1:{receiver.udp_port}"})
        assert r.status_code == 201, r.text
        token = r.json()["token"]
        r = client.post("/v1/logs", json=[{"app": "web", "message": "by datagram", "instance": "web.1",
                                           "time": "2023-11-14T22:13:20Z"}])
        assert r.status_code == 204
    assert receiver.received(1) == frame(token, "<14>1 2023-11-14T22:13:20+00:00 app web.1 - - by datagram\n")
