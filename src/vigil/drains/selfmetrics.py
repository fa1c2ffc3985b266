"""Log drains in Vigil's own metrics (`/metrics`): each drain's counters as the delivery process last
reported them (every `drain_stats_interval`), and the channel to that process.

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

    def describe(self) -> Iterator[Any]:
        """The families without samples: `/metrics?name[]=…` then skips this collector unless asked."""
        yield GaugeMetricFamily("vigil_log_drains", "")
        for name in ("vigil_log_drain_lines", "vigil_log_drain_connect_failures", "vigil_log_drain_retries",
                     "vigil_log_drain_notices", "vigil_log_drain_process_restarts",
                     "vigil_log_drain_channel_lost_lines"):
            yield CounterMetricFamily(name, "")
        for name in ("vigil_log_drain_buffered_lines", "vigil_log_drain_connected", "vigil_log_drain_channel_bytes"):
            yield GaugeMetricFamily(name, "")

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
        process = self.drains.process
        yield CounterMetricFamily("vigil_log_drain_process_restarts", "Times the drain delivery process was "
                                  "restarted after it ended", value=process.restarts)
        yield CounterMetricFamily("vigil_log_drain_channel_lost_lines", "Lines of apps with drains not handed to "
                                  "the delivery process (its channel full, or the process down); the drains count "
                                  "them as dropped", value=process.gapped)
        yield GaugeMetricFamily("vigil_log_drain_channel_bytes", "Bytes waiting to be written to the delivery "
                                "process", value=process.channel_bytes)
