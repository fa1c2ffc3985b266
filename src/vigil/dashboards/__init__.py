"""Spaces, charts and their streams, chart data and snapshots."""
