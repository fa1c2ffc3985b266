"""GET /apps/{app}/metrics: averages and nearest-rank p90 across instances, worked out by hand, from
cAdvisor-style series remote-written into Vigil (and `vigil run`-style app/instance tags)."""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pytest

from tests.conftest import Vigil
from tests.prom.helpers import WRITE_HEADERS, payload
from vigil.appmetrics.names import KEYS
from vigil.appmetrics.service import nearest_rank_p90


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def cadvisor(name: str, pod: str, points: list[tuple[int, float]], container: str = "web", **extra: str):
    labels = {"__name__": f"container_{name}", "container": container, "pod": pod, "namespace": "apps",
              "job": "kubelet", **extra}
    return (labels, [(v, t * 1000) for t, v in points])


@pytest.fixture
async def loaded(vigil: Vigil):
    now = int(time.time())
    t = now - now % 3600 - 3600 + 600  # every point within one hour, for the 1h step below
    series = [
        # memory_rss (gauge): step means per pod; pod 2 is gone in the last step, pod 3 new in the second.
        cadvisor("memory_rss", "web-1", [(t, 100), (t + 30, 200), (t + 60, 300), (t + 120, 300)]),
        cadvisor("memory_rss", "web-2", [(t + 10, 50), (t + 70, 70)]),
        cadvisor("memory_rss", "web-3", [(t + 90, 1000), (t + 130, 10), (t + 150, 30)]),
        # Not the app's: the pod's sandbox container, and a series whose app tag names another app.
        cadvisor("memory_rss", "web-1", [(t, 99_999)], container="POD"),
        cadvisor("memory_rss", "web-9", [(t, 5_555)], app="other"),
        # cpu_usage_seconds_total (counter): rates from each step's last point to the next's.
        cadvisor("cpu_usage_seconds_total", "web-1", [(t - 10, 100), (t + 50, 130), (t + 110, 160), (t + 170, 175)]),
        cadvisor("cpu_usage_seconds_total", "web-2", [(t + 20, 10), (t + 40, 20), (t + 100, 80), (t + 130, 5)]),
        # Two interfaces of one pod: the instance's value is their sum.
        cadvisor("network_receive_bytes_total", "web-1", [(t - 10, 0), (t + 50, 600)], interface="eth0"),
        cadvisor("network_receive_bytes_total", "web-1", [(t - 10, 0), (t + 50, 60)], interface="eth1"),
        # Two file-system devices of one pod: summed too.
        cadvisor("fs_usage_bytes", "web-1", [(t + 5, 1000)], device="/dev/a"),
        cadvisor("fs_usage_bytes", "web-1", [(t + 5, 24)], device="/dev/b"),
        cadvisor("fs_usage_bytes", "web-2", [(t + 5, 4000)], device="/dev/a"),
        # `vigil run` reports with app and instance tags.
        ({"__name__": "container_memory_rss", "app": "worker", "instance": "worker.1"}, [(42.0, (t + 5) * 1000)]),
    ]
    r = await vigil.client.post("/api/v1/write", content=payload(series), headers=WRITE_HEADERS)
    assert r.status_code == 204, r.text
    return vigil, t


async def _metrics(vigil: Vigil, app: str, t: int, **params: str) -> dict:
    r = await vigil.client.get(f"/apps/{app}/metrics",
                               params={"resolution": "1m", "from": iso(t), "to": iso(t + 179), **params})
    assert r.status_code == 200, r.text
    return r.json()


