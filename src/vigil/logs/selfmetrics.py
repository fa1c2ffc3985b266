"""Application logs in Vigil's own metrics (`/metrics`): what came in, what was kept, what was lost.

Read from the counters the parts keep anyway, at scrape time, so the hot path pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from vigil.logs.columns import young_columns
from vigil.logs.service import LogService


class LogCollector(Collector):
    def __init__(self, logs: LogService, listener_stats: Callable[[], dict[str, dict[str, Any]]]) -> None:
        self.logs = logs
        self.listener_stats = listener_stats

    def collect(self) -> Iterator[Any]:
        logs = self.logs
        lines = CounterMetricFamily("vigil_log_lines", "Log lines received, by outcome", labels=["outcome"])
        lines.add_metric(["accepted"], logs.pipeline.accepted)
        lines.add_metric(["no_app"], logs.pipeline.no_app)
        lines.add_metric(["malformed_logplex"], logs.malformed)
        yield lines
        history = CounterMetricFamily("vigil_log_history_lines", "Log lines on their way to the telemetry engine, "
                                      "by outcome", labels=["outcome"])
        history.add_metric(["stored"], logs.store.stored)
        history.add_metric(["dropped"], logs.store.dropped)
        history.add_metric(["out_of_window"], logs.store.out_of_window)
        yield history
        yield CounterMetricFamily("vigil_log_history_failures", "Failed INSERTs of log lines (retried)",
                                  value=logs.store.failures)
        yield GaugeMetricFamily("vigil_log_pending_lines", "Log lines waiting for the telemetry engine",
                                value=logs.store.pending)
        yield GaugeMetricFamily("vigil_log_pending_bytes", "Their weight: message bytes plus 256 a line",
                                value=logs.store.pending_bytes)
        yield GaugeMetricFamily("vigil_log_recent_lines", "Log lines held in the per-app rings",
                                value=logs.ring.total_lines)
        yield CounterMetricFamily("vigil_log_recent_evicted", "Log lines pushed out of the rings by their limits",
                                  value=logs.ring.evicted)
        yield CounterMetricFamily("vigil_log_recent_compacted", "Syslog report slices the rings merged into batches "
                                  "of their own", value=logs.ring.compacted)
        yield GaugeMetricFamily("vigil_log_columns_unsettled", "Syslog report slices made in the last second or so "
                                "(alive or not) that the settler has yet to look at", value=young_columns())
        yield GaugeMetricFamily("vigil_log_readers", "Streaming log readers (sessions, /v2/read)",
                                value=logs.readers.active)
        yield CounterMetricFamily("vigil_log_reader_dropped", "Log lines dropped for live readers that fell behind",
                                  value=logs.broker.dropped)
        for listener, stats in self.listener_stats().items():
            family = GaugeMetricFamily(f"vigil_log_{listener}", f"The {listener} listener's counters",
                                       labels=["counter"])
            for name, value in stats.items():
                family.add_metric([name], value)
            yield family
