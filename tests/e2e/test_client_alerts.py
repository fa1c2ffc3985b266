"""The official client's alert calls against `vigil serve`, and a real webhook delivery out of it."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import appoptics_metrics
import pytest

from tests.e2e.conftest import TOKEN, ServerProcess

pytestmark = pytest.mark.e2e


def connect(server: ServerProcess) -> appoptics_metrics.AppOpticsConnection:
    return appoptics_metrics.connect(TOKEN, hostname=server.hostport, protocol="http")


@pytest.fixture
def hook() -> Iterator[tuple[str, queue.Queue[dict]]]:
    received: queue.Queue[dict] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            received.put(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook", received
    httpd.shutdown()
    httpd.server_close()


def test_create_list_update_add_service_delete(server: ServerProcess, hook: tuple[str, queue.Queue[dict]]) -> None:
    url, received = hook
    api = connect(server)
    with server.client() as http:
        created = http.post("/v1/services", json={"type": "webhook", "title": "ops hook", "settings": {"url": url}})
        assert created.status_code == 201
        service_id = created.json()["id"]

    alert = api.create_alert("production.web.frontend.response_time", description="Web Response Time",
                             attributes={"runbook_url": "http://mydomain.com/wiki/whattodo"},
                             conditions=[{"metric_name": "web.nginx.response_time", "type": "above",
                                          "threshold": 200, "summary_function": "max", "duration": 300}])
    assert alert._id and alert.name == "production.web.frontend.response_time"
    assert alert.conditions[0].threshold == 200.0 and alert.conditions[0]._duration == 300

    quick = api.create_alert("cpu.spike")
    quick.add_condition_for("cpu.load").above(90)
    quick.add_service(str(service_id))
    quick.save()

    names = sorted(a.name for a in api.list_alerts())
    assert names == ["cpu.spike", "production.web.frontend.response_time"]
    fetched = api.get_alert("cpu.spike")
    assert [s._id for s in fetched.services] == [service_id]
    assert fetched.services[0].settings == {"url": url}
    assert fetched.conditions[0].condition_type == "above" and fetched.conditions[0].threshold == 90.0
    assert [s.title for s in api.list_services()] == ["ops hook"]

    api.submit_measurement("cpu.load", 97.5, tags={"host": "web-1"})
    payload = received.get(timeout=15)
    assert payload["alert"]["name"] == "cpu.spike"
    assert payload["violations"]["host=web-1"][0]["value"] == 97.5

    fetched.description = "disabled for now"
    fetched.active = "false"  # the seed's own example sets a string
    fetched.save()
    again = api.get_alert("cpu.spike")
    assert (again.description, again.active) == ("disabled for now", False)
    assert again.conditions[0].threshold == 90.0 and [s._id for s in again.services] == [service_id]

    api.delete_alert("cpu.spike")
    assert api.get_alert("cpu.spike") is None
    assert [a.name for a in api.list_alerts()] == ["production.web.frontend.response_time"]
    time.sleep(0.5)
    assert received.empty()  # deactivating clears without a notification; deleting sends nothing
