"""The browser UI: how soon a log line shows in a live tail, and how long a space takes to draw.

    python bench/web.py [--lines 50] [--charts 12] [--hosts 10] [--loads 5]

Debian's Chromium (headless, driven by Playwright) against `vigil serve`.
- Tail: one line at a time is POSTed to /v1/logs (JSON) every 100 ms while the logs page follows the
  app; the page stamps each line when it is added to the view (a MutationObserver, Date.now()). The
  latency is that stamp minus the time the POST was sent (same machine, same clock).
- Space: `--charts` line charts (breakout over `--hosts` hosts, one point a minute for a day), timed
  from navigation until every chart has drawn, for the last hour and the last day.
Prints medians, p95 and the server's CPU seconds.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

import httpx

from _server import TOKEN, Server

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
STAMP = """() => {
  window.__seen = {};
  new MutationObserver((changes) => {
    const now = Date.now();
    for (const c of changes) for (const n of c.addedNodes) {
      const m = /probe-(\\d+)/.exec(n.textContent || "");
      if (m && !(m[1] in window.__seen)) window.__seen[m[1]] = now;
    }
  }).observe(document.querySelector("#log-view"), {childList: true, subtree: true});
}"""


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def seed_space(client: httpx.Client, charts: int, hosts: int) -> int:
    now = int(time.time()) // 60 * 60
    for metric in range(3):
        body = [{"name": f"bench.ui{metric}", "time": now - 86400 + i * 60, "tags": {"host": f"h{h}"},
                 "value": 50 + 30 * math.sin(i / 50 + h + metric)} for i in range(1440) for h in range(hosts)]
        client.post("/v1/measurements", json={"measurements": body}).raise_for_status()
    space = client.post("/v1/spaces", json={"name": "bench"}).json()["id"]
    for c in range(charts):
        client.post(f"/v1/spaces/{space}/charts", json={"name": f"chart {c}", "streams": [
            {"metric": f"bench.ui{c % 3}", "group_function": "breakout"}]}).raise_for_status()
    return space


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=50)
    parser.add_argument("--charts", type=int, default=12)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    server = Server()
    server.start()
    try:
        client = httpx.Client(base_url=server.url, auth=(TOKEN, ""), timeout=60)
        client.post("/v1/logs", json=[{"app": "bench-ui", "message": "first"}]).raise_for_status()
        space = seed_space(client, args.charts, args.hosts)
        cpu0 = server.cpu_seconds()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{server.url}/#/signin")
            page.fill("#token", TOKEN)
            page.click("form.signin button[type=submit]")
            page.wait_for_selector("#space-list")

            page.goto(f"{server.url}/#/logs/app/bench-ui")
            page.wait_for_selector(".log-state:has-text('Live')")
            page.evaluate(STAMP)
            sent = {}
            for i in range(args.lines):
                sent[i] = time.time() * 1000
                client.post("/v1/logs", json=[{"app": "bench-ui", "message": f"probe-{i}"}]).raise_for_status()
                time.sleep(0.1)
            page.wait_for_function(f"() => Object.keys(window.__seen).length >= {args.lines}")
            seen = page.evaluate("() => window.__seen")
            tail = [seen[str(i)] - sent[i] for i in range(args.lines)]
            print(f"tail: {args.lines} lines, latency p50 {statistics.median(tail):.0f} ms, "
                  f"p95 {pct(tail, 0.95):.0f} ms, max {max(tail):.0f} ms")

            for label in ("1h", "1d"):
                times = []
                for _ in range(args.loads):
                    page.goto(f"{server.url}/#/spaces")
                    page.wait_for_selector("#space-list")
                    started = time.perf_counter()
                    page.goto(f"{server.url}/#/spaces/{space}?range={label}&refresh=0")
                    page.wait_for_function(f"() => document.querySelectorAll('.chart-card[data-drawn]').length"
                                           f" === {args.charts}", timeout=120_000)
                    times.append(time.perf_counter() - started)
                print(f"space: {args.charts} charts × {args.hosts} series, last {label}: median "
                      f"{statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")
            browser.close()
        print(f"server CPU during the browser runs: {server.cpu_seconds() - cpu0:.1f} s", file=sys.stderr)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