async def test_averages_and_p90_across_instances(loaded) -> None:
    vigil, t = loaded
    body = await _metrics(vigil, "web", t)
    assert sorted(body) == sorted([*KEYS, *(k + "_p90" for k in KEYS)])
    s0, s1, s2 = str(t), str(t + 60), str(t + 120)
    # memory_rss: step 0: web-1 mean(100, 200) = 150, web-2 50; step 1: 300, 70, 1000; step 2: 300, mean(10, 30) = 20.
    assert body["memory_rss"] == pytest.approx({s0: 100.0, s1: 1370 / 3, s2: 160.0})
    # Nearest rank: ⌈0.9·2⌉ = 2nd of 2, ⌈0.9·3⌉ = 3rd of 3.
    assert body["memory_rss_p90"] == {s0: 150.0, s1: 1000.0, s2: 300.0}
    # cpu: web-1 30/60, 30/60, 15/60; web-2 no predecessor in step 0, then (80 - 20)/60, then a restart: 5/30.
    assert body["cpu_usage_seconds_total"] == pytest.approx({s0: 0.5, s1: 0.75, s2: (0.25 + 5 / 30) / 2})
    assert body["cpu_usage_seconds_total_p90"] == pytest.approx({s0: 0.5, s1: 1.0, s2: 0.25})
    # eth0 600 B/60 s + eth1 60 B/60 s.
    assert body["network_receive_bytes_total"] == pytest.approx({s0: 11.0})
    # web-1: 1000 + 24, web-2: 4000.
    assert body["fs_usage_bytes"] == {s0: 2512.0}
    assert body["fs_usage_bytes_p90"] == {s0: 4000.0}
    assert body["cpu_system_seconds_total"] == {} and body["cpu_system_seconds_total_p90"] == {}


async def test_app_and_instance_tags(loaded) -> None:
    vigil, t = loaded
    body = await _metrics(vigil, "worker", t)
    assert body["memory_rss"] == {str(t): 42.0} and body["memory_rss_p90"] == {str(t): 42.0}
    other = await _metrics(vigil, "other", t)
    assert other["memory_rss"] == {str(t): 5555.0}
    nobody = await _metrics(vigil, "nobody", t)
    assert all(v == {} for v in nobody.values()) and len(nobody) == 26


async def test_resolution_and_defaults(loaded) -> None:
    vigil, t = loaded
    # Steps begin at multiples of the resolution: with 1h, one step holds every point.
    body = await _metrics(vigil, "web", t, resolution="1h")
    [(key, value)] = body["memory_rss"].items()
    assert int(key) == t - t % 3600
    # Each pod's mean over the hour, then the mean of the three pods.
    assert value == pytest.approx(((100 + 200 + 300 + 300) / 4 + (50 + 70) / 2 + (1000 + 10 + 30) / 3) / 3)
    r = await vigil.client.get("/apps/web/metrics")  # one week back, 10-minute steps
    assert r.status_code == 200
    rss = r.json()["memory_rss"]
    assert rss and all(int(k) % 600 == 0 for k in rss)


@pytest.mark.parametrize(("params", "param"), [
    ({"resolution": "10"}, "resolution"),
    ({"resolution": "0m"}, "resolution"),
    ({"resolution": "5 minutes"}, "resolution"),
    ({"from": "last tuesday"}, "from"),
    ({"to": "2017-13-45"}, "to"),
    ({"from": "2017-06-21T00:00:00Z", "to": "2017-06-20T00:00:00Z"}, "from"),
    ({"resolution": "1s"}, "resolution"),  # a week of 1-second steps: more than the bound
])
async def test_bad_parameters(vigil: Vigil, params: dict, param: str) -> None:
    r = await vigil.client.get("/apps/web/metrics", params=params)
    assert r.status_code == 400, r.text
    assert param in r.json()["errors"]["params"]


async def test_an_app_name_no_series_can_have_is_404(vigil: Vigil) -> None:
    r = await vigil.client.get("/apps/web+app/metrics")
    assert r.status_code == 404


def test_nearest_rank() -> None:
    # Groups of 5, 2 and 1 values, each sorted: ranks ⌈4.5⌉ = 5, ⌈1.8⌉ = 2, ⌈0.9⌉ = 1.
    ordered = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 9.0, 6.0])
    got = nearest_rank_p90(ordered, np.array([0, 5, 7]), np.array([5, 2, 1]))
    np.testing.assert_array_equal(got, [5.0, 9.0, 6.0])
    ten, eleven = np.arange(1.0, 11.0), np.arange(1.0, 12.0)
    assert nearest_rank_p90(ten, np.array([0]), np.array([10]))[0] == 9.0  # the 9th of 10
    assert nearest_rank_p90(eleven, np.array([0]), np.array([11]))[0] == 10.0  # ⌈9.9⌉ = 10th of 11
