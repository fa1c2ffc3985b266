"""The official `appoptics-metrics` client, unchanged, against a running `vigil serve`."""

from __future__ import annotations

import time

import appoptics_metrics
import pytest

from tests.e2e.conftest import TOKEN, ServerProcess

pytestmark = pytest.mark.e2e


def connect(server: ServerProcess) -> appoptics_metrics.AppOpticsConnection:
    return appoptics_metrics.connect(TOKEN, hostname=server.hostport, protocol="http")


def test_submit_queue_and_read_back(server: ServerProcess) -> None:
    api = connect(server)
    api.submit_measurement("my.custom.metric", 65, tags={"region": "us-east-1", "az": "a"})
    q = api.new_queue(tags={"region": "us-west", "name": "web-prod-3"})
    q.add("cpu", 4.5)
    q.add("memory", 10.5)
    q.add("cpu", 7.5, tags={"name": "web-prod-1"})
    q.submit()
    resp = api.get_measurements("my.custom.metric", resolution=60, duration=300)
    assert [s["measurements"][-1]["value"] for s in resp["series"]] == [65.0]
    assert resp["series"][0]["tags"] == {"az": "a", "region": "us-east-1"}
    cpu = api.get_measurements("cpu", resolution=60, duration=300)
    assert sorted((s["tags"]["name"], s["measurements"][-1]["value"]) for s in cpu["series"]) == [
        ("web-prod-1", 7.5), ("web-prod-3", 4.5)]


def test_summary_measurement_with_explicit_time(server: ServerProcess) -> None:
    api = connect(server)
    now = int(time.time()) - 120
    api.submit_measurement("summary.metric", None, period=60, sum=35, count=3, min=4.5, max=6.7, last=2.5,
                           stddev=1.34, attributes={"aggregate": False}, time=now,
                           tags={"region": "us-east-1", "role": "kafka", "environment": "prod", "instance": "3",
                                 "az": "b"})
    resp = api.get_measurements("summary.metric", start_time=now - 60, resolution=60, summary_function="sum")
    assert resp["series"][0]["measurements"][0]["value"] == 35.0


def test_list_get_update_delete_metrics(server: ServerProcess) -> None:
    api = connect(server)
    api.create_metric("cpu.percent.used", type="gauge", tags={"environment": "prod", "service": "api"})
    api.update_metric("queue_len", type="gauge", display_name="num. elements", period=15)
    api.submit_measurement("temperature", 21.5, tags={"room": "lab"})
    names = sorted(m.name for m in api.list_metrics())
    assert names == ["cpu.percent.used", "queue_len", "temperature"]
    assert [m.name for m in api.list_all_metrics(name="queue")] == ["queue_len"]
    metric = api.get_metric("temperature")
    attrs = metric.attributes
    attrs["display_max"] = "150"
    attrs["display_units_short"] = "°C"
    api.update_metric(metric.name, attributes=attrs)
    metric = api.get_metric("temperature")
    assert metric.attributes["display_max"] == 150
    assert metric.attributes["display_units_short"] == "°C"
    assert api.get_metric("queue_len").period == 15
    api.delete_metric("queue_len")
    api.delete_metric(names=["cpu.percent.used", "temperature"])
    assert list(api.list_metrics()) == []
    with pytest.raises(appoptics_metrics.exceptions.NotFound):
        api.get_metric("temperature")


def test_client_errors_are_raised_not_retried(server: ServerProcess) -> None:
    api = connect(server)
    with pytest.raises(appoptics_metrics.exceptions.BadRequest) as info:
        api.submit_measurement("bad name!", 1, tags={"a": "b"})
    assert "name" in str(info.value)
    bad = appoptics_metrics.connect("wrong-token", hostname=server.hostport, protocol="http")
    with pytest.raises(appoptics_metrics.exceptions.Unauthorized):
        bad.list_metrics()


def test_get_measurements_with_filters_group_by_and_summary(server: ServerProcess) -> None:
    api = connect(server)
    now = int(time.time())
    start = now - now % 60 - 300
    q = api.new_queue()
    for region, name, value in (("us-east", "prod", 753.0), ("us-west", "prod", 496.0), ("us-east", "dev", 7.0)):
        q.add("AWS.EC2.DiskWriteBytes", value, time=start, tags={"region": region, "name": name})
    q.submit()
    resp = api.get_measurements("AWS.EC2.DiskWriteBytes", start_time=start, resolution=60,
                                tags={"region": "us*", "name": "prod*"})
    assert [(s["tags"]["region"], s["measurements"][0]["value"]) for s in resp["series"]] == [
        ("us-east", 753.0), ("us-west", 496.0)]
    resp = api.get_measurements("AWS.EC2.DiskWriteBytes", start_time=start, resolution=60, group_by="region",
                                group_by_function="sum", tags={"region": "us*"})
    assert [(s["tags"], s["measurements"][0]["value"]) for s in resp["series"]] == [
        ({"region": "us-east"}, 760.0), ({"region": "us-west"}, 496.0)]
    resp = api.get_measurements("AWS.EC2.DiskWriteBytes", start_time=start, resolution=60,
                                tags_search="region=us-east* and not name=dev", summary_function="count")
    assert [(s["tags"]["name"], s["measurements"][0]["value"]) for s in resp["series"]] == [("prod", 1.0)]
    assert resp["links"] == []


def test_client_creates_and_reads_a_composite(server: ServerProcess) -> None:
    api = connect(server)
    now = int(time.time())
    start = now - now % 60 - 300
    for host, value in (("a", 2.0), ("b", 3.0)):
        api.submit_measurement("cpu.percent.user", value, time=start, tags={"environment": "prod", "host": host})
    compose = 's("cpu.percent.user", {"environment": "prod"})'
    api.create_composite("cpu.percent.used", f"sum({compose})", description="a test composite")
    listed = {m.name: m for m in api.list_metrics()}
    assert listed["cpu.percent.used"].composite == f"sum({compose})"
    resp = api.get_composite(f"sum({compose})", start_time=start, resolution=60)
    assert [m["value"] for m in resp["series"][0]["measurements"]] == [5.0]
    resp = api.get_measurements("cpu.percent.used", start_time=start, resolution=60)
    assert [m["value"] for m in resp["series"][0]["measurements"]] == [5.0]
