"""Charts: create, read, list (bare array), update, replace streams, delete; every stream rule."""

from __future__ import annotations

import pytest

from tests.conftest import StartVigil, Vigil

SEED_STREAMS = [{"metric": "cpu.percent.idle", "tags": [{"name": "environment", "values": ["*"]}]},
                {"metric": "cpu.percent.user", "tags": [{"name": "environment", "values": ["prod"]}]}]
COMPOSITE = ('divide([sum(s("librato.cpu.percent.idle",{"environment":"*"})),'
             'sum(s("librato.cpu.percent.user",{"environment":"*"}))])')


async def space(vigil: Vigil, name: str = "space") -> int:
    return (await vigil.client.post("/v1/spaces", json={"name": name})).json()["id"]


async def chart(vigil: Vigil, space_id: int, **body: object) -> dict:
    r = await vigil.client.post(f"/v1/spaces/{space_id}/charts", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_the_seed_line_chart(vigil: Vigil) -> None:
    space_id = await space(vigil)
    await vigil.client.put("/v1/metrics/cpu.percent.idle", json={"type": "gauge"})
    r = await vigil.client.post(f"/v1/spaces/{space_id}/charts",
                                json={"type": "line", "name": "CPU Usage", "streams": SEED_STREAMS})
    assert r.status_code == 201
    assert r.headers["location"] == f"/v1/spaces/{space_id}"
    body = r.json()
    ids = [s["id"] for s in body["streams"]]
    assert len(set(ids)) == 2
    assert body == {"id": body["id"], "name": "CPU Usage", "type": "line", "thresholds": None, "streams": [
        {"id": ids[0], "metric": "cpu.percent.idle", "type": "gauge",
         "tags": [{"name": "environment", "values": ["*"]}]},
        {"id": ids[1], "metric": "cpu.percent.user", "type": "gauge",
         "tags": [{"name": "environment", "values": ["prod"]}]}]}
    assert (await vigil.client.get(f"/v1/spaces/{space_id}/charts/{body['id']}")).json() == body
    assert (await vigil.client.get(f"/v1/spaces/{space_id}/charts")).json() == [body]
    assert (await vigil.client.get(f"/v1/spaces/{space_id}")).json()["charts"] == [{"id": body["id"]}]


async def test_every_stream_property_is_kept(vigil: Vigil) -> None:
    space_id = await space(vigil)
    stream = {"metric": "temp", "tags": [{"name": "region", "values": ["us-*", "!us-west-2"], "grouped": True},
                                         {"name": "@host", "dynamic": True}],
              "group_function": "breakout", "summary_function": "max", "downsample_function": "sum",
              "color": "#52D74C", "name": "Temperature", "units_short": "C", "units_long": "Celsius",
              "min": 0, "max": 100.5, "transform_function": "(x-32)*5/9", "period": 60, "split_axis": True}
    body = await chart(vigil, space_id, name="t", type="stacked", min=-1, max=10, label="deg",
                       related_space=space_id, use_log_yaxis=False, streams=[stream])
    assert body["streams"][0] == {"id": body["streams"][0]["id"], "type": "gauge", **stream}
    assert {k: body[k] for k in ("min", "max", "label", "related_space", "use_log_yaxis")} == {
        "min": -1, "max": 10, "label": "deg", "related_space": space_id, "use_log_yaxis": False}


async def test_bignumber_thresholds(vigil: Vigil) -> None:
    space_id = await space(vigil)
    thresholds = [{"operator": ">", "value": 90, "type": "red"}, {"operator": "=", "value": 50.5, "type": "yellow"}]
    body = await chart(vigil, space_id, name="CPU Usage", type="bignumber", thresholds=thresholds,
                       streams=[{"metric": "cpu.percent.user", "tags": [{"name": "environment", "values": ["prod"]}]}])
    assert body["thresholds"] == thresholds and body["type"] == "bignumber"
    # The official client's add_bignumber_chart sends no thresholds: accepted, no colouring.
    body = await chart(vigil, space_id, name="plain", type="bignumber", use_last_value=True,
                       streams=[{"metric": "m", "source": "*", "group_function": "average",
                                 "summary_function": "average"}])
    assert body["thresholds"] is None and body["use_last_value"] is True
    for bad in ([{"operator": ">=", "value": 1, "type": "red"}], [{"operator": ">", "value": "x", "type": "red"}],
                [{"operator": ">", "type": "red"}], [{"operator": ">", "value": 1, "type": "green"}], "red",
                [{"operator": ">", "value": 1, "type": "red"}] * 11):
        r = await vigil.client.post(f"/v1/spaces/{space_id}/charts",
                                    json={"name": "b", "type": "bignumber", "thresholds": bad, "streams": []})
        assert r.status_code == 400, bad
        assert any(k.startswith("thresholds") for k in r.json()["errors"]["params"]), r.json()
    assert len((await vigil.client.get(f"/v1/spaces/{space_id}/charts")).json()) == 2


async def test_composite_stream(vigil: Vigil) -> None:
    space_id = await space(vigil)
    body = await chart(vigil, space_id, name="c", streams=[{"composite": COMPOSITE}])
    assert body["streams"] == [{"id": body["streams"][0]["id"], "composite": COMPOSITE, "type": "composite"}]


@pytest.mark.parametrize(("stream", "field"), [
    ({}, "streams.0.metric"),
    ({"metric": "bad name!"}, "streams.0.metric"),
    ({"metric": "m", "composite": COMPOSITE}, "streams.0.composite"),
    ({"composite": COMPOSITE, "tags": [{"name": "a", "values": ["b"]}]}, "streams.0.tags"),
    ({"composite": COMPOSITE, "group_function": "sum"}, "streams.0.group_function"),
    ({"composite": "sum(s(\"cpu\", \"*\")"}, "streams.0.composite"),
    ({"composite": "nosuch(s(\"cpu\"))"}, "streams.0.composite"),
    ({"metric": "m", "group_function": "median"}, "streams.0.group_function"),
    ({"metric": "m", "summary_function": "mean"}, "streams.0.summary_function"),
    ({"metric": "m", "downsample_function": "last"}, "streams.0.downsample_function"),
    ({"metric": "m", "color": "red"}, "streams.0.color"),
    ({"metric": "m", "color": "#52D74"}, "streams.0.color"),
    ({"metric": "m", "transform_function": "x*x"}, "streams.0.transform_function"),
    ({"metric": "m", "transform_function": "__import__('os')"}, "streams.0.transform_function"),
    ({"metric": "m", "transform_function": "1/x"}, "streams.0.transform_function"),
    ({"metric": "m", "period": 0}, "streams.0.period"),
    ({"metric": "m", "period": "soon"}, "streams.0.period"),
    ({"metric": "m", "min": 5, "max": 1}, "streams.0.min"),
    ({"metric": "m", "max": "lots"}, "streams.0.max"),
    ({"metric": "m", "name": ["x"]}, "streams.0.name"),
    ({"metric": "m", "source": "web1"}, "streams.0.source"),
    ({"metric": "m", "tags": "region"}, "streams.0.tags"),
    ({"metric": "m", "tags": [{"name": "region"}]}, "streams.0.tags.0.values"),
    ({"metric": "m", "tags": [{"name": "re gion", "values": ["a"]}]}, "streams.0.tags.0.name"),
    ({"metric": "m", "tags": [{"name": "r", "values": ["a{b}"]}]}, "streams.0.tags.0.values"),
    ({"metric": "m", "tags": [{"name": "r", "values": []}]}, "streams.0.tags.0.values"),
    ({"metric": "m", "tags": [{"name": "r", "values": ["a"], "grouped": "maybe"}]}, "streams.0.tags.0.grouped"),
    ({"metric": "m", "tags": [{"name": "r", "values": ["a"]}, {"name": "R", "values": ["b"]}]},
     "streams.0.tags.1.name"),
])
async def test_bad_streams_are_400_and_store_nothing(vigil: Vigil, stream: dict, field: str) -> None:
    space_id = await space(vigil)
    r = await vigil.client.post(f"/v1/spaces/{space_id}/charts", json={"name": "c", "streams": [{"metric": "ok"},
                                                                                                 stream]})
    assert r.status_code == 400
    params = r.json()["errors"]["params"]
    assert field.replace("streams.0", "streams.1") in params, params
    assert (await vigil.client.get(f"/v1/spaces/{space_id}/charts")).json() == []


async def test_bad_chart_properties(vigil: Vigil) -> None:
    space_id = await space(vigil)
    for body, field in (({"streams": []}, "name"), ({"name": "c", "type": "pie"}, "type"),
                        ({"name": "c", "min": 10, "max": 1}, "min"),
                        ({"name": "c", "related_space": 999}, "related_space"),
                        ({"name": "c", "use_log_yaxis": "perhaps"}, "use_log_yaxis"),
                        ({"name": "c", "streams": {"metric": "m"}}, "streams")):
        r = await vigil.client.post(f"/v1/spaces/{space_id}/charts", json=body)
        assert r.status_code == 400, body
        assert field in r.json()["errors"]["params"], r.json()
    assert (await vigil.client.post("/v1/spaces/999/charts", json={"name": "c"})).status_code == 404
    assert (await vigil.client.get(f"/v1/spaces/{space_id}/charts")).json() == []


async def test_form_body(vigil: Vigil) -> None:
    space_id = await space(vigil)
    form = (b"name=Form&type=stacked&streams[0][metric]=cpu&streams[0][tags][0][name]=region"
            b"&streams[0][tags][0][values][]=us-east&streams[0][tags][0][values][]=us-west&streams[0][period]=60"
            b"&streams[1][composite]=s(%22mem%22%2C%22*%22)&min=0")
    r = await vigil.client.post(f"/v1/spaces/{space_id}/charts", content=form,
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["streams"][0]["tags"] == [{"name": "region", "values": ["us-east", "us-west"]}]
    assert body["streams"][0]["period"] == 60 and body["min"] == 0
    assert body["streams"][1]["composite"] == 's("mem","*")'


async def test_update_and_replace_streams(vigil: Vigil) -> None:
    space_id = await space(vigil)
    body = await chart(vigil, space_id, name="CPU Usage", streams=SEED_STREAMS)
    path = f"/v1/spaces/{space_id}/charts/{body['id']}"
    r = await vigil.client.put(path, json={"type": "line", "name": "Temperature"})
    assert r.status_code == 200
    assert r.json() == {**body, "name": "Temperature"}
    # The seed: a POST to the chart with streams replaces them.
    r = await vigil.client.post(path, json={"type": "line", "streams": [{"composite": COMPOSITE}]})
    assert r.status_code == 200
    streams = r.json()["streams"]
    assert len(streams) == 1 and streams[0]["composite"] == COMPOSITE
    assert streams[0]["id"] not in [s["id"] for s in body["streams"]]
    assert (await vigil.client.get(path)).json()["streams"] == streams
    r = await vigil.client.put(path, json={"streams": [{"metric": "x", "color": "blue"}]})
    assert r.status_code == 400
    assert (await vigil.client.get(path)).json()["streams"] == streams


async def test_streams_sent_back_by_id_keep_id_and_tags(vigil: Vigil) -> None:
    space_id = await space(vigil)
    body = await chart(vigil, space_id, name="c", streams=SEED_STREAMS)
    path = f"/v1/spaces/{space_id}/charts/{body['id']}"
    # What the official client sends when it saves a chart it read: no tags, source "*", type, id.
    sent = [{"id": s["id"], "metric": s["metric"], "type": "gauge", "source": "*"} for s in body["streams"]]
    sent[1]["color"] = "#000000"
    r = await vigil.client.put(path, json={"name": "c", "type": "line", "streams": [*sent, {"metric": "new"}]})
    assert r.status_code == 200
    streams = r.json()["streams"]
    assert streams[:2] == [body["streams"][0], {**body["streams"][1], "color": "#000000"}]
    assert streams[2]["tags"] == [] and streams[2]["id"] not in (s["id"] for s in body["streams"])


async def test_delete_chart(vigil: Vigil) -> None:
    a, b = await space(vigil, "a"), await space(vigil, "b")
    body = await chart(vigil, a, name="c", streams=[])
    assert (await vigil.client.get(f"/v1/spaces/{b}/charts/{body['id']}")).status_code == 404
    assert (await vigil.client.delete(f"/v1/spaces/{b}/charts/{body['id']}")).status_code == 404
    assert (await vigil.client.delete(f"/v1/spaces/{a}/charts/{body['id']}")).status_code == 204
    assert (await vigil.client.get(f"/v1/spaces/{a}/charts/{body['id']}")).status_code == 404
    assert (await vigil.client.get(f"/v1/spaces/{a}")).json()["charts"] == []


async def test_limits(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(max_charts_per_space=2, max_streams_per_chart=3)
    space_id = await space(vigil)
    r = await vigil.client.post(f"/v1/spaces/{space_id}/charts", json={"name": "c", "streams": [{"metric": "m"}] * 4})
    assert r.status_code == 400 and r.json()["errors"]["params"]["streams"] == ["may hold at most 3 streams"]
    await chart(vigil, space_id, name="1", streams=[{"metric": "m"}] * 3)
    await chart(vigil, space_id, name="2")
    r = await vigil.client.post(f"/v1/spaces/{space_id}/charts", json={"name": "3"})
    assert r.status_code == 400 and r.json() == {"errors": {"request": ["A space holds at most 2 charts"]}}
    assert len((await vigil.client.get(f"/v1/spaces/{space_id}/charts")).json()) == 2
