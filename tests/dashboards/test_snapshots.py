"""Snapshots: 202 + a job that renders the chart to a PNG served without auth at an unguessable URL."""

from __future__ import annotations

import asyncio
import io
import re
import time

import numpy as np
from PIL import Image

from tests.conftest import StartVigil, Vigil
from tests.dashboards.test_render import pixels_of
from vigil.auth.roles import Role
from vigil.dashboards.charts import Stream
from vigil.dashboards.data import Window, query_params

NOW = int(time.time())
ISO = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")
COLOUR = "#E0218A"


async def make_chart(vigil: Vigil, **props: object) -> tuple[int, int]:
    space_id = (await vigil.client.post("/v1/spaces", json={"name": f"s{time.monotonic_ns()}"})).json()["id"]
    body = {"name": "CPU", "streams": [{"metric": "snap.cpu", "color": COLOUR, "group_function": "breakout"}], **props}
    r = await vigil.client.post(f"/v1/spaces/{space_id}/charts", json=body)
    assert r.status_code == 201, r.text
    return space_id, r.json()["id"]


async def finished(vigil: Vigil, job_href: str) -> dict:
    path = job_href.removeprefix("http://vigil.test")
    for _ in range(600):
        job = (await vigil.client.get(path)).json()
        if job["state"] in ("complete", "failed"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError("the snapshot job did not finish")


async def test_snapshot_renders_a_png(vigil: Vigil) -> None:
    await vigil.post_measurements({"tags": {"host": "a"}, "measurements": [
        {"name": "snap.cpu", "value": v, "time": NOW - 1800 + 300 * i} for i, v in enumerate([3, 9, 4, 12, 7])]})
    _, chart_id = await make_chart(vigil)
    r = await vigil.client.post("/v1/snapshots", json={"subject": {"chart": {"id": chart_id, "type": "line"}},
                                                       "width": 700, "height": 350})
    assert r.status_code == 202, r.text
    body = r.json()
    snapshot_id = int(body["href"].rsplit("/", 1)[1])
    assert r.headers["location"] == f"/v1/snapshots/{snapshot_id}"
    assert body["href"] == f"http://vigil.test/v1/snapshots/{snapshot_id}"
    assert re.fullmatch(r"http://vigil\.test/v1/jobs/\d+", body["job_href"])
    assert body["image_href"] is None and body["duration"] == 3600
    assert all(ISO.match(body[k]) for k in ("end_time", "created_at", "updated_at"))
    assert body["subject"] == {"chart": {"id": chart_id, "sources": ["*"], "type": "line"}}
    job = await finished(vigil, body["job_href"])
    assert job["state"] == "complete", job
    shown = (await vigil.client.get(f"/v1/snapshots/{snapshot_id}")).json()
    assert re.fullmatch(r"http://vigil\.test/snapshots/[0-9a-f]{32}\.png", shown["image_href"])
    assert {k: v for k, v in shown.items() if k not in ("image_href", "updated_at")} == {
        k: v for k, v in body.items() if k not in ("image_href", "updated_at")}
    async with vigil.as_token(None) as anonymous:  # chat apps fetch it without credentials
        image = await anonymous.get(shown["image_href"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    decoded = np.asarray(Image.open(io.BytesIO(image.content)).convert("RGB"))
    assert decoded.shape == (350, 700, 3)
    assert pixels_of(decoded, COLOUR) > 100  # the stream's line is drawn
    async with vigil.as_token(None) as anonymous:
        assert (await anonymous.get("/snapshots/" + "f" * 32 + ".png")).status_code == 404
        assert (await anonymous.get("/snapshots/../v1/metrics.png")).status_code == 404


async def test_defaults_to_the_chart_type_and_settings_size(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(snapshot_width=320, snapshot_height=200)
    _, chart_id = await make_chart(vigil, type="bignumber", thresholds=[{"operator": ">", "value": 1, "type": "red"}])
    async with vigil.as_token(await vigil.token(Role.VIEWER)) as viewer:
        r = await viewer.post("/v1/snapshots", json={"subject": {"chart": {"id": chart_id}}, "duration": 600,
                                                     "end_time": NOW})
    assert r.status_code == 202
    assert r.json()["subject"]["chart"]["type"] == "bignumber" and r.json()["duration"] == 600
    assert (await finished(vigil, r.json()["job_href"]))["state"] == "complete"
    href = (await vigil.client.get(r.json()["href"].removeprefix("http://vigil.test"))).json()["image_href"]
    png = (await vigil.client.get(href)).content
    assert Image.open(io.BytesIO(png)).size == (320, 200)


async def test_bad_requests_store_nothing(vigil: Vigil) -> None:
    _, chart_id = await make_chart(vigil)
    for body, field in (({}, "subject"), ({"subject": {"chart": {}}}, "subject.chart.id"),
                        ({"subject": {"chart": {"id": 999}}}, "subject.chart.id"),
                        ({"subject": {"chart": {"id": chart_id, "type": "pie"}}}, "subject.chart.type"),
                        ({"subject": {"chart": {"id": chart_id, "tags": [{"name": "h"}]}}}, "subject.chart.tags.0"),
                        ({"subject": {"chart": {"id": chart_id, "sources": ["web1"]}}}, "subject.chart.sources"),
                        ({"subject": {"chart": {"id": chart_id}}, "duration": 0}, "duration"),
                        ({"subject": {"chart": {"id": chart_id}}, "end_time": "now"}, "end_time"),
                        ({"subject": {"chart": {"id": chart_id}}, "width": 5000}, "width"),
                        ({"subject": {"chart": {"id": chart_id}}, "height": 10}, "height")):
        r = await vigil.client.post("/v1/snapshots", json=body)
        assert r.status_code == 400, body
        assert field in r.json()["errors"]["params"], r.json()
    assert (await vigil.client.get("/v1/snapshots/1")).status_code == 404
    async with vigil.as_token(await vigil.token(Role.RECORDER)) as recorder:
        assert (await recorder.post("/v1/snapshots", json={"subject": {"chart": {"id": chart_id}}})).status_code == 403


async def test_pending_limit_gives_503(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(snapshot_max_pending=1)
    _, chart_id = await make_chart(vigil)
    body = {"subject": {"chart": {"id": chart_id}}}
    snapshots = vigil.services.snapshots
    async with snapshots._render_lock:  # hold the renderer: the first job waits
        first = await vigil.client.post("/v1/snapshots", json=body)
        assert first.status_code == 202
        r = await vigil.client.post("/v1/snapshots", json=body)
        assert r.status_code == 503
        assert "being rendered" in r.json()["errors"]["system"][0]
    assert (await finished(vigil, first.json()["job_href"]))["state"] == "complete"
    assert (await vigil.client.post("/v1/snapshots", json=body)).status_code == 202


async def test_only_the_newest_snapshots_are_kept(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(snapshot_keep=2)
    _, chart_id = await make_chart(vigil)
    made = []
    for _ in range(3):
        r = await vigil.client.post("/v1/snapshots", json={"subject": {"chart": {"id": chart_id}}})
        await finished(vigil, r.json()["job_href"])
        made.append(r.json()["href"].removeprefix("http://vigil.test"))
    assert [(await vigil.client.get(path)).status_code for path in made] == [404, 200, 200]


async def test_a_chart_deleted_before_rendering_fails_the_job(vigil: Vigil) -> None:
    space_id, chart_id = await make_chart(vigil)
    async with vigil.services.snapshots._render_lock:
        r = await vigil.client.post("/v1/snapshots", json={"subject": {"chart": {"id": chart_id}}})
        await vigil.client.delete(f"/v1/spaces/{space_id}/charts/{chart_id}")
    job = await finished(vigil, r.json()["job_href"])
    # The chart may be read before the delete: then the job completes with the picture it had.
    assert job["state"] in ("failed", "complete")
    if job["state"] == "failed":
        assert "deleted" in job["errors"]["request"][0]


def test_subject_tags_override_the_streams_filters() -> None:
    stream = Stream(1, {"metric": "m", "tags": [{"name": "env", "values": ["prod"]}, {"name": "@host", "dynamic": True},
                                                 {"name": "Region", "values": ["US-*"], "grouped": True}]})
    win = Window(0, 600, 60)
    assert query_params(stream, win) == {"start_time": 0, "end_time": 600, "resolution": 60,
                                         "tags": {"env": ["prod"], "region": ["us-*"]}, "group_by": "region",
                                         "group_by_function": "mean"}
    params = query_params(stream, win, [{"name": "host", "values": ["web-*"]}, {"name": "env", "values": ["dev"]}])
    assert params["tags"] == {"region": ["us-*"], "host": ["web-*"], "env": ["dev"]}
