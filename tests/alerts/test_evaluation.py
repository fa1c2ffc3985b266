"""Scenarios: measurements go in through the API, notifications come out on a real HTTP server."""

from __future__ import annotations

import time

from tests.alerts.conftest import (
    Receiver,
    Restartable,
    advance,
    create_alert,
    engine,
    post,
    service,
    settle,
    status,
    use_clock,
)
from tests.conftest import Vigil

ABOVE_90 = {"type": "above", "metric_name": "cpu", "threshold": 90}


async def hooked(vigil: Vigil, receiver: Receiver) -> int:
    return await service(vigil, "webhook", {"url": receiver.url()})


async def test_threshold_crossing_notifies_once_then_clears(alerting: Vigil, receiver: Receiver) -> None:
    hook = await hooked(alerting, receiver)
    alert = await create_alert(alerting, "cpu.high", [ABOVE_90], [hook],
                               attributes={"runbook_url": "http://runbooks.test/cpu"})
    cid = alert["conditions"][0]["id"]
    now = int(time.time())
    await post(alerting, "cpu", 50, at=now - 2)
    assert (await status(alerting, alert["id"]))["status"] == "ok"
    await post(alerting, "cpu", 95, at=now - 1)
    got = (await receiver.next()).json()
    assert got["alert"] == {"id": alert["id"], "name": "cpu.high", "runbook_url": "http://runbooks.test/cpu",
                            "version": 2}
    assert got["account"] == "vigil"
    assert got["conditions"] == alert["conditions"]
    assert got["violations"] == {"host=a": [{"metric": "cpu", "value": 95.0, "recorded_at": now - 1,
                                             "condition_violated": cid}]}
    assert abs(got["trigger_time"] - time.time()) < 5
    state = await status(alerting, alert["id"])
    assert state["status"] == "triggered" and state["triggered_at"] == got["trigger_time"]
    await post(alerting, "cpu", 97, at=now)  # still above: within rearm, no second notification
    await receiver.nothing_more()
    await post(alerting, "cpu", 40, at=now + 1)
    cleared = (await receiver.next()).json()
    assert cleared["clear"] == "auto" and cleared["alert"]["id"] == alert["id"]
    assert set(cleared) == {"alert", "account", "trigger_time", "clear"}
    state = await status(alerting, alert["id"])
    assert state["status"] == "ok" and state["clear"] == "auto"
    assert [h["event"] for h in state["history"]] == ["cleared", "triggered"]


async def test_summary_functions_read_summary_measurements(alerting: Vigil, receiver: Receiver) -> None:
    hook = await hooked(alerting, receiver)
    low_min = await create_alert(alerting, "lat.min", [{"type": "below", "metric_name": "lat", "threshold": 10,
                                                        "summary_function": "min"}], [hook])
    await create_alert(alerting, "lat.avg", [{"type": "below", "metric_name": "lat", "threshold": 10}], [hook])
    high_count = await create_alert(alerting, "lat.count", [{"type": "above", "metric_name": "lat", "threshold": 2,
                                                             "summary_function": "count"}], [hook])
    # count 3, sum 60: average 20 (not below 10), min 5 (below 10), count 3 (above 2)
    await post(alerting, "lat", count=3, sum=60, min=5, max=30)
    fired = sorted([(await receiver.next()).json(), (await receiver.next()).json()], key=lambda j: j["alert"]["id"])
    assert [f["alert"]["id"] for f in fired] == [low_min["id"], high_count["id"]]
    assert fired[0]["violations"]["host=a"][0]["value"] == 5.0
    assert fired[1]["violations"]["host=a"][0]["value"] == 3.0
    await receiver.nothing_more()


async def test_duration_needs_every_point_of_the_window_past_the_threshold(alerting: Vigil, receiver: Receiver
                                                                           ) -> None:
    hook = await hooked(alerting, receiver)
    await create_alert(alerting, "cpu.sustained", [{**ABOVE_90, "duration": 300}], [hook])
    base = int(time.time()) - 900
    for minute in range(5):  # 0..240 s above: a 240 s run is not enough
        await post(alerting, "cpu", 95, at=base + 60 * minute)
    await post(alerting, "cpu", 50, at=base + 300)  # breaks the run
    for minute in range(6, 11):  # 360..600 s: 240 s again
        await post(alerting, "cpu", 95, at=base + 60 * minute)
    await receiver.nothing_more()
    await post(alerting, "cpu", 96, at=base + 660)  # 360..660: every point above for 300 s
    got = (await receiver.next()).json()
    assert got["violations"]["host=a"][0] | {"condition_violated": 0} == {
        "metric": "cpu", "value": 96.0, "recorded_at": base + 660, "condition_violated": 0}


