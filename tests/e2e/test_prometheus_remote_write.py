"""A real Prometheus server (Debian's `prometheus`) scrapes a test exporter and remote-writes into a
real `vigil serve`; what Vigil stored must match what Prometheus itself answers for the same range
(its own query API), and the stale markers Prometheus writes when the exporter dies must arrive."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.conftest import in_ci
from tests.e2e.conftest import TOKEN, free_port

pytestmark = pytest.mark.e2e
SCRAPE_INTERVAL = 2


class _Exporter(BaseHTTPRequestHandler):
    scrapes = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            k = type(self).scrapes
            type(self).scrapes += 1
        body = (
            "# TYPE e2e_requests_total counter\n"
            f'e2e_requests_total{{method="GET",code="200"}} {3 * k}\n'
            f'e2e_requests_total{{method="POST",code="500"}} {k // 2}\n'
            "# TYPE e2e_temperature gauge\n"
            f'e2e_temperature{{room="Kitchen",path="/a b+c"}} {20 + (k % 5) * 0.25}\n'
            "# TYPE e2e_latency_seconds histogram\n"
            f'e2e_latency_seconds_bucket{{le="0.1"}} {k}\n'
            f'e2e_latency_seconds_bucket{{le="+Inf"}} {2 * k}\n'
            f"e2e_latency_seconds_sum {0.37 * k}\n"
            f"e2e_latency_seconds_count {2 * k}\n"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _tags(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """Prometheus labels as Vigil stores them (docs/prometheus.md): values lower-cased, `+Inf` → `inf`,
    characters outside the tag rules → `_`."""
    out = {}
    for k, v in labels.items():
        if k == "__name__":
            continue
        v = "inf" if v == "+Inf" else v
        out[k.lower()] = "".join(c if c.isalnum() or c in "-.:_?\\/ " else "_" for c in v).lower()
    return tuple(sorted(out.items()))


def _vigil_series(client: httpx.Client, name: str, start: int, end: int) -> dict[tuple, dict[int, float]]:
    r = client.get(f"/v1/measurements/{name}", params={"start_time": start, "end_time": end, "resolution": 1})
    if r.status_code == 404:
        return {}
    r.raise_for_status()
    return {tuple(sorted(s["tags"].items())): {m["time"]: m["value"] for m in s["measurements"]}
            for s in r.json()["series"]}


def test_prometheus_remote_writes_what_it_scraped(server, tmp_path: Path) -> None:
    binary = shutil.which("prometheus")
    if binary is None:
        if in_ci():
            pytest.fail("prometheus is not installed (apt-get install prometheus)")
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    exporter = ThreadingHTTPServer(("127.0.0.1", 0), _Exporter)
    threading.Thread(target=exporter.serve_forever, daemon=True).start()
    prom_port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""
global:
  scrape_interval: {SCRAPE_INTERVAL}s
  scrape_timeout: 1s
scrape_configs:
  - job_name: exporter
    static_configs:
      - targets: ["127.0.0.1:{exporter.server_address[1]}"]
remote_write:
  - url: {server.url}/api/v1/write
    basic_auth:
      username: "{TOKEN}"
    queue_config:
      batch_send_deadline: 1s
      min_backoff: 100ms
      max_backoff: 1s
""")
    prom = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    papi = httpx.Client(base_url=f"http://127.0.0.1:{prom_port}", timeout=10)
    vigil = server.client()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if papi.get("/-/ready").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and prom.poll() is None, "prometheus did not start"
            time.sleep(0.2)
        # Scraping starts a little after readiness: wait for eight scrapes.
        deadline = time.monotonic() + 60
        scrapes = 0.0
        while scrapes < 8:
            assert time.monotonic() < deadline, "prometheus does not scrape the exporter"
            time.sleep(SCRAPE_INTERVAL)
            found = papi.get("/api/v1/query", params={"query": 'count_over_time(up{job="exporter"}[10m])'}).json()
            scrapes = float(found["data"]["result"][0]["value"][1]) if found["data"]["result"] else 0.0
        cut = time.time() - 3 * SCRAPE_INTERVAL  # what Prometheus has certainly sent by now

        r = papi.get("/api/v1/query", params={"query": '{job="exporter"}[10m]', "time": f"{cut:.3f}"})
        r.raise_for_status()
        result = r.json()["data"]["result"]
        names = {s["metric"]["__name__"] for s in result}
        assert {"e2e_requests_total", "e2e_temperature", "e2e_latency_seconds_bucket", "e2e_latency_seconds_sum",
                "e2e_latency_seconds_count", "up", "scrape_duration_seconds"} <= names
        total = sum(len(s["values"]) for s in result)
        assert total >= 5 * len(result)
        start = int(min(float(v[0]) for s in result for v in s["values"]))

        missing: list[tuple] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            missing = []
            stored = {name: _vigil_series(vigil, name, start, int(cut) + 1) for name in names}
            for s in result:
                got = stored[s["metric"]["__name__"]].get(_tags(s["metric"]), {})
                for ts, value in s["values"]:
                    have = got.get(int(float(ts)))
                    if have is None or have != pytest.approx(float(value), rel=1e-12, abs=1e-12):
                        missing.append((s["metric"], ts, value, have))
            if not missing:
                break
            time.sleep(1)
        assert not missing, f"{len(missing)} of {total} samples differ, e.g. {missing[:3]}"
        # The label mapping, in Vigil's own words.
        assert (("instance", f"127.0.0.1:{exporter.server_address[1]}"), ("job", "exporter"),
                ("path", "/a b_c"), ("room", "kitchen")) in stored["e2e_temperature"]

        # The exporter dies: Prometheus writes stale markers for its series, Vigil keeps them apart.
        exporter.shutdown()
        exporter.server_close()
        deadline = time.monotonic() + 60
        stale = 0.0
        while time.monotonic() < deadline and stale < 7:
            metrics = vigil.get("/metrics").text
            stale = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                        if line.startswith("vigil_prom_samples_total") and 'outcome="stale"' in line)
            time.sleep(0.5)
        assert stale >= 7  # one per exposed series (7); more if Prometheus' own series end too
    finally:
        prom.terminate()
        try:
            prom.wait(30)
        except subprocess.TimeoutExpired:
            prom.kill()
        papi.close()
        vigil.close()
