"""Listeners that bring telemetry in besides the HTTP API (AMQP notifications, log protocols …)."""
