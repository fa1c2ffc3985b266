"""From a notification to a stored row, as StackTach's worker read them."""

from __future__ import annotations

import json

import pytest

from vigil.events import image_type
from vigil.events.extract import Malformed, decode, extract, kind_for_event, kind_for_exchange, routing_key_for, unwrap

BASE = {"publisher_id": "compute.compute-1.example.com", "event_type": "compute.instance.update",
        "timestamp": "2014-01-15 20:39:44.277745", "_context_request_id": "req-1", "message_id": "m-1",
        "_context_project_id": "tenant-ctx", "_context_auth_token": "secret-token",
        "payload": {"instance_id": "i-1", "tenant_id": "tenant-payload", "state": "active",
                    "old_state": None, "new_task_state": "spawning"}}


def row(body: dict, kind: str = "nova", routing_key: str = "notifications.info") -> dict:
    return extract(body, deployment=3, routing_key=routing_key, kind=kind)


def test_nova_fields() -> None:
    r = row(BASE)
    assert (r["service"], r["host"], r["publisher"]) == ("compute", "compute-1.example.com",
                                                          "compute.compute-1.example.com")
    assert (r["request_id"], r["tenant"], r["instance"], r["message_id"]) == ("req-1", "tenant-payload", "i-1", "m-1")
    # present and null stays null, absent is "", as the original read the payload
    assert (r["state"], r["old_state"], r["old_task"], r["task"]) == ("active", None, "", "spawning")
    assert r["when"] == 1_389_818_384_277_745
    assert (r["deployment"], r["routing_key"], r["kind"]) == (3, "notifications.info", "nova")


def test_raw_json_is_kept_without_the_auth_token() -> None:
    r = row(BASE)
    kept = json.loads(r["json"])
    assert kept[0] == "notifications.info"
    assert kept[1]["_context_auth_token"] == "***"
    assert "secret-token" not in r["json"]
    assert kept[1]["payload"] == BASE["payload"]


@pytest.mark.parametrize(("payload", "instance"), [
    ({"instance_uuid": "u-1", "instance_id": "i-1"}, "u-1"),
    ({"exception": {"kwargs": {"uuid": "e-1"}}}, "e-1"),
    ({"instance": {"uuid": "n-1"}}, "n-1"),
    ({}, None),
])
def test_instance_hides_in_many_places(payload: dict, instance: str | None) -> None:
    assert row({**BASE, "payload": payload})["instance"] == instance


def test_context_timestamp_and_tenant_fallbacks() -> None:
    body = {k: v for k, v in BASE.items() if k != "timestamp"}
    body["_context_timestamp"] = "2014-01-15T20:39:44.277745"
    body["payload"] = {"instance_id": "i-1"}
    r = row(body)
    assert r["when"] == 1_389_818_384_277_745
    assert r["tenant"] == "tenant-ctx"


def test_host_without_dot_and_missing_request() -> None:
    body = {**BASE, "publisher_id": "scheduler"}
    del body["_context_request_id"]
    r = row(body)
    assert (r["service"], r["host"], r["request_id"]) == ("scheduler", None, "")


def test_glance_fields() -> None:
    body = {**BASE, "publisher_id": "image.glance-1", "event_type": "image.activate",
            "payload": {"id": "img-1", "status": "active", "owner": "o-1", "properties": {"instance_uuid": "i-9"},
                        "image_meta": {"image_type": "snapshot", "os_type": "windows"}}}
    r = row(body, kind="glance")
    assert (r["uuid"], r["status"], r["owner"], r["instance"], r["tenant"]) == ("img-1", "active", "o-1", "i-9", None)
    assert r["image_type"] == image_type.SNAPSHOT_IMAGE | image_type.WINDOWS_IMAGE
    assert r["state"] is None


def test_generic_fields() -> None:
    r = row({**BASE, "publisher_id": "identity.keystone", "event_type": "identity.user.created"}, kind="generic")
    assert (r["instance"], r["tenant"], r["state"], r["image_type"]) == ("i-1", "tenant-payload", None, 0)


def test_image_type_bits() -> None:
    payload = {"image_meta": {"image_type": "base", "os_distro": "ubuntu"}, "os_type": "linux"}
    assert image_type.numeric_code(payload) == image_type.BASE_IMAGE | image_type.LINUX_IMAGE | image_type.OS_UBUNTU
    assert image_type.numeric_code({"image_meta": "junk"}) == 0


def test_oslo_v2_envelope() -> None:
    envelope = {"oslo.version": "2.0", "oslo.message": json.dumps(BASE)}
    assert unwrap(envelope) == BASE
    assert unwrap(decode(json.dumps(envelope).encode())) == BASE
    assert unwrap(BASE) is BASE


@pytest.mark.parametrize(("body", "reason"), [
    ([1, 2], "a notification must be a JSON object"),
    ({"oslo.message": "{not json"}, "not JSON"),
    ({"event_type": "x", "timestamp": "2014-01-01 00:00:00"}, "publisher_id must be a non-empty string"),
    ({"publisher_id": "a.b", "timestamp": "2014-01-01 00:00:00"}, "event_type must be a non-empty string"),
    ({"publisher_id": "a.b", "event_type": "x"}, "no timestamp"),
    ({"publisher_id": "a.b", "event_type": "x", "timestamp": "then"}, "is not a timestamp"),
])
def test_malformed(body: object, reason: str) -> None:
    with pytest.raises(Malformed, match=reason):
        row(unwrap(body))


def test_decode_rejects_non_json() -> None:
    with pytest.raises(Malformed, match="not JSON"):
        decode(b"\xff\xfe")


def test_kinds_and_routing_keys() -> None:
    assert [kind_for_event(e) for e in ("image.upload", "compute.instance.update", "scheduler.run_instance.end",
                                        "network.floating_ip.associate", "identity.user.created")] == [
        "glance", "nova", "nova", "nova", "generic"]
    assert kind_for_exchange("nova", "image.upload") == "nova"
    assert kind_for_exchange("glance", "x") == "glance"
    assert kind_for_exchange("openstack", "image.upload") == "glance"
    assert routing_key_for({"priority": "ERROR"}) == "notifications.error"
    assert routing_key_for({"priority": "error"}) == "notifications.error"
    assert routing_key_for({"priority": "WARN"}) == "notifications.info"
    assert routing_key_for({}) == "notifications.info"