async def test_duration_window_is_closed_by_the_timer(alerting: Vigil, receiver: Receiver) -> None:
    clock = use_clock(alerting)
    hook = await hooked(alerting, receiver)
    await create_alert(alerting, "cpu.sustained", [{**ABOVE_90, "duration": 300}], [hook])
    start = int(clock.now)
    await post(alerting, "cpu", 95, at=start)
    await advance(alerting, clock, 120)
    await post(alerting, "cpu", 97, at=start + 120)
    await advance(alerting, clock, 179)  # 299 s after the run began
    await receiver.nothing_more(0.2)
    await advance(alerting, clock, 1)
    got = (await receiver.next()).json()
    assert got["violations"]["host=a"][0]["value"] == 97.0


async def test_absent_fires_for_the_stream_that_stopped_and_clears_when_it_returns(alerting: Vigil,
                                                                                   receiver: Receiver) -> None:
    clock = use_clock(alerting)
    hook = await hooked(alerting, receiver)
    alert = await create_alert(alerting, "heartbeat.missing",
                               [{"type": "absent", "metric_name": "heartbeat", "duration": 120}], [hook])
    t0 = int(clock.now)
    await post(alerting, "heartbeat", 1, {"host": "a"}, at=t0)
    await post(alerting, "heartbeat", 1, {"host": "b"}, at=t0)
    await advance(alerting, clock, 60)
    await post(alerting, "heartbeat", 1, {"host": "b"}, at=t0 + 60)
    await advance(alerting, clock, 59)
    await receiver.nothing_more(0.2)
    await advance(alerting, clock, 2)  # a: silent for 121 s; b: 61 s
    got = (await receiver.next()).json()
    assert got["violations"] == {"host=a": [{"metric": "heartbeat", "value": None, "recorded_at": t0,
                                             "condition_violated": alert["conditions"][0]["id"]}]}
    await post(alerting, "heartbeat", 1, {"host": "a"}, at=t0 + 121)
    assert (await receiver.next()).json()["clear"] == "auto"


async def test_absent_watches_streams_that_reported_before_the_alert_existed(alerting: Vigil,
                                                                            receiver: Receiver) -> None:
    clock = use_clock(alerting)
    t0 = int(clock.now)
    await post(alerting, "heartbeat", 1, {"host": "old"}, at=t0)
    hook = await hooked(alerting, receiver)
    await create_alert(alerting, "heartbeat.missing", [{"type": "absent", "metric_name": "heartbeat",
                                                        "duration": 60}], [hook])
    await advance(alerting, clock, 61)
    assert list((await receiver.next()).json()["violations"]) == ["host=old"]


async def test_per_stream_evaluation_names_only_the_streams_that_fired(alerting: Vigil, receiver: Receiver) -> None:
    hook = await hooked(alerting, receiver)
    await create_alert(alerting, "lat.per.host", [{"type": "above", "metric_name": "lat", "threshold": 50,
                                                   "tags": [{"name": "region", "values": ["US*"], "grouped": False}]}],
                       [hook])
    now = int(time.time())
    r = await alerting.post_measurements({"time": now, "measurements": [
        {"name": "lat", "value": 40, "tags": {"host": "h1", "region": "us-east"}},
        {"name": "lat", "value": 60, "tags": {"host": "h2", "region": "us-east"}},
        {"name": "lat", "value": 70, "tags": {"host": "h3", "region": "eu-west"}},  # not matched
        {"name": "lat", "value": 45, "tags": {"host": "h4", "region": "us-west"}}]})
    assert r.status_code == 202
    await settle(alerting)
    got = (await receiver.next()).json()
    assert list(got["violations"]) == ["host=h2,region=us-east"]


async def test_grouped_streams_are_aggregated_before_the_threshold(alerting: Vigil, receiver: Receiver) -> None:
    hook = await hooked(alerting, receiver)
    await create_alert(alerting, "lat.fleet", [{"type": "above", "metric_name": "lat", "threshold": 50,
                                                "tags": [{"name": "host", "values": ["*"], "grouped": True}]}], [hook])
    await create_alert(alerting, "lat.region", [{"type": "above", "metric_name": "lat", "threshold": 150,
                                                 "summary_function": "sum",
                                                 "tags": [{"name": "region", "values": ["*"]},
                                                          {"name": "host", "values": ["*"], "grouped": True}]}],
                       [hook])
    now = int(time.time())
    for host, value, region in (("h1", 40, "us"), ("h2", 60, "us"), ("h3", 45, "eu")):
        await post(alerting, "lat", value, {"host": host, "region": region}, at=now)
    await receiver.nothing_more()  # fleet average 48.3; sums per region 100 and 45
    await post(alerting, "lat", 80, {"host": "h3", "region": "eu"}, at=now + 1)  # latest values 40, 60, 80
    got = (await receiver.next()).json()
    assert got["alert"]["name"] == "lat.fleet"
    assert got["violations"] == {"host=*": [{"metric": "lat", "value": 60.0, "recorded_at": now + 1,
                                             "condition_violated": got["conditions"][0]["id"]}]}
    await post(alerting, "lat", 95, {"host": "h1", "region": "us"}, at=now + 2)  # us: 95 + 60 = 155
    got = (await receiver.next()).json()
    assert got["alert"]["name"] == "lat.region"
    assert list(got["violations"]) == ["region=us,host=*"]
    assert got["violations"]["region=us,host=*"][0]["value"] == 155.0


