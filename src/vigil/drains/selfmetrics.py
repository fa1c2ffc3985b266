"""Log drains in Vigil's own metrics (`/metrics`), read from each worker's counters at scrape time.

Series are labelled by drain id only: a URL may hold credentials, and the id is what the API shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from vigil.drains.manager import DrainManager


class DrainCollector(Collector):
    def __init__(self, drains: DrainManager) -> None:
        self.drains = drains

    def collect(self) -> Iterator[Any]:
        workers = list(self.drains.workers.items())
        yield GaugeMetricFamily("vigil_log_drains", "Log drains running", value=len(workers))
        lines = CounterMetricFamily("vigil_log_drain_lines", "Log lines per drain, by outcome: delivered, dropped "
                                    "(buffer overflow), failed (lost with a connection or out of attempts), "
                                    "rejected (HTTP 4xx)", labels=["drain", "outcome"])
        buffered = GaugeMetricFamily("vigil_log_drain_buffered_lines", "Lines waiting in a drain's buffer",
                                     labels=["drain"])
        connected = GaugeMetricFamily("vigil_log_drain_connected", "1 while a drain's last delivery or "
                                      "connection attempt succeeded", labels=["drain"])
        failures = CounterMetricFamily("vigil_log_drain_connect_failures", "Failed connection attempts",
                                       labels=["drain"])
        retries = CounterMetricFamily("vigil_log_drain_retries", "HTTP batches sent again", labels=["drain"])
        notices = CounterMetricFamily("vigil_log_drain_notices", "L10 notices written into the app's log",
                                      labels=["drain"])
        for drain_id, w in workers:
            st = w.stats
            for outcome, value in (("delivered", st.delivered), ("dropped", w.dropped), ("failed", st.failed),
                                   ("rejected", st.rejected)):
                lines.add_metric([drain_id, outcome], value)
            buffered.add_metric([drain_id], w.pending)
            connected.add_metric([drain_id], 1 if st.connected else 0)
            failures.add_metric([drain_id], st.connect_failures)
            retries.add_metric([drain_id], st.retries)
            notices.add_metric([drain_id], st.notices)
        yield from (lines, buffered, connected, failures, retries, notices)
