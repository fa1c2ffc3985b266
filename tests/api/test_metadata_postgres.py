"""The metadata engine's scale-out form: the same API behaviour on a real PostgreSQL server."""

from __future__ import annotations

import time

from tests.conftest import StartVigil
from vigil.auth.roles import Role

NOW = int(time.time())


async def test_metrics_and_tokens_on_postgresql(start_vigil: StartVigil, postgres_url: str) -> None:
    vigil = await start_vigil(metadata_url=postgres_url)
    r = await vigil.post_measurements({"tags": {"a": "b"}, "measurements": [
        {"name": "pg.metric", "value": 1, "time": NOW, "attributes": {"display_units_short": "ms"}}]})
    assert r.status_code == 202
    r = await vigil.client.put("/v1/metrics/pg.metric", json={"period": 30, "attributes": {"color": "#A0B0C0"}})
    assert r.status_code == 204
    metric = (await vigil.client.get("/v1/metrics/pg.metric")).json()
    assert metric["period"] == 30
    assert metric["attributes"]["display_units_short"] == "ms"
    assert metric["attributes"]["color"] == "#A0B0C0"
    for name in ("pg.a", "pg.b", "other"):
        assert (await vigil.client.put(f"/v1/metrics/{name}", json={"type": "gauge"})).status_code == 201
    body = (await vigil.client.get("/v1/metrics", params={"name": "pg.", "length": 2})).json()
    assert body["query"] == {"found": 3, "length": 2, "offset": 0, "total": 4}
    r = await vigil.client.request("DELETE", "/v1/metrics", json={"names": ["pg.*"][0]})
    assert r.status_code == 204
    assert [m["name"] for m in (await vigil.client.get("/v1/metrics")).json()["metrics"]] == ["other"]
    async with vigil.as_token(await vigil.token(Role.VIEWER)) as viewer:
        assert (await viewer.get("/v1/metrics")).status_code == 200
        assert (await viewer.put("/v1/metrics/other", json={"period": 1})).status_code == 403
