"""Makes the screenshots of docs/screenshots/ (shown in the README): a demo data set posted through
the APIs to a fresh `vigil serve`, then each main page in Debian's Chromium at 1280×800 (and one
narrow). Run from the repository root: `.venv/bin/python -m tests.web.screenshots`.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import TOKEN, ServerProcess
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORT

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
HOSTS = ("web-1", "web-2", "web-3")


def seed(client: httpx.Client) -> dict[str, Any]:
    now = int(time.time()) // 60 * 60
    ms = []
    for i in range(180):  # three hours, a point a minute
        t = now - 10800 + i * 60
        for k, host in enumerate(HOSTS):
            spike = 25 if 150 < i < 160 and k == 0 else 0
            ms.append({"name": "cpu.percent", "time": t, "tags": {"host": host},
                       "value": round(35 + 12 * k + 15 * math.sin(i / 17 + k) + spike, 2)})
        for status, base in (("2xx", 900), ("4xx", 60), ("5xx", 8)):
            burst = 40 if status == "5xx" and 150 < i < 160 else 0
            ms.append({"name": "http.requests", "time": t, "tags": {"status": status},
                       "value": round(base * (1 + 0.3 * math.sin(i / 25)) + burst)})
        ms.append({"name": "queue.depth", "time": t, "tags": {"queue": "jobs"}, "value": 200 + 8 * i})
    r = client.post("/v1/measurements", json={"measurements": ms})
    r.raise_for_status()
    client.post("/v1/annotations/deploys", json={"title": "shop v2.4.1", "start_time": now - 1800,
                                                 "end_time": now - 1260}).raise_for_status()
    space = client.post("/v1/spaces", json={"name": "Shop production"}).json()
    for name in ("Databases", "Queues"):
        client.post("/v1/spaces", json={"name": name}).raise_for_status()
    charts = [
        {"name": "CPU by host", "type": "line", "min": 0, "max": 100,
         "streams": [{"metric": "cpu.percent", "group_function": "breakout", "color": "#1f77b4", "units_short": "%",
                      "units_long": "percent", "tags": [{"name": "@host", "dynamic": True}]}],
         "thresholds": [{"operator": ">", "value": 85, "type": "red"}]},
        {"name": "Requests by status", "type": "stacked",
         "streams": [{"metric": "http.requests", "group_function": "breakout", "units_short": "req/min",
                      "units_long": "requests per minute", "tags": [{"name": "status", "values": ["*"]}]}]},
        {"name": "Jobs waiting", "type": "bignumber",
         "streams": [{"metric": "queue.depth", "units_short": "jobs"}],
         "thresholds": [{"operator": ">", "value": 1000, "type": "yellow"},
                        {"operator": ">", "value": 1500, "type": "red"}]},
        {"name": "5xx share", "type": "line",
         "streams": [{"composite": 'divide([sum(s("http.requests", {"status": "5xx"})), '
                                   'sum(s("http.requests", {"status": "*"}))])',
                      "transform_function": "x * 100", "units_short": "%", "name": "5xx %", "color": "#d6336c"}]},
    ]
    ids = [client.post(f"/v1/spaces/{space['id']}/charts", json=c).json()["id"] for c in charts]

    lines = []
    for i in range(40):
        stderr = i % 9 == 4
        lines.append({"app": "shop-web", "time": time.time() - 120 + i * 3, "instance": f"web.{i % 2 + 1}",
                      "stream": "stderr" if stderr else "stdout",
                      "message": (f"ERROR payment gateway timeout after 5000 ms (order {1000 + i})" if stderr
                                  else f"GET /products/{i * 7} 200 {12 + i % 30}ms")})
    lines.append({"app": "shop-web", "source": "router", "message": "at=info method=GET path=/ status=200 service=8ms"})
    client.post("/v1/logs", json=lines).raise_for_status()

    instance, request = str(uuid.uuid4()), f"req-{uuid.uuid4()}"
    t0 = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=20)

    def note(event: str, seconds: float, publisher: str = "compute.cmp-12", **payload: Any) -> dict[str, Any]:
        return {"message_id": str(uuid.uuid4()), "publisher_id": publisher, "event_type": event, "priority": "INFO",
                "timestamp": (t0 + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S.%f"),
                "_context_request_id": request, "_context_project_id": "shop",
                "payload": {"instance_id": instance, "image_meta": {"image_type": "base", "os_type": "linux"},
                            **payload}}

    client.post("/v1/notifications", params={"deployment": "region-1"}, json=[
        note("compute.instance.update", 0, publisher="api.api-1", state="building", new_task_state="scheduling"),
        note("compute.instance.create.start", 3.2, state="building"),
        note("compute.instance.update", 20, state="building", old_state="building", old_task_state="spawning"),
        note("compute.instance.create.end", 71.45, state="active"),
        note("compute.instance.resize.prep.start", 300, state="active"),
        note("compute.instance.resize.prep.end", 304.5, state="active"),
    ]).raise_for_status()

    hook = client.post("/v1/services", json={"title": "on-call webhook", "type": "webhook",
                                             "settings": {"url": "http://127.0.0.1:9/hook"}}).json()
    client.post("/v1/alerts", json={"name": "queue.backlog", "description": "Jobs are piling up",
                                    "conditions": [{"type": "above", "metric_name": "queue.depth", "threshold": 1500}],
                                    "services": [hook["id"]]}).raise_for_status()
    client.post("/v1/alerts", json={"name": "cpu.saturated", "conditions": [
        {"type": "above", "metric_name": "cpu.percent", "threshold": 95, "duration": 300}]}).raise_for_status()
    client.post("/v1/measurements", json={"measurements": [
        {"name": "queue.depth", "value": 1640, "tags": {"queue": "jobs"}}]}).raise_for_status()
    return {"space": space["id"], "chart": ids[0], "instance": instance}


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vigil-shots-") as data:
        server = ServerProcess(Path(data)).start()
        try:
            with server.client() as client:
                demo = seed(client)
            time.sleep(2)  # the alert evaluator and the lifecycle processor
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport=VIEWPORT)
                page.goto(f"{server.url}/#/signin")
                page.fill("#token", TOKEN)
                shoot(page, "signin")
                page.click("form.signin button[type=submit]")
                page.wait_for_selector("#space-list")
                shoot(page, "spaces")
                for name, where, ready in (
                    ("space", f"spaces/{demo['space']}", ".chart-card[data-drawn]"),
                    ("chart-editor", f"spaces/{demo['space']}/charts/{demo['chart']}", "#preview-chart canvas"),
                    ("metrics", "metrics/cpu.percent", "#metric-plot canvas"),
                    ("logs", "logs/app/shop-web", ".log-state:has-text('Live')"),
                    ("events-lifecycle", f"events/instance/{demo['instance']}", "#lifecycle-title"),
                    ("events-watch", "events/watch", "#watch-feed table"),
                    ("alerts", "alerts", "#alert-list table"),
                ):
                    page.goto(f"{server.url}/#/{where}")
                    page.wait_for_selector(ready)
                    page.wait_for_timeout(1200)  # the other charts, the tag drop-down
                    shoot(page, name)
                page.set_viewport_size({"width": 390, "height": 800})
                page.goto(f"{server.url}/#/spaces/{demo['space']}")
                page.wait_for_selector(".chart-card[data-drawn]")
                page.wait_for_timeout(1200)
                shoot(page, "space-narrow")
                browser.close()
        finally:
            server.stop()


def shoot(page: Any, name: str) -> None:
    page.mouse.move(0, 0)
    page.screenshot(path=str(OUT / f"{name}.png"))
    print(OUT / f"{name}.png", file=sys.stderr)


if __name__ == "__main__":
    main()
