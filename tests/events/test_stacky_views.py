"""Every stacky view over the notification fixture set: the exact rows, as the original built them."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Vigil
from tests.events.fixtures import (
    DAY_START,
    IMAGE,
    REGION_1,
    REQ_RESIZE,
    REQ_SNAP,
    A,
    B,
    C,
    D,
)

NOVA = ["#", "?", "When", "Deployment", "Event", "Host", "State", "State'", "Task"]
REQUEST = ["#", "?", "When", "Deployment", "Event", "Host", "State", "State'", "Task'"]
HOUR = 3600


def at(hours: int, minutes: int = 0, seconds: int = 0) -> int:
    return DAY_START + hours * HOUR + minutes * 60 + seconds


async def get(vigil: Vigil, path: str, status: int = 200) -> object:
    response = await vigil.client.get(path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "text/json"
    assert response.headers["vary"] == "Accept"
    return response.json()


def freeze(vigil: Vigil, unixtime: float) -> None:
    vigil.services.events.views._clock = lambda: unixtime


async def test_deployments(loaded: Vigil) -> None:
    assert await get(loaded, "/stacky/deployments/") == [["#", "Name"], [1, "region-1"], [2, "region-2"]]


async def test_events_per_service(loaded: Vigil) -> None:
    nova = ["compute.instance.create.end", "compute.instance.create.error", "compute.instance.create.start",
            "compute.instance.delete.end", "compute.instance.delete.start", "compute.instance.finish_resize.end",
            "compute.instance.finish_resize.start", "compute.instance.rebuild.end",
            "compute.instance.resize.prep.end", "compute.instance.resize.prep.start",
            "compute.instance.snapshot.end", "compute.instance.snapshot.start", "compute.instance.update"]
    assert await get(loaded, "/stacky/events/") == [["Event Name"], *([n] for n in nova)]
    assert await get(loaded, "/stacky/events/?service=glance") == [["Event Name"], ["image.activate"],
                                                                    ["image.upload"]]
    assert await get(loaded, "/stacky/events?service=all") == [
        ["Event Name"], *([n] for n in nova), ["image.activate"], ["image.upload"], ["identity.user.created"]]


async def test_hosts(loaded: Vigil) -> None:
    assert await get(loaded, "/stacky/hosts/") == [["Host Name"], ["api-1"], ["api-2"], ["compute-7"],
                                                    ["compute-99"]]
    assert await get(loaded, "/stacky/hosts/?service=glance") == [["Host Name"], ["localhost"]]
    assert await get(loaded, "/stacky/hosts/?service=generic") == [["Host Name"], ["keystone-1"]]


A_ROWS = [
    [1, " ", "2014-01-14 15:39:00", "region-1", "compute.instance.update", "api-1", "building", None, None],
    [2, " ", "2014-01-14 15:39:05.100000", "region-1", "compute.instance.create.start", "compute-99", "building",
     "", ""],
    [3, " ", "2014-01-14 15:39:30", "region-1", "compute.instance.update", "compute-99", "building", "building",
     "spawning"],
    [4, " ", "2014-01-14 15:40:00.600000", "region-1", "compute.instance.create.end", "compute-99", "active", "", ""],
    [5, " ", "2014-01-14 16:00:00", "region-1", "compute.instance.update", "api-1", "active", "active", None],
    [6, " ", "2014-01-14 16:00:01.250000", "region-1", "compute.instance.snapshot.start", "compute-99", "active",
     "", ""],
    [7, " ", "2014-01-14 16:14:12.960000", "region-1", "compute.instance.snapshot.end", "compute-99", "active", "",
     ""],
    [10, " ", "2014-01-14 17:00:00", "region-1", "compute.instance.update", "api-1", "active", "active", None],
    [11, " ", "2014-01-14 17:00:02", "region-1", "compute.instance.resize.prep.start", "compute-99", "active", "",
     ""],
    [12, " ", "2014-01-14 17:00:04.500000", "region-1", "compute.instance.resize.prep.end", "compute-99", "active",
     "", ""],
    [14, " ", "2014-01-14 17:05:40.250000", "region-1", "compute.instance.finish_resize.start", "compute-99",
     "active", "", ""],
    [13, " ", "2014-01-14 17:05:44", "region-1", "compute.instance.finish_resize.end", "compute-99", "active", "",
     ""],
]


async def test_uuid(loaded: Vigil) -> None:
    assert await get(loaded, f"/stacky/uuid/?uuid={A}") == [NOVA, *A_ROWS]
    assert await get(loaded, f"/stacky/uuid?uuid={A}&limit=2&offset=1") == [NOVA, *A_ROWS[1:3]]
    # when_min / when_max are unixtimes, both ends included.
    window = f"when_min={at(16)}&when_max={at(16, 14, 12)}.96"
    assert await get(loaded, f"/stacky/uuid/?uuid={A}&{window}") == [NOVA, *A_ROWS[4:7]]


async def test_uuid_error_queue_marker(loaded: Vigil) -> None:
    rows = await get(loaded, f"/stacky/uuid/?uuid={B}")
    assert [r[:2] for r in rows[1:]] == [[15, " "], [16, " "], [17, "E"], [18, " "], [19, " "]]  # type: ignore[index]
    assert rows[3] == [17, "E", "2014-01-14 18:00:02.500000", "region-2", "compute.instance.create.error",  # type: ignore[index]
                       "compute-7", "error", "", ""]


async def test_uuid_glance_and_generic(loaded: Vigil) -> None:
    assert await get(loaded, f"/stacky/uuid/?uuid={IMAGE}&service=glance") == [
        ["#", "?", "When", "Deployment", "Event", "Host", "Status"],
        [8, " ", "2014-01-14 16:14:10", "region-1", "image.upload", "localhost", "saving"],
        [9, " ", "2014-01-14 16:14:11", "region-1", "image.activate", "localhost", "active"]]
    assert await get(loaded, f"/stacky/uuid/?uuid={C}&service=generic") == [
        ["#", "?", "When", "Deployment", "Event", "Host", "Instance", "Request id"]]


@pytest.mark.parametrize("path", ["/stacky/uuid/?uuid=obviouslybaduuid", "/stacky/timings/uuid/?uuid=obviouslybaduuid"])
async def test_uuid_not_uuid_like(loaded: Vigil, path: str) -> None:
    assert await get(loaded, path, 400) == [["Error", "Message"], ["Bad Request", "obviouslybaduuid is not uuid-like"]]


async def test_timings_uuid(loaded: Vigil) -> None:
    head = ["?", "Event", "Time (secs)"]
    assert await get(loaded, f"/stacky/timings/uuid/?uuid={A}") == [
        head, [".", "compute.instance.create", "0d 00:00:55.50"],
        [".", "compute.instance.snapshot", "0d 00:14:11.71"],
        [".", "compute.instance.resize.prep", "0d 00:00:02.50"],
        # Its .end arrived first: paired all the same.
        [".", "compute.instance.finish_resize", "0d 00:00:03.75"]]
    assert await get(loaded, f"/stacky/timings/uuid/?uuid={B}") == [
        head, ["S", "compute.instance.create", "n/a"], [".", "compute.instance.delete", "0d 00:00:03.33"]]
    assert await get(loaded, f"/stacky/timings/uuid/?uuid={C}") == [head, ["E", "compute.instance.rebuild", "n/a"]]


async def test_timings_by_name(loaded: Vigil) -> None:
    name = "compute.instance.create"
    assert await get(loaded, f"/stacky/timings/?name={name}") == [
        [name, "Time"], [A, "0d 00:00:55.50"], [D, "0d 00:01:40.25"]]
    assert await get(loaded, f"/stacky/timings/?name={name}&end_when_max={at(15, 40, 1)}") == [
        [name, "Time"], [A, "0d 00:00:55.50"]]
    assert await get(loaded, "/stacky/timings/", 400) == [["Error", "Message"], ["Bad Request", "name is required"]]


SUMMARY = [
    ["Event", "N", "Min", "Max", "Avg"],
    # (55.50 + 100.25) / 2 = 77.875 s, shown in whole seconds.
    ["compute.instance.create", 2, "0d 00:00:55.50", "0d 00:01:40.25", "0d 00:01:17"],
    ["compute.instance.delete", 1, "0d 00:00:03.33", "0d 00:00:03.33", "0d 00:00:03"],
    ["compute.instance.finish_resize", 1, "0d 00:00:03.75", "0d 00:00:03.75", "0d 00:00:03"],
    ["compute.instance.resize.prep", 1, "0d 00:00:02.50", "0d 00:00:02.50", "0d 00:00:02"],
    ["compute.instance.snapshot", 1, "0d 00:14:11.71", "0d 00:14:11.71", "0d 00:14:11"],
]


async def test_summary(loaded: Vigil) -> None:
    assert await get(loaded, "/stacky/summary/") == SUMMARY
    # limit applies per event name, to the timings in the order they were recorded.
    limited = await get(loaded, "/stacky/summary/?limit=1")
    assert limited[1] == ["compute.instance.create", 1, "0d 00:00:55.50", "0d 00:00:55.50", "0d 00:00:55"]  # type: ignore[index]
    assert await get(loaded, f"/stacky/summary/?uuid={D}") == [
        SUMMARY[0], ["compute.instance.create", 1, "0d 00:01:40.25", "0d 00:01:40.25", "0d 00:01:40"]]


async def test_request(loaded: Vigil) -> None:
    resize = [r for r in A_ROWS if r[0] in (10, 11, 12, 13, 14)]
    assert await get(loaded, f"/stacky/request/?request_id={REQ_RESIZE}") == [REQUEST, *resize]
    assert await get(loaded, f"/stacky/request?request_id={REQ_SNAP}&when_min={at(16, 0, 1)}") == [
        REQUEST, A_ROWS[5], A_ROWS[6]]
    assert await get(loaded, "/stacky/request/?request_id=obviouslybaduuid", 400) == [
        ["Error", "Message"], ["Bad Request", "obviouslybaduuid is not request-id-like"]]


async def test_show(loaded: Vigil) -> None:
    rows = await get(loaded, "/stacky/show/7/")
    assert rows[0] == [  # type: ignore[index]
        ["Key", "Value"], ["#", 7], ["When", "2014-01-14 16:14:12.960000"], ["Deployment", "region-1"],
        ["Category", "notifications.info"], ["Publisher", "compute.compute-99"], ["State", "active"],
        ["Event", "compute.instance.snapshot.end"], ["Service", "compute"], ["Host", "compute-99"], ["UUID", A],
        ["Req ID", REQ_SNAP]]
    # The notification out of its oslo envelope, the auth token left out, printed as the original did.
    sent = json.loads(REGION_1[6]["oslo.message"])
    kept = ["notifications.info", {**sent, "_context_auth_token": "***"}]
    assert rows[1] == json.dumps(kept, indent=2, separators=(", ", ": "))  # type: ignore[index]
    assert "d81a25d03bb340bb82b4b67d105cc42d" not in rows[1]  # type: ignore[index]
    assert rows[2] == A  # type: ignore[index]


async def test_show_glance_and_missing(loaded: Vigil) -> None:
    rows = await get(loaded, "/stacky/show/8?service=glance")
    assert rows[0][6] == ["Status", "saving"]  # type: ignore[index]
    assert rows[0][10] == ["UUID", IMAGE]  # type: ignore[index]
    assert rows[2] == IMAGE  # type: ignore[index]
    assert await get(loaded, "/stacky/show/8/", 404) == [["Error", "Message"],
                                                          ["Not Found", "There is no nova event 8"]]
    await get(loaded, "/stacky/show/99999999999999999999999/", 404)


async def test_watch(loaded: Vigil) -> None:
    freeze(loaded, at(16, 14, 13) + 0.7)  # clamped to the second
    widths = [10, 1, 15, 20, len("compute.instance.finish_resize.start"), 36]
    assert await get(loaded, f"/stacky/watch/0/?since={at(16)}") == [widths, [
        [6, ".", "2014-01-14", "16:00:01.250000", "region-1", "compute.instance.snapshot.start", A],
        [7, ".", "2014-01-14", "16:14:12.960000", "region-1", "compute.instance.snapshot.end", A]],
        str(at(16, 14, 13))]
    assert (await get(loaded, f"/stacky/watch/0/?service=glance&since={at(16)}"))[1] == [  # type: ignore[index]
        [8, ".", "2014-01-14", "16:14:10", "region-1", "image.upload", IMAGE],
        [9, ".", "2014-01-14", "16:14:11", "region-1", "image.activate", IMAGE]]
    freeze(loaded, at(18, 30))
    assert (await get(loaded, f"/stacky/watch/2?since={at(18)}"))[1] == [  # type: ignore[index]
        [16, ".", "2014-01-14", "18:00:01", "region-2", "compute.instance.create.start", B],
        [17, "E", "2014-01-14", "18:00:02.500000", "region-2", "compute.instance.create.error", B],
        [18, ".", "2014-01-14", "18:10:00", "region-2", "compute.instance.delete.start", B],
        [19, ".", "2014-01-14", "18:10:03.330000", "region-2", "compute.instance.delete.end", B]]
    assert (await get(loaded, f"/stacky/watch/1?since={at(18)}"))[1] == []  # type: ignore[index]
    only = await get(loaded, f"/stacky/watch/0?since={at(18)}&event_name=compute.instance.delete.start")
    assert [r[0] for r in only[1]] == [18]  # type: ignore[index]
    # Without `since`: the last two seconds.
    freeze(loaded, at(18, 0, 2))
    assert [r[0] for r in (await get(loaded, "/stacky/watch/0/"))[1]] == [16]  # type: ignore[index]


async def test_search(loaded: Vigil) -> None:
    rows = await get(loaded, "/stacky/search/?field=tenant&value=tenant-2")
    assert rows[0] == REQUEST  # type: ignore[index]
    assert [r[0] for r in rows[1:]] == [19, 18, 17, 16, 15]  # type: ignore[index]  # newest first
    rows = await get(loaded, "/stacky/search/?field=uuid&value=" + IMAGE + "&service=glance&limit=1")
    assert rows == [["#", "?", "When", "Deployment", "Event", "Host", "Status"],
                    [9, " ", "2014-01-14 16:14:11", "region-1", "image.activate", "localhost", "active"]]
    assert await get(loaded, "/stacky/search/?field=id&value=4") == [REQUEST, A_ROWS[3]]
    assert await get(loaded, "/stacky/search/?field=Tenant&value=x", 400) == [["Error", "Message"], [
        "Bad Request", "The requested field 'Tenant' does not exist for the corresponding object.\n"
                       "Note: The field names of database are case-sensitive."]]
    assert await get(loaded, "/stacky/search/?field=id&value=abc", 400) == [
        ["Error", "Message"], ["Bad Request", "'abc' is not a valid value for the field 'id'"]]


async def test_kpi(loaded: Vigil) -> None:
    freeze(loaded, DAY_START + 86_400)
    rows = [["Event", "Time", "UUID", "Deployment"],
            ["compute.instance.create", "0d 00:01:00.60", A, "region-1"],
            # the latest .end of the request: finish_resize, though its pair arrived end-first
            ["compute.instance.finish_resize", "0d 00:05:44.00", A, "region-1"],
            ["compute.instance.snapshot", "0d 00:14:12.96", A, "region-1"]]
    assert await get(loaded, "/stacky/kpi/") == rows
    assert await get(loaded, "/stacky/kpi/tenant-1/") == rows
    assert await get(loaded, "/stacky/kpi/tenant-2") == rows[:1]
    missing = [["Error", "Message"], ["Not Found", "Could not find raws for tenant tenant-9"]]
    assert await get(loaded, "/stacky/kpi/tenant-9/", 404) == missing
    freeze(loaded, DAY_START + 3 * 86_400)  # only the last day counts
    assert await get(loaded, "/stacky/kpi") == rows[:1]


@pytest.mark.parametrize(("path", "message"), [
    ("/stacky/uuid/?uuid=" + A + "&limit=x", "limit must be a whole number, not 'x'"),
    ("/stacky/uuid/?uuid=" + A + "&offset=-1", "offset must not be negative"),
    ("/stacky/uuid/?uuid=" + A + "&when_min=yesterday",
     "when_min must be a unixtime (seconds since 1970, decimals allowed), not 'yesterday'"),
    ("/stacky/hosts/?service=swift", "service must be one of nova, glance, generic, not 'swift'"),
    ("/stacky/watch/0/?since=soon", "since must be a unixtime (seconds since 1970, decimals allowed), not 'soon'"),
    ("/stacky/uuid/?uuid=" + A + "&offset=99999999999999999999", "offset is too large"),
    ("/stacky/search/?field=deployment&value=4294967296",
     "'4294967296' is not a valid value for the field 'deployment'"),
])
async def test_bad_parameters(loaded: Vigil, path: str, message: str) -> None:
    assert await get(loaded, path, 400) == [["Error", "Message"], ["Bad Request", message]]


async def test_limit_is_capped_at_1000(loaded: Vigil) -> None:
    assert await get(loaded, f"/stacky/uuid/?uuid={A}&limit=5000") == [NOVA, *A_ROWS]


async def test_request_tracking_needs_a_read_token(loaded: Vigil) -> None:
    from vigil.auth.roles import Role

    response = await loaded.as_token(None).get("/stacky/deployments/")
    assert response.status_code == 401
    assert response.headers["content-type"] == "text/json"
    assert response.json() == [["Error", "Message"], ["Unauthorized", "Please provide credentials for authentication."]]
    recorder = await loaded.token(Role.RECORDER)
    response = await loaded.as_token(recorder).get("/stacky/summary/")
    assert response.status_code == 403
    assert response.json()[1][0] == "Forbidden"
    viewer = await loaded.token(Role.VIEWER)
    assert (await loaded.as_token(viewer).get("/stacky/summary/")).json() == SUMMARY


async def test_unpaginated_views_are_bounded(start_vigil: object) -> None:
    from tests.events import fixtures
    from tests.events.conftest import KEEP

    vigil = await start_vigil(events_retention=KEEP, stacky_max_rows=2)  # type: ignore[operator]
    await fixtures.load(vigil.client)
    assert len(await get(vigil, "/stacky/events/")) == 3
    assert len(await get(vigil, "/stacky/hosts/")) == 3
    assert len(await get(vigil, "/stacky/deployments/")) == 3
    # watch stops at the limit, at a whole instant, and says where to go on from.
    freeze(vigil, at(19))
    first = await get(vigil, f"/stacky/watch/2/?since={at(18)}")
    assert [r[0] for r in first[1]] == [16]  # type: ignore[index]
    assert first[2] == f"{at(18, 0, 1)}.000000"  # type: ignore[index]
    second = await get(vigil, f"/stacky/watch/2/?since={first[2]}")  # type: ignore[index]
    assert [r[0] for r in second[1]] == [17]  # type: ignore[index]
    # A full page is always cut at its last instant, even when nothing more is waiting.
    third = await get(vigil, f"/stacky/watch/2/?since={second[2]}")  # type: ignore[index]
    assert [r[0] for r in third[1]] == [18]  # type: ignore[index]
    fourth = await get(vigil, f"/stacky/watch/2/?since={third[2]}")  # type: ignore[index]
    assert [r[0] for r in fourth[1]] == [19]  # type: ignore[index]
    assert fourth[2] == str(at(19))  # type: ignore[index]
