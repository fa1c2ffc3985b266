"""The log listeners a server opens: syslog TCP (optionally TLS) and the Loggregator gRPC ingress.

`Settings.listeners` decides: "on" opens each on its configured port (0 turns one off), "ephemeral"
opens both on ports the OS picks (tests and benchmarks run several servers at once), "off" opens
none (a bare `Settings()`, as servers built in-process use unless they ask). The bound ports are
`syslog.port` and `grpc.port`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from vigil.config import Settings
from vigil.ingest.grpc_ingress import EnvelopeMetrics, GrpcIngress
from vigil.ingest.syslog import SyslogListener, tls_context
from vigil.logs.service import LogService

log = logging.getLogger(__name__)


class LogListeners:
    def __init__(self, settings: Settings, logs: LogService, ingest_metrics: Callable[[bytes], Awaitable[Any]]) -> None:
        s = settings
        self.settings = settings
        mode = s.listeners
        syslog_port = 0 if mode == "ephemeral" else s.syslog_port
        grpc_port = 0 if mode == "ephemeral" else s.grpc_port
        self.syslog: SyslogListener | None = None
        self.grpc: GrpcIngress | None = None
        self.envelope_metrics = EnvelopeMetrics(ingest_metrics, s.log_metrics_pending)
        if mode == "off":
            return
        if mode == "ephemeral" or s.syslog_port:
            tls_files = (s.syslog_tls_cert, s.syslog_tls_key) if s.syslog_tls_cert and s.syslog_tls_key else None
            ssl_context = tls_context(*tls_files) if tls_files else None
            self.syslog = SyslogListener(logs.pipeline, s.host, syslog_port, ssl_context=ssl_context,
                                         max_connections=s.log_max_connections, max_frame=s.log_max_line_bytes,
                                         workers=s.log_syslog_workers, tls_files=tls_files,
                                         worker_batch_lines=s.log_syslog_batch_lines,
                                         worker_buffer_bytes=s.log_syslog_worker_bytes,
                                         worker_nice=s.log_syslog_worker_nice)
        if mode == "ephemeral" or s.grpc_port:
            self.grpc = GrpcIngress(logs.pipeline, self.envelope_metrics, s.host, grpc_port,
                                    max_streams=s.log_max_connections, max_message_bytes=s.max_body_bytes,
                                    max_line_bytes=s.log_max_line_bytes)

    async def start(self) -> None:
        self.envelope_metrics.start()
        if self.syslog:
            await self.syslog.start()
        if self.grpc:
            await self.grpc.start()

    def announce(self) -> list[str]:
        """Lines `vigil serve` prints at start, one per open listener."""
        out = []
        if self.syslog:
            tls = "+tls" if self.syslog.tls else ""
            out.append(f"syslog{tls} listening on {self.settings.host}:{self.syslog.port}")
        if self.grpc:
            out.append(f"loggregator grpc listening on {self.settings.host}:{self.grpc.port}")
        return out

    def stats(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        if self.syslog:
            out["syslog"] = self.syslog.stats()
        if self.grpc:
            out["grpc"] = self.grpc.stats()
        return out

    async def close(self) -> None:
        if self.grpc:
            await self.grpc.close()
        if self.syslog:
            await self.syslog.close()
        await self.envelope_metrics.close()
