"""What the measurements writer and the ingest columns put in the log: the rollup marks, and the rows
kept when some of a request's times are refused."""

from __future__ import annotations

import math
import time

import msgspec
import pyarrow as pa

from vigil.metrics.ingest import Ingestor, MeasurementIn, PayloadIn
from vigil.metrics.writer import DIRTY_SCHEMA, dirty_windows


def test_dirty_windows_are_the_distinct_metric_minutes() -> None:
    part = pa.table({"metric": pa.array(["a", "b", "a", "a"]),
                     "time": pa.array([60, 61, 119, 120], pa.uint32())})
    samples = pa.concat_tables([part, part])  # two chunks, as a group commit of two batches
    marks = dirty_windows(samples)
    assert marks.schema == DIRTY_SCHEMA
    assert sorted(zip(marks.column("metric").to_pylist(), marks.column("window").to_pylist(), strict=True)) == [
        ("a", 60), ("a", 120), ("b", 60)]
    assert dirty_windows(samples.slice(0, 0)).num_rows == 0


class _Catalog:
    def on_change(self, callback: object) -> None:
        pass


def test_refused_times_leave_the_other_rows_whole() -> None:
    ingestor = Ingestor(_Catalog(), None, past_window=3600, future_window=600,  # type: ignore[arg-type]
                        max_measurements=100)
    now = float(int(time.time()))
    # Built in-process, as the other protocols do: JSON cannot carry an infinite time, they could.
    payload = PayloadIn(tags=msgspec.Raw(b'{"h":"a"}'), measurements=[
        MeasurementIn(name="m", value=1.5, time=now - 10),
        MeasurementIn(name="m", value=2.0, time=math.inf),  # refused, and not cast to an integer
        MeasurementIn(name="m", count=2, sum=5.0, time=now - 20),
        MeasurementIn(name="m", value=3.0, time=now + 7200)])
    early = [None] * 4
    names = {"m": ingestor._resolve_name("m", type("M", (), {"type": "gauge", "aggregate_period": 0})(), None)}
    result = ingestor._normalise(payload, early, names, None, now)
    assert (result.accepted, result.failed) == (2, 2)
    assert [e["param"] for e in result.errors] == ["time", "time"]
    assert result.batch is not None
    rows = result.batch.samples.to_pylist()
    assert [(r["time"], r["count"], r["sum"], r["min"], r["max"], r["last"]) for r in rows] == [
        (int(now) - 10, 1, 1.5, 1.5, 1.5, 1.5), (int(now) - 20, 2, 5.0, 2.5, 2.5, 2.5)]
    assert result.batch.samples.column("series_id").type == pa.uint64()
