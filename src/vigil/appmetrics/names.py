"""The Akkeris app metrics: each answer key, the container metric it is read from, and its kind.

Keys are the cAdvisor names without `container_` (as Akkeris answers them). Counters (`*_total`)
are answered as per-second rates over each resolution step; gauges as the step's average.
"""

from __future__ import annotations

from dataclasses import dataclass

# Tags that name the app and the instance, in order of preference.
APP_TAGS = ("app", "container", "container_name")
INSTANCE_TAGS = ("pod", "pod_name", "instance")
P90_SUFFIX = "_p90"


@dataclass(frozen=True)
class AppMetric:
    key: str  # the answer's key
    source: str  # the stored metric (cAdvisor's name)
    counter: bool


KEYS = ("cpu_system_seconds_total", "cpu_usage_seconds_total", "cpu_user_seconds_total", "fs_io_time_seconds_total",
        "fs_usage_bytes", "memory_cache", "memory_rss", "memory_usage_bytes", "memory_working_set_bytes",
        "network_receive_bytes_total", "network_receive_errors_total", "network_transmit_bytes_total",
        "network_transmit_errors_total")
METRICS = tuple(AppMetric(key, "container_" + key, key.endswith("_total")) for key in KEYS)
BY_SOURCE = {m.source: m for m in METRICS}
