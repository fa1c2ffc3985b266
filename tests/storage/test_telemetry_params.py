"""Query parameters are rendered as escaped, typed literals: values never become SQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.storage.telemetry import ChdbTelemetry, TelemetryError, render


async def test_values_round_trip_and_cannot_inject(chdb_path: Path) -> None:
    store = ChdbTelemetry(chdb_path, database="params_test")
    hostile = "'); DROP DATABASE params_test; --\\"
    table = await store.query_arrow(
        "SELECT {s:String} AS s, {n:UInt64} AS n, {a:Array(String)} AS a, {t:Array(Tuple(String, UInt32))} AS t",
        {"s": hostile, "n": 2**64 - 1, "a": ["x'y", "z\\"], "t": [("m", 60)]})
    row = table.to_pylist()[0]
    assert row["s"] == hostile
    assert row["n"] == 2**64 - 1
    assert row["a"] == ["x'y", "z\\"]
    assert row["t"] == [{"1": "m", "2": 60}] or row["t"] == [("m", 60)]


def test_a_missing_parameter_is_an_error() -> None:
    with pytest.raises(TelemetryError, match="not set"):
        render("SELECT {x:UInt8}", {})
    assert render("SELECT {x:UInt8}", {"x": 1}) == "SELECT CAST(1 AS UInt8)"
