"""Every bound of the alert engine, reached."""

from __future__ import annotations

import time

import pytest

from tests.alerts.conftest import FAST, Receiver, create_alert, post, service, settle, status
from tests.alerts.test_notifiers import metric_value, self_metrics
from tests.conftest import StartVigil, Vigil

ABOVE_90 = {"type": "above", "metric_name": "cpu", "threshold": 90}


async def test_evaluation_queue_drops_and_counts_past_its_limit(start_vigil: StartVigil, receiver: Receiver) -> None:
    vigil = await start_vigil(**FAST, alert_queue_rows=5)
    hook = await service(vigil, "webhook", {"url": receiver.url()})
    await create_alert(vigil, "cpu.high", [ABOVE_90], [hook])
    now = int(time.time())
    r = await vigil.post_measurements({"time": now, "measurements": [
        {"name": "cpu", "value": 99, "tags": {"host": f"h{i}"}} for i in range(10)]})
    assert r.status_code == 202  # ingest is never refused because of alerts
    await settle(vigil)
    await receiver.nothing_more()
    assert metric_value(await self_metrics(vigil), "vigil_alert_samples_total", outcome="dropped") == 10
    await post(vigil, "cpu", 99, {"host": "h0"})
    assert list((await receiver.next()).json()["violations"]) == ["host=h0"]


async def test_streams_per_condition_limit_is_shown_in_the_status(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(**FAST, alert_streams_per_condition=2)
    alert = await create_alert(vigil, "cpu.high", [ABOVE_90])
    for host in ("a", "b", "c"):
        await post(vigil, "cpu", 10, {"host": host})
    state = await status(vigil, alert["id"])
    assert state["ignored_streams"] == 1


async def test_series_cache_limit_forgets_and_refetches(start_vigil: StartVigil, receiver: Receiver) -> None:
    vigil = await start_vigil(**FAST, alert_series_cache=2)
    hook = await service(vigil, "webhook", {"url": receiver.url()})
    await create_alert(vigil, "cpu.high", [ABOVE_90], [hook], rearm_per_signal=True)
    for host in ("a", "b", "c", "d"):
        await post(vigil, "cpu", 10, {"host": host})
    await post(vigil, "cpu", 95, {"host": "b"})
    assert list((await receiver.next()).json()["violations"]) == ["host=b"]
    await post(vigil, "cpu", 95, {"host": "d"})
    assert list((await receiver.next()).json()["violations"]) == ["host=d"]


async def test_max_alerts_and_max_services(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(max_alerts=2, max_services=1)
    await create_alert(vigil, "one", [])
    await create_alert(vigil, "two", [])
    r = await vigil.client.post("/v1/alerts", json={"name": "three"})
    assert r.status_code == 400 and r.json() == {"errors": {"request": ["At most 2 alerts may exist (max_alerts)"]}}
    await service(vigil, "webhook", {"url": "http://x.test"})
    r = await vigil.client.post("/v1/services", json={"type": "webhook", "title": "t",
                                                      "settings": {"url": "http://x.test"}})
    assert r.status_code == 400 and "max_services" in r.json()["errors"]["request"][0]


async def test_history_is_trimmed_per_alert(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(**FAST, alert_history_per_alert=3)
    alert = await create_alert(vigil, "cpu.high", [ABOVE_90])
    for value in (95, 10, 95, 10, 95):
        await post(vigil, "cpu", value)
    history = (await status(vigil, alert["id"]))["history"]
    assert [h["event"] for h in history] == ["triggered", "cleared", "triggered"]


async def test_a_notification_lists_at_most_100_violations(alerting: Vigil, receiver: Receiver) -> None:
    hook = await service(alerting, "webhook", {"url": receiver.url()})
    await create_alert(alerting, "cpu.high", [ABOVE_90], [hook])
    now = int(time.time())
    r = await alerting.post_measurements({"time": now, "measurements": [
        {"name": "cpu", "value": 99, "tags": {"host": f"h{i:03d}"}} for i in range(120)]})
    assert r.status_code == 202
    await settle(alerting)
    assert len((await receiver.next()).json()["violations"]) == 100


def test_signals_remembered_for_rearm_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from vigil.alerts import state as state_module

    monkeypatch.setattr(state_module, "MAX_SIGNALS", 3)
    st = state_module.AlertState()
    for i in range(5):
        st.remember_signal(f"host=h{i}", float(i))
    assert list(st.signals) == ["host=h2", "host=h3", "host=h4"]


async def test_history_waiting_to_be_saved_is_bounded(alerting: Vigil, monkeypatch: pytest.MonkeyPatch) -> None:
    from vigil.alerts import engine as engine_module

    monkeypatch.setattr(engine_module, "MAX_PENDING_HISTORY", 2)
    engine = alerting.services.alerts.engine
    for i in range(3):
        engine._history(1, float(i), "triggered", {})
    assert [h["at"] for h in engine._unsaved_history] == [1.0, 2.0]  # the oldest went first
