"""Real deliveries: SMTP to a local aiosmtpd, Slack / PagerDuty / webhooks to a local HTTP server;
retries, bounds and failures visible in the alert status and in /metrics."""

from __future__ import annotations

from tests.alerts.conftest import FAST, Receiver, SmtpSink, create_alert, post, service, settle, status
from tests.conftest import StartVigil, Vigil

ABOVE_90 = {"type": "above", "metric_name": "cpu", "threshold": 90}


def metric_value(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        head, _, value = line.rpartition(" ")
        if head.split("{")[0] == name and ",".join(sorted(head.partition("{")[2].rstrip("}").split(","))) == wanted:
            return float(value)
    return 0.0


async def self_metrics(vigil: Vigil) -> str:
    r = await vigil.client.get("/metrics")
    assert r.status_code == 200
    return r.text


async def test_mail_goes_through_the_configured_smtp_server(start_vigil: StartVigil, smtp: SmtpSink) -> None:
    vigil = await start_vigil(**FAST, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_from="alerts@vigil.test")
    mail = await service(vigil, "mail", {"addresses": "ops@example.com, dev@example.com"}, "Ops Team")
    await create_alert(vigil, "cpu.high", [ABOVE_90], [mail], description="CPU is hot",
                       attributes={"runbook_url": "http://runbooks.test/cpu"})
    await post(vigil, "cpu", 95, {"host": "web1"})
    message = await smtp.message(0)
    assert message["From"] == "alerts@vigil.test"
    assert message["To"] == "ops@example.com, dev@example.com"
    assert message["Subject"] == "[vigil] Alert cpu.high has triggered"
    body = message.get_content()
    assert "CPU is hot" in body and "host=web1: cpu = 95" in body and "http://runbooks.test/cpu" in body
    assert smtp.handler.envelopes[0] == ("alerts@vigil.test", ["ops@example.com", "dev@example.com"])
    await post(vigil, "cpu", 10, {"host": "web1"})
    assert (await smtp.message(1))["Subject"] == "[vigil] Alert cpu.high has cleared (auto)"


async def test_mail_without_an_smtp_server_fails_visibly(alerting: Vigil) -> None:
    mail = await service(alerting, "mail", {"addresses": "ops@example.com"})
    alert = await create_alert(alerting, "cpu.high", [ABOVE_90], [mail])
    await post(alerting, "cpu", 95)
    await alerting.services.alerts.deliverer.close(grace=2)  # lets the queued attempt finish
    state = await status(alerting, alert["id"])
    delivery = state["notifications"]["services"][str(mail)]
    assert delivery["failed"] == 1 and "no SMTP server is configured" in delivery["last_error"]
    assert state["notifications"]["failed"] == 1
    assert any(h["event"] == "delivery_failed" for h in state["history"])


async def test_slack_gets_an_incoming_webhook_message(alerting: Vigil, receiver: Receiver) -> None:
    slack = await service(alerting, "slack", {"url": receiver.url("/services/T000/B000/XXXX")})
    await create_alert(alerting, "cpu.high", [ABOVE_90], [slack], attributes={"runbook_url": "http://rb.test/x"})
    await post(alerting, "cpu", 95)
    got = await receiver.next()
    assert got.path == "/services/T000/B000/XXXX"
    message = got.json()
    assert message["text"] == "Alert cpu.high has triggered"
    attachment = message["attachments"][0]
    assert attachment["color"] == "danger" and attachment["title"] == "cpu.high"
    assert attachment["title_link"] == "http://rb.test/x"
    assert attachment["fields"][0]["title"] == "host=a" and "cpu = 95" in attachment["fields"][0]["value"]
    await post(alerting, "cpu", 5)
    cleared = (await receiver.next()).json()
    assert cleared["text"] == "Alert cpu.high has cleared (auto)" and cleared["attachments"][0]["color"] == "good"


async def test_pagerduty_trigger_and_resolve_share_a_dedup_key(start_vigil: StartVigil, receiver: Receiver) -> None:
    vigil = await start_vigil(**FAST, pagerduty_events_url=receiver.url("/v2/enqueue"))
    pd = await service(vigil, "pagerduty", {"service_key": "abc123", "severity": "warning"})
    alert = await create_alert(vigil, "cpu.high", [ABOVE_90], [pd], attributes={"runbook_url": "http://rb.test/x"})
    await post(vigil, "cpu", 95)
    got = await receiver.next()
    assert got.path == "/v2/enqueue"
    event = got.json()
    assert event["routing_key"] == "abc123" and event["event_action"] == "trigger"
    assert event["dedup_key"] == f"vigil-alert-{alert['id']}"
    assert event["payload"]["severity"] == "warning" and event["payload"]["source"] == "vigil"
    assert event["payload"]["summary"].startswith("Alert cpu.high has triggered: host=a: cpu = 95")
    assert event["links"] == [{"href": "http://rb.test/x", "text": "Runbook"}]
    await post(vigil, "cpu", 5)
    assert (await receiver.next()).json() == {"routing_key": "abc123", "event_action": "resolve",
                                              "dedup_key": f"vigil-alert-{alert['id']}"}


async def test_failed_deliveries_are_retried_with_backoff(alerting: Vigil, receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    hook = await service(alerting, "webhook", {"url": receiver.url()})
    alert = await create_alert(alerting, "cpu.high", [ABOVE_90], [hook])
    await post(alerting, "cpu", 95)
    bodies = [(await receiver.next()).json() for _ in range(3)]
    assert bodies[0] == bodies[1] == bodies[2]
    await alerting.services.alerts.deliverer.close(grace=2)
    delivery = (await status(alerting, alert["id"]))["notifications"]["services"][str(hook)]
    assert delivery["delivered"] == 1 and delivery["failed"] == 0
    assert delivery["last_error"].startswith("HTTP 503 from 127.0.0.1:") and "retrying" in delivery["last_error"]
    text = await self_metrics(alerting)
    assert metric_value(text, "vigil_alert_notifications_total", type="webhook", outcome="retried") == 2
    assert metric_value(text, "vigil_alert_notifications_total", type="webhook", outcome="delivered") == 1


async def test_retries_are_bounded_and_the_failure_is_recorded(start_vigil: StartVigil, receiver: Receiver) -> None:
    vigil = await start_vigil(**FAST, alert_delivery_attempts=3)
    receiver.statuses = [500] * 10
    hook = await service(vigil, "webhook", {"url": receiver.url()})
    alert = await create_alert(vigil, "cpu.high", [ABOVE_90], [hook])
    await post(vigil, "cpu", 95)
    for _ in range(3):
        await receiver.next()
    await receiver.nothing_more(0.5)
    await vigil.services.alerts.deliverer.close(grace=2)
    state = await status(vigil, alert["id"])
    delivery = state["notifications"]["services"][str(hook)]
    assert delivery["failed"] == 1 and "gave up after 3 attempts" in delivery["last_error"]
    assert metric_value(await self_metrics(vigil), "vigil_alert_notifications_total", type="webhook",
                        outcome="failed") == 1


async def test_client_errors_are_not_retried(alerting: Vigil, receiver: Receiver) -> None:
    receiver.statuses = [404]
    hook = await service(alerting, "webhook", {"url": receiver.url()})
    alert = await create_alert(alerting, "cpu.high", [ABOVE_90], [hook])
    await post(alerting, "cpu", 95)
    await receiver.next()
    await receiver.nothing_more(0.3)
    await alerting.services.alerts.deliverer.close(grace=2)
    delivery = (await status(alerting, alert["id"]))["notifications"]["services"][str(hook)]
    assert delivery["failed"] == 1 and delivery["last_error"].startswith("HTTP 404")


async def test_an_unreachable_endpoint_never_stops_the_evaluator(start_vigil: StartVigil, receiver: Receiver) -> None:
    vigil = await start_vigil(**FAST, alert_delivery_attempts=2)
    dead = await service(vigil, "webhook", {"url": "http://127.0.0.1:9/nothing-listens-here"})
    alive = await service(vigil, "webhook", {"url": receiver.url()})
    broken = await create_alert(vigil, "cpu.high", [ABOVE_90], [dead])
    await create_alert(vigil, "mem.high", [{"type": "above", "metric_name": "mem", "threshold": 90}], [alive])
    await post(vigil, "cpu", 95)
    await post(vigil, "mem", 95)
    assert (await receiver.next()).json()["alert"]["name"] == "mem.high"
    await vigil.services.alerts.deliverer.close(grace=3)
    delivery = (await status(vigil, broken["id"]))["notifications"]["services"][str(dead)]
    assert delivery["failed"] == 1 and "cannot post to 127.0.0.1:9" in delivery["last_error"]


async def test_the_delivery_queue_is_bounded(start_vigil: StartVigil, receiver: Receiver) -> None:
    vigil = await start_vigil(**FAST, alert_delivery_queue=1, alert_delivery_workers=1)
    hooks = [await service(vigil, "webhook", {"url": receiver.url(f"/h{i}")}, f"hook {i}") for i in range(3)]
    alert = await create_alert(vigil, "cpu.high", [ABOVE_90], hooks)
    await post(vigil, "cpu", 95)
    assert (await receiver.next()).path == "/h0"
    await receiver.nothing_more()
    deliveries = (await status(vigil, alert["id"]))["notifications"]["services"]
    assert deliveries[str(hooks[0])]["delivered"] == 1
    for dropped in hooks[1:]:
        assert "delivery queue is full" in deliveries[str(dropped)]["last_error"]
    assert metric_value(await self_metrics(vigil), "vigil_alert_notifications_total", type="webhook",
                        outcome="dropped") == 2


async def test_campfire_services_are_kept_but_their_deliveries_fail_visibly(alerting: Vigil) -> None:
    camp = await service(alerting, "campfire", {"room": "Ops", "token": "1234567890ABCDEF", "subdomain": "acme"})
    alert = await create_alert(alerting, "cpu.high", [ABOVE_90], [camp])
    await post(alerting, "cpu", 95)
    await settle(alerting)
    await alerting.services.alerts.deliverer.close(grace=2)
    delivery = (await status(alerting, alert["id"]))["notifications"]["services"][str(camp)]
    assert delivery["failed"] == 1 and "campfire deliveries are not supported" in delivery["last_error"]
