"""Alerts: conditions on incoming measurements, their evaluation, state and notifications.

`model` (what an alert is), `validation` (API bodies → specs), `store` (metadata DB), `matching`
(tag filters → signals), `conditions` (per-condition state machines over batches of samples),
`engine` (the evaluator task), `delivery` + `notify/` (notification services), `manager` (what
the API calls).
"""
