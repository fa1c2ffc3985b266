"""The official `appoptics-metrics` client, unchanged, on spaces, charts and annotations of a running server."""

from __future__ import annotations

import appoptics_metrics
import pytest
from appoptics_metrics import exceptions

from tests.e2e.conftest import TOKEN, ServerProcess

pytestmark = pytest.mark.e2e

COMPOSITE = ('divide([sum(s("librato.cpu.percent.idle",{"environment":"*"})),'
             'sum(s("librato.cpu.percent.user",{"environment":"*"}))])')
TAGS = [{"name": "environment", "values": ["prod"]}]


def connect(server: ServerProcess) -> appoptics_metrics.AppOpticsConnection:
    return appoptics_metrics.connect(TOKEN, hostname=server.hostport, protocol="http")


def test_spaces_and_charts(server: ServerProcess) -> None:
    api = connect(server)
    space = api.create_space("CPUs")
    assert space.id and space.name == "CPUs"
    with pytest.raises(exceptions.ClientError) as taken:
        api.create_space("cpus")
    assert taken.value.code == 422
    api.create_space("staging_ops")
    assert [s.name for s in api.list_spaces()] == ["CPUs", "staging_ops"]
    assert [s.name for s in api.list_spaces(name="ops")] == ["staging_ops"]
    found = api.find_space("cpus")
    assert found.id == space.id and found.chart_ids == []

    # The client cannot send a stream's tags (its payload leaves them out): make this chart over HTTP.
    with server.client() as http:
        r = http.post(f"/v1/spaces/{space.id}/charts",
                      json={"name": "CPU Usage", "streams": [{"metric": "cpu.percent.user", "tags": TAGS}]})
        assert r.status_code == 201
    line = api.get_chart(r.json()["id"], space.id)
    assert line.streams[0].tags == TAGS
    single = space.add_single_line_chart("Idle", metric="cpu.percent.idle", group_function="max")
    big = space.add_bignumber_chart("Now", "cpu.percent.user")
    stacked = space.add_stacked_chart("Stack", streams=[{"metric": "a", "color": "#52D74C"}, {"metric": "b"}])
    assert big.type == "bignumber" and big.use_last_value is True
    assert [c.id for c in api.list_charts_in_space(space)] == [line.id, single.id, big.id, stacked.id]
    assert api.get_space(space.id).chart_ids == [line.id, single.id, big.id, stacked.id]
    assert [(s.metric, s.group_function) for s in api.get_chart(single.id, space.id).streams] == [
        ("cpu.percent.idle", "max")]

    # Add a composite stream as the seed shows: the client sends the old stream back without its tags,
    # which the server keeps since the stream comes back with its id.
    chart = api.find_chart("cpu usage", space)
    chart.new_stream(composite=COMPOSITE)
    chart.save()
    chart = api.get_chart(line.id, space.id)
    assert [(s.metric, s.composite, s.type) for s in chart.streams] == [
        ("cpu.percent.user", None, "gauge"), (None, COMPOSITE, "composite")]
    assert chart.streams[0].tags == TAGS
    chart.rename("Temperature")
    assert api.get_chart(line.id, space.id).name == "Temperature"

    space.rename("MEMORY")
    assert api.get_space(space.id).name == "MEMORY"
    api.get_chart(big.id, space).delete()
    assert [c.name for c in api.get_space(space.id).charts()] == ["Temperature", "Idle", "Stack"]
    api.delete_space(space.id)
    with pytest.raises(exceptions.NotFound):
        api.get_space(space.id)
    assert api.find_space("MEMORY") is None


def test_annotations(server: ServerProcess) -> None:
    api = connect(server)
    first = api.post_annotation("app-deploys", title="Deployed v56", source="foo3.bar.com",
                                description="v56 - Fixed typo in page titles", start_time="1234567890")
    second = api.post_annotation("app-deploys", title="My Annotation", start_time="1234567900",
                                 description="Joe deployed v29 to metrics",
                                 links=[{"rel": "github", "href": "https://github.com/appoptics/appoptics-api-ruby"}])
    api.post_annotation("api-deploys", title="api")
    assert [s.name for s in api.list_annotation_streams()] == ["api-deploys", "app-deploys"]
    assert [s.name for s in api.list_annotation_streams(name="app")] == ["app-deploys"]
    stream = api.get_annotation_stream("app-deploys", start_time="1234500000", end_time="1234600000")
    assert stream.name == "app-deploys"
    assert stream.events == [{"foo3.bar.com": [first], "unassigned": [second]}]
    assert second["links"] == [{"rel": "github", "label": None,
                                "href": "https://github.com/appoptics/appoptics-api-ruby"}]
    with pytest.raises(exceptions.BadRequest):
        api.post_annotation("app-deploys", description="no title")
    api.delete_annotation_stream("app-deploys")
    with pytest.raises(exceptions.NotFound):
        api.get_annotation_stream("app-deploys")
