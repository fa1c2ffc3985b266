"""The summary report's arithmetic: durations, percentiles, failure kinds, the metadata row."""

from __future__ import annotations

import json

from vigil.events import image_type
from vigil.events.reports import Period, build

S = 1_000_000
START = 1_389_726_000  # 2014-01-14 19:00 UTC


def raw(event: str, seconds: float, *, key: str = "notifications.info", state: str = "active",
        old_state: str = "active", bits: int = 0, code: int | None = None) -> dict:
    body: dict = {"payload": {}}
    if code is not None:
        body["payload"]["exception"] = {"kwargs": {"code": code}}
    return {"us": int((START + seconds) * S), "routing_key": key, "state": state, "old_state": old_state,
            "event": event, "image_type": bits, "json": json.dumps([key, body])}


BASE_LINUX = image_type.BASE_IMAGE | image_type.LINUX_IMAGE


def request(op: str, seconds: float, **kw: object) -> list[dict]:
    return [raw("compute.instance.update", 0), raw(f"compute.instance.{op}.start", 1, bits=BASE_LINUX),
            raw(f"compute.instance.{op}.end", seconds, **kw)]  # type: ignore[arg-type]


def test_rows_and_metadata() -> None:
    requests = [request("create", s) for s in (10, 20, 30, 40, 345)]
    requests.append(request("create", 2000))  # > 30 minutes
    requests.append([raw("compute.instance.update", 0), raw("compute.instance.create.error", 5,
                                                          key="notifications.error", state="error",
                                                          old_state="building", code=404)])
    requests.append([raw("compute.instance.update", 0, state="error", old_state="active"),
                     raw("compute.instance.update", 3, state="error", old_state="error")])
    report = build(Period(START, START + 3600), None, ["region-1"], requests)
    meta, cols, rows = report[0], report[1], report[2:]
    assert cols == ["Operation", "Image", "OS Type", "Min", "Max", "Med", "97%", "Requests", "4xx", "% 4xx", "5xx",
                    "% 5xx", "> 30", "% > 30", "state", "% state"]
    assert rows == [
        # the state failure: no operation named, no image known
        ["aux", "?", "?", "3s", "3s", "3s", "3s", 1, 0, 0.0, 0, 0.0, 0, 0.0, 1, 1.0],
        # the 404 error: the http failure becomes 4xx
        ["create", "?", "?", "5s", "5s", "5s", "5s", 1, 1, 1.0, 0, 0.0, 0, 0.0, 0, 0.0],
        # durations 10 20 30 40 345 2000: median index 3 -> 40, 97% index int(5.82) = 5 -> 2000
        ["create", "base", "linux", "10s", "33:20s", "40s", "33:20s", 6, 0, 0.0, 0, 0.0, 1, 1 / 6, 0, 0.0],
    ]
    assert meta == {"percentile": 97, "pct": 0.015, "hours": 1, "start": float(START), "end": float(START + 3599),
                    "region": None, "cells": ["region-1"], "total": 8,
                    "4xx failure count": 1, "4xx failure percentage": 12.5, "5xx failure count": 0,
                    "5xx failure percentage": 0.0, "> 30 failure count": 1, "> 30 failure percentage": 12.5,
                    "state failure count": 1, "state failure percentage": 12.5, "failure_grand_total": 3,
                    "failure_grand_rate": 37.5}


def test_leaving_the_error_state_clears_the_failure_and_empty_reports() -> None:
    recovered = [raw("compute.instance.update", 0, state="error", old_state="active"),
                 raw("compute.instance.update", 9, state="active", old_state="error")]
    report = build(Period(START, START + 7200), "EAST", [], [recovered])
    assert report[2][8:] == [0, 0.0, 0, 0.0, 0, 0.0, 0, 0.0]
    empty = build(Period(START, START + 5400), None, [], [])
    assert empty[0]["total"] == 0 and empty[0]["failure_grand_rate"] == 0.0 and empty[0]["hours"] == 1.5
    assert len(empty) == 2


def test_snapshot_bits_win_over_base() -> None:
    snap = [raw("compute.instance.snapshot.start", 0, bits=image_type.BASE_IMAGE | image_type.WINDOWS_IMAGE),
            raw("compute.instance.snapshot.end", 400, bits=image_type.IMPORT_IMAGE)]
    row = build(Period(START, START + 3600), None, [], [snap])[2]
    assert row[:8] == ["snapshot", "snap", "windows", "6:40s", "6:40s", "6:40s", "6:40s", 1]
