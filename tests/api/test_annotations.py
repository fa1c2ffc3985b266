"""Annotations: streams created by their first event, events grouped by source, links, updates, deletes."""

from __future__ import annotations

import time

from tests.conftest import StartVigil, Vigil
from vigil.auth.roles import Role

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def post(vigil: Vigil, name: str, **body: object) -> dict:
    r = await vigil.client.post(f"/v1/annotations/{name}", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_with_the_seed_form_bodies(vigil: Vigil) -> None:
    before = int(time.time())
    r = await vigil.client.post("/v1/annotations/app-deploys", headers=FORM,
                                content=b"title=Deployed v56&source=foo3.bar.com"
                                        b"&description=v56 - Fixed typo in page titles")
    assert r.status_code == 201
    event = r.json()
    assert r.headers["location"] == f"/v1/annotations/app-deploys/{event['id']}"
    assert before <= event["start_time"] <= int(time.time())
    assert event == {"id": event["id"], "title": "Deployed v56", "description": "v56 - Fixed typo in page titles",
                     "source": "foo3.bar.com", "start_time": event["start_time"], "end_time": None, "links": []}
    r = await vigil.client.post("/v1/annotations/api-deploys", headers=FORM,
                                content=b"title=My Annotation&description=Joe deployed v29 to metrics"
                                        b"&start_time=1234567890&links[0][label]=Metrics Gem"
                                        b"&links[0][href]=https://github.com/appoptics/appoptics-api-ruby"
                                        b"&links[0][rel]=github")
    assert r.status_code == 201
    assert r.json() == {"id": r.json()["id"], "title": "My Annotation", "description": "Joe deployed v29 to metrics",
                        "source": None, "start_time": 1234567890, "end_time": None,
                        "links": [{"rel": "github", "label": "Metrics Gem",
                                   "href": "https://github.com/appoptics/appoptics-api-ruby"}]}
    body = (await vigil.client.get("/v1/annotations")).json()
    assert body == {"query": {"found": 2, "length": 2, "offset": 0, "total": 2}, "annotations": [
        {"name": "api-deploys", "display_name": None}, {"name": "app-deploys", "display_name": None}]}


async def test_bad_events_are_400_and_create_nothing(vigil: Vigil) -> None:
    for body, field in (({}, "title"), ({"title": ""}, "title"), ({"title": "t", "start_time": "soon"}, "start_time"),
                        ({"title": "t", "start_time": -1}, "start_time"),
                        ({"title": "t", "start_time": 100, "end_time": 50}, "end_time"),
                        ({"title": "t", "links": [{"href": "h"}]}, "links.0.rel"),
                        ({"title": "t", "links": [{"rel": "a"}]}, "links.0.href"),
                        ({"title": "t", "links": [{"rel": "a", "href": "h"}, {"rel": "a", "href": "i"}]},
                         "links.1.rel"),
                        ({"title": "t", "links": "github"}, "links"), ({"title": "x" * 256}, "title")):
        r = await vigil.client.post("/v1/annotations/deploys", json=body)
        assert r.status_code == 400, body
        assert field in r.json()["errors"]["params"], r.json()
    r = await vigil.client.post("/v1/annotations/bad name", json={"title": "t"})
    assert r.status_code == 400 and "name" in r.json()["errors"]["params"]
    assert (await vigil.client.get("/v1/annotations")).json()["annotations"] == []


async def test_read_stream_grouped_by_source_in_start_order(vigil: Vigil) -> None:
    late = await post(vigil, "api-deploys", title="Chef run finished", source="foo3.bar.com",
                      description="Chef migrated up to SHA 44a87f9", start_time=1234567908, end_time=1234567958)
    first = await post(vigil, "api-deploys", title="My Annotation", source="foo3.bar.com", start_time=1234567890)
    bare = await post(vigil, "api-deploys", title="Deployed v91", start_time=1234567890)
    other = await post(vigil, "api-deploys", title="db", source="db1.acme", start_time=1234567000)
    await post(vigil, "api-deploys", title="outside", source="db2.acme", start_time=1234600001)
    await vigil.client.put("/v1/annotations/api-deploys", json={"display_name": "Deploys to API"})
    r = await vigil.client.get("/v1/annotations/api-deploys", params={"start_time": 1234500000,
                                                                       "end_time": 1234600000})
    assert r.status_code == 200
    assert r.json() == {"name": "api-deploys", "display_name": "Deploys to API", "events": [{
        "db1.acme": [other], "foo3.bar.com": [first, late], "unassigned": [bare]}]}
    r = await vigil.client.get("/v1/annotations/api-deploys?start_time=1234500000&end_time=1234600000"
                               "&sources%5B%5D=db*&sources%5B%5D=FOO3.bar.com")
    assert r.json()["events"] == [{"db1.acme": [other], "foo3.bar.com": [first, late]}]
    r = await vigil.client.get("/v1/annotations/api-deploys", params={"sources[]": "unassigned"})
    assert r.json()["events"] == [{"unassigned": [bare]}]
    r = await vigil.client.get("/v1/annotations/api-deploys", params={"start_time": 1234567950})
    assert [e["title"] for e in r.json()["events"][0]["db2.acme"]] == ["outside"]
    r = await vigil.client.get("/v1/annotations/api-deploys", params={"start_time": "x"})
    assert r.status_code == 400 and "start_time" in r.json()["errors"]["params"]
    r = await vigil.client.get("/v1/annotations/api-deploys", params={"start_time": 10, "end_time": 5})
    assert r.status_code == 400
    assert (await vigil.client.get("/v1/annotations/nothing")).status_code == 404
    assert (await vigil.client.get(f"/v1/annotations/api-deploys/{first['id']}")).json() == first


async def test_event_update_links_and_deletes(vigil: Vigil) -> None:
    event = await post(vigil, "app-deploys", title="v1", start_time=1000)
    path = f"/v1/annotations/app-deploys/{event['id']}"
    r = await vigil.client.put(path, headers=FORM, content=b"description=Deployed git SHA 601060a68ff2e&end_time=1300")
    assert r.status_code == 204 and r.content == b""
    got = (await vigil.client.get(path)).json()
    assert got["description"] == "Deployed git SHA 601060a68ff2e" and got["end_time"] == 1300
    assert (await vigil.client.put(path, json={"end_time": 999})).status_code == 400
    assert (await vigil.client.put(path, json={"title": ""})).status_code == 400
    assert (await vigil.client.get(path)).json() == got
    r = await vigil.client.post(f"{path}/links", headers=FORM,
                                content=b"rel=github&label=Github Commit&href=https://github.com/acme/app/commits/01beaf")
    assert r.status_code == 201
    assert r.headers["location"] == f"{path}/links/github"
    assert r.json() == {"rel": "github", "label": "Github Commit", "href": "https://github.com/acme/app/commits/01beaf"}
    r = await vigil.client.post(f"{path}/links", json={"rel": "github", "href": "https://elsewhere"})
    assert r.status_code == 422 and "rel" in r.json()["errors"]["params"]
    assert (await vigil.client.post(f"{path}/links", json={"rel": "ci"})).status_code == 400
    assert [link["rel"] for link in (await vigil.client.get(path)).json()["links"]] == ["github"]
    assert (await vigil.client.delete(f"{path}/links/github")).status_code == 204
    assert (await vigil.client.delete(f"{path}/links/github")).status_code == 404
    assert (await vigil.client.get(path)).json()["links"] == []
    await vigil.client.put(path, json={"links": [{"rel": "a", "href": "h"}]})
    assert (await vigil.client.get(path)).json()["links"] == [{"rel": "a", "label": None, "href": "h"}]
    assert (await vigil.client.get("/v1/annotations/other-stream/" + str(event["id"]))).status_code == 404
    assert (await vigil.client.delete(path)).status_code == 204
    assert (await vigil.client.get(path)).status_code == 404


async def test_deleting_a_stream_deletes_its_events(vigil: Vigil) -> None:
    event = await post(vigil, "gone", title="t")
    assert (await vigil.client.delete("/v1/annotations/gone")).status_code == 204
    assert (await vigil.client.get(f"/v1/annotations/gone/{event['id']}")).status_code == 404
    assert (await vigil.client.delete("/v1/annotations/gone")).status_code == 404
    # A new stream of the same name starts empty.
    await post(vigil, "gone", title="again", start_time=5)
    assert [e["title"] for e in (await vigil.client.get("/v1/annotations/gone")).json()["events"][0]["unassigned"]] \
        == ["again"]


async def test_stream_update_and_list_search(vigil: Vigil) -> None:
    for name in ("api-deploys", "app-deploys", "batch"):
        await post(vigil, name, title="t")
    assert (await vigil.client.put("/v1/annotations/api-deploys", json={"name": "other"})).status_code == 400
    assert (await vigil.client.put("/v1/annotations/missing", json={"display_name": "x"})).status_code == 404
    body = (await vigil.client.get("/v1/annotations", params={"name": "deploys", "length": 1, "offset": 1})).json()
    assert body == {"query": {"found": 2, "length": 1, "offset": 1, "total": 3},
                    "annotations": [{"name": "app-deploys", "display_name": None}]}


async def test_recorder_posts_events_but_cannot_read_or_delete(vigil: Vigil) -> None:
    async with vigil.as_token(await vigil.token(Role.RECORDER)) as recorder:
        r = await recorder.post("/v1/annotations/jobs", json={"title": "batch", "start_time": 100})
        assert r.status_code == 201
        path = f"/v1/annotations/jobs/{r.json()['id']}"
        assert (await recorder.put(path, json={"end_time": 400})).status_code == 204
        assert (await recorder.post(f"{path}/links", json={"rel": "log", "href": "h"})).status_code == 201
        for method, url in (("GET", "/v1/annotations"), ("GET", "/v1/annotations/jobs"), ("GET", path),
                            ("DELETE", path), ("DELETE", "/v1/annotations/jobs"), ("PUT", "/v1/annotations/jobs")):
            assert (await recorder.request(method, url)).status_code == 403, (method, url)


async def test_event_limit(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(annotation_max_events=3)
    for t in range(4):
        await post(vigil, "many", title=str(t), start_time=100 + t)
    r = await vigil.client.get("/v1/annotations/many")
    assert r.status_code == 400 and "more than 3 events" in r.json()["errors"]["params"]["start_time"][0]
    r = await vigil.client.get("/v1/annotations/many", params={"start_time": 101})
    assert [e["title"] for e in r.json()["events"][0]["unassigned"]] == ["1", "2", "3"]