async def test_derivative_and_counter_resets(alerting: Vigil, receiver: Receiver) -> None:
    hook = await hooked(alerting, receiver)
    derivative = {"metric_name": "requests", "summary_function": "derivative"}
    drop = await create_alert(alerting, "requests.drop", [{**derivative, "type": "below", "threshold": -1}], [hook])
    await create_alert(alerting, "requests.drop.reset", [{**derivative, "type": "below", "threshold": -1,
                                                          "detect_reset": True}], [hook])
    surge = await create_alert(alerting, "requests.surge", [{**derivative, "type": "above", "threshold": 45,
                                                             "detect_reset": True}], [hook])
    t = int(time.time()) - 300
    await post(alerting, "requests", 100, at=t)  # a first point has no derivative
    await post(alerting, "requests", 150, at=t + 60)  # +50
    got = (await receiver.next()).json()
    assert (got["alert"]["id"], got["violations"]["host=a"][0]["value"]) == (surge["id"], 50.0)
    await post(alerting, "requests", 10, at=t + 120)  # reset: -140, or 0 with detect_reset
    events = [(await receiver.next()).json(), (await receiver.next()).json()]
    drop_event = next(e for e in events if "violations" in e)
    assert (drop_event["alert"]["id"], drop_event["violations"]["host=a"][0]["value"]) == (drop["id"], -140.0)
    assert next(e for e in events if "clear" in e)["alert"]["id"] == surge["id"]
    await receiver.nothing_more()  # requests.drop.reset never fired


async def test_all_conditions_must_hold(alerting: Vigil, receiver: Receiver) -> None:
    hook = await hooked(alerting, receiver)
    await create_alert(alerting, "box.busy", [ABOVE_90, {"type": "above", "metric_name": "mem", "threshold": 80}],
                       [hook])
    await post(alerting, "cpu", 95)
    await receiver.nothing_more()
    await post(alerting, "mem", 85)
    got = (await receiver.next()).json()
    assert sorted(v["metric"] for vs in got["violations"].values() for v in vs) == ["cpu", "mem"]


async def test_rearm_holds_back_repeats_then_repeats_while_still_firing(alerting: Vigil, receiver: Receiver) -> None:
    clock = use_clock(alerting)
    hook = await hooked(alerting, receiver)
    alert = await create_alert(alerting, "cpu.high", [ABOVE_90], [hook], rearm_seconds=120)
    t = int(clock.now)
    await post(alerting, "cpu", 95, at=t)
    first = (await receiver.next()).json()
    await advance(alerting, clock, 60)
    await post(alerting, "cpu", 50, at=t + 60)
    assert (await receiver.next()).json()["clear"] == "auto"
    await advance(alerting, clock, 10)
    await post(alerting, "cpu", 96, at=t + 70)  # triggers again, 70 s after the last notification
    await receiver.nothing_more(0.2)
    assert (await status(alerting, alert["id"]))["status"] == "triggered"
    await advance(alerting, clock, 49)
    await receiver.nothing_more(0.2)
    await advance(alerting, clock, 1)  # 120 s after the first notification, still firing
    again = (await receiver.next()).json()
    assert again["violations"]["host=a"][0]["value"] == 96.0
    assert again["trigger_time"] == first["trigger_time"] + 120


async def test_rearm_per_signal_notifies_each_new_stream(alerting: Vigil, receiver: Receiver) -> None:
    clock = use_clock(alerting)
    hook = await hooked(alerting, receiver)
    await create_alert(alerting, "cpu.per.signal", [ABOVE_90], [hook], rearm_per_signal=True)
    await post(alerting, "cpu", 95, {"host": "a"})
    assert list((await receiver.next()).json()["violations"]) == ["host=a"]
    await advance(alerting, clock, 10)
    await post(alerting, "cpu", 95, {"host": "b"})
    assert list((await receiver.next()).json()["violations"]) == ["host=b"]
    await post(alerting, "cpu", 99, {"host": "a"})
    await receiver.nothing_more()


