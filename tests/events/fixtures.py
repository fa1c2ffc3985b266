"""A notification fixture set: create, snapshot, resize (with a pair that arrives end-first), a failed
create and a delete, a lone `.end`, glance image events, a generic event, oslo.messaging v2 envelopes.

Times are 2014-01-14 UTC, chosen so that every duration is easy to check by hand. Ids are assigned
in the order `load` posts: REGION_1 first (ids 1-14 in list order), then REGION_2 (15-19), then the
rest (20-22).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

A = "77e0f192-00a2-4f14-ad56-7467897828ea"
B = "8eba1a6d-43eb-1343-8d1a-5e596f5233b5"
C = "4e3a8b02-6d3e-4c9a-9a63-8f0f5d2c1b7a"
D = "0c6f2f5e-7d1a-4b8e-9f3c-2a1b0c9d8e7f"
IMAGE = "a0d5e8c4-2f3b-4b6c-9d1e-0f7a6b5c4d3e"
REQ_CREATE = "req-a7517402-6192-4d0a-85a1-e14051790d5a"
REQ_SNAP = "req-1368539d-f645-4d96-842e-03b5c5c9dc8c"
REQ_RESIZE = "req-0b9c5a4e-3f2d-4e1c-8b7a-6d5e4f3a2b1c"
REQ_FAIL = "req-5f6e7d8c-9b0a-4c1d-8e2f-3a4b5c6d7e8f"
REQ_DELETE = "req-6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d"
REQ_D = "req-9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a"
DAY = "2014-01-14"
# 2014-01-14 00:00:00 UTC
DAY_START = 1389657600

_ids = itertools.count(1)


def note(event: str, when: str, *, instance: str | None = None, publisher: str = "compute.compute-99",
         request: str | None = None, tenant: str = "tenant-1", priority: str = "INFO",
         **payload: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": f"00000000-0000-4000-8000-{next(_ids):012d}", "publisher_id": publisher,
        "event_type": event, "priority": priority, "timestamp": f"{DAY} {when}",
        "_context_project_id": tenant, "_context_auth_token": "d81a25d03bb340bb82b4b67d105cc42d",
        "payload": payload,
    }
    if request is not None:
        body["_context_request_id"] = request
    if instance is not None:
        body["payload"] = {"instance_id": instance, **payload}
    return body


def oslo(notification: dict[str, Any]) -> dict[str, Any]:
    """The oslo.messaging v2 envelope around a notification."""
    return {"oslo.version": "2.0", "oslo.message": json.dumps(notification)}


BASE_LINUX = {"image_type": "base", "os_type": "linux"}
SNAP_WINDOWS = {"image_type": "snapshot", "os_type": "windows"}

REGION_1 = [
    # 1-4: A is created (request REQ_CREATE, announced by the API node at 15:39:00).
    note("compute.instance.update", "15:39:00", instance=A, publisher="api.api-1", request=REQ_CREATE,
         state="building", old_state=None, old_task_state=None, new_task_state="scheduling"),
    note("compute.instance.create.start", "15:39:05.100000", instance=A, request=REQ_CREATE, state="building",
         image_meta=BASE_LINUX),
    note("compute.instance.update", "15:39:30", instance=A, request=REQ_CREATE, state="building",
         old_state="building", old_task_state="spawning", new_task_state="spawning"),
    note("compute.instance.create.end", "15:40:00.600000", instance=A, request=REQ_CREATE, state="active",
         image_meta=BASE_LINUX),
    # 5-7: A is snapshotted (sent in oslo v2 envelopes), 8-9 the image it makes (glance).
    oslo(note("compute.instance.update", "16:00:00", instance=A, publisher="api.api-1", request=REQ_SNAP,
              state="active", old_state="active", old_task_state=None, new_task_state="image_snapshot")),
    oslo(note("compute.instance.snapshot.start", "16:00:01.250000", instance=A, request=REQ_SNAP, state="active")),
    oslo(note("compute.instance.snapshot.end", "16:14:12.960000", instance=A, request=REQ_SNAP, state="active")),
    note("image.upload", "16:14:10", publisher="image.localhost", id=IMAGE, status="saving", owner="tenant-1",
         properties={"instance_uuid": A}),
    note("image.activate", "16:14:11", publisher="image.localhost", id=IMAGE, status="active", owner="tenant-1",
         properties={"instance_uuid": A}),
    # 10-14: A is resized; finish_resize.end (13) arrives before its .start (14).
    note("compute.instance.update", "17:00:00", instance=A, publisher="api.api-1", request=REQ_RESIZE,
         state="active", old_state="active", old_task_state=None, new_task_state="resize_prep"),
    note("compute.instance.resize.prep.start", "17:00:02", instance=A, request=REQ_RESIZE, state="active"),
    note("compute.instance.resize.prep.end", "17:00:04.500000", instance=A, request=REQ_RESIZE, state="active"),
    note("compute.instance.finish_resize.end", "17:05:44", instance=A, request=REQ_RESIZE, state="active"),
    note("compute.instance.finish_resize.start", "17:05:40.250000", instance=A, request=REQ_RESIZE, state="active"),
]

REGION_2 = [
    # 15-17: B fails to build (an error notification with HTTP code 500), 18-19: B is deleted.
    note("compute.instance.update", "18:00:00", instance=B, publisher="api.api-2", request=REQ_FAIL,
         tenant="tenant-2", state="building", old_state=None, old_task_state=None, new_task_state="scheduling"),
    note("compute.instance.create.start", "18:00:01", instance=B, publisher="compute.compute-7", request=REQ_FAIL,
         tenant="tenant-2", state="building", image_meta=SNAP_WINDOWS),
    note("compute.instance.create.error", "18:00:02.500000", publisher="compute.compute-7", request=REQ_FAIL,
         tenant="tenant-2", priority="ERROR", state="error",
         exception={"kwargs": {"code": 500, "uuid": B}}),
    note("compute.instance.delete.start", "18:10:00", instance=B, publisher="compute.compute-7", request=REQ_DELETE,
         tenant="tenant-2", state="error"),
    note("compute.instance.delete.end", "18:10:03.330000", instance=B, publisher="compute.compute-7",
         request=REQ_DELETE, tenant="tenant-2", state="deleted"),
]

OTHERS = [
    # 20: a lone .end; 21-22: D is created in 1:40.25; 23: a generic (keystone) event.
    note("compute.instance.rebuild.end", "19:00:00", instance=C, state="active"),
    note("compute.instance.create.start", "20:00:00", instance=D, request=REQ_D, state="building"),
    note("compute.instance.create.end", "20:01:40.250000", instance=D, request=REQ_D, state="active"),
    note("identity.user.created", "21:00:00", publisher="identity.keystone-1", request=REQ_D,
         resource_info="user-1"),
]


async def load(client: Any) -> None:
    for deployment, batch in (("region-1", REGION_1), ("region-2", REGION_2), ("region-1", OTHERS)):
        response = await client.post(f"/v1/notifications?deployment={deployment}", json=batch)
        assert response.status_code == 202, response.text