async def test_manual_clear_notifies_and_starts_over(alerting: Vigil, receiver: Receiver) -> None:
    hook = await hooked(alerting, receiver)
    alert = await create_alert(alerting, "cpu.high", [ABOVE_90], [hook])
    await post(alerting, "cpu", 95)
    await receiver.next()
    r = await alerting.client.post(f"/v1/alerts/{alert['id']}/clear")
    assert r.status_code == 204 and r.content == b""
    assert (await receiver.next()).json()["clear"] == "manual"
    listing = (await alerting.client.get("/v1/alerts/status")).json()
    assert listing["firing"] == [] and [c["id"] for c in listing["cleared"]] == [alert["id"]]
    assert (await status(alerting, alert["id"]))["clear"] == "manual"
    await post(alerting, "cpu", 96)  # a manual clear resets the rearm: the next crossing notifies
    assert "violations" in (await receiver.next()).json()
    assert (await alerting.client.post("/v1/alerts/999/clear")).status_code == 404


async def test_alert_without_services_is_evaluated_and_tracked(alerting: Vigil, receiver: Receiver) -> None:
    alert = await create_alert(alerting, "cpu.quiet", [ABOVE_90])
    await post(alerting, "cpu", 95)
    state = await status(alerting, alert["id"])
    assert state["status"] == "triggered"
    assert state["violations"][0]["value"] == 95.0
    listing = (await alerting.client.get("/v1/alerts/status")).json()
    assert listing["firing"] == [{"id": alert["id"], "triggered_at": state["triggered_at"]}]
    assert receiver.requests == []


async def test_inactive_alerts_are_not_evaluated(alerting: Vigil, receiver: Receiver) -> None:
    hook = await hooked(alerting, receiver)
    alert = await create_alert(alerting, "cpu.off", [ABOVE_90], [hook], active=False)
    await post(alerting, "cpu", 95)
    assert (await status(alerting, alert["id"]))["status"] == "ok"
    r = await alerting.client.put(f"/v1/alerts/{alert['id']}", json={"conditions": [ABOVE_90], "active": True})
    assert r.status_code == 204
    await post(alerting, "cpu", 96)
    assert (await receiver.next()).json()["violations"]["host=a"][0]["value"] == 96.0


async def test_update_keeps_unchanged_conditions_and_restarts_changed_ones(alerting: Vigil, receiver: Receiver
                                                                          ) -> None:
    hook = await hooked(alerting, receiver)
    alert = await create_alert(alerting, "cpu.high", [ABOVE_90], [hook])
    await post(alerting, "cpu", 95)
    await receiver.next()
    same = {**alert, "services": [hook], "description": "now described"}  # what the official client sends back
    assert (await alerting.client.put(f"/v1/alerts/{alert['id']}", json=same)).status_code == 204
    await settle(alerting)
    await receiver.nothing_more()
    again = (await alerting.client.get(f"/v1/alerts/{alert['id']}")).json()
    assert again["conditions"][0]["id"] == alert["conditions"][0]["id"]
    assert (await status(alerting, alert["id"]))["status"] == "triggered"
    changed = {**same, "conditions": [{**ABOVE_90, "threshold": 99}]}
    assert (await alerting.client.put(f"/v1/alerts/{alert['id']}", json=changed)).status_code == 204
    await settle(alerting)
    assert (await receiver.next()).json()["clear"] == "auto"  # the new condition holds on no data yet


async def test_restart_in_the_middle_of_a_firing_alert(restartable: Restartable, receiver: Receiver) -> None:
    vigil = await restartable.start()
    hook = await hooked(vigil, receiver)
    alert = await create_alert(vigil, "cpu.high", [ABOVE_90], [hook])
    await post(vigil, "cpu", 95)
    fired = (await receiver.next()).json()
    await restartable.stop()

    vigil = await restartable.start()
    state = await status(vigil, alert["id"])
    assert state["status"] == "triggered" and state["triggered_at"] == fired["trigger_time"]
    assert [h["event"] for h in state["history"]] == ["triggered"]
    await post(vigil, "cpu", 97)  # still firing and within rearm: no repeat after the restart
    await receiver.nothing_more()
    await post(vigil, "cpu", 20)
    assert (await receiver.next()).json()["clear"] == "auto"
    assert (await status(vigil, alert["id"]))["status"] == "ok"


async def test_absent_streams_are_remembered_across_a_restart(restartable: Restartable, receiver: Receiver) -> None:
    vigil = await restartable.start()
    hook = await hooked(vigil, receiver)
    await create_alert(vigil, "heartbeat.missing", [{"type": "absent", "metric_name": "heartbeat",
                                                     "duration": 60}], [hook])
    t0 = int(time.time())
    await post(vigil, "heartbeat", 1, {"host": "a"}, at=t0)
    await restartable.stop()
    vigil = await restartable.start()
    clock = use_clock(vigil)
    clock.now = t0 + 61
    engine(vigil).wake()
    await settle(vigil)
    assert list((await receiver.next()).json()["violations"]) == ["host=a"]
