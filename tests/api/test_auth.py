"""Authentication, roles and rate limits on the /v1 routes."""

from __future__ import annotations

import base64

import httpx

from tests.conftest import ADMIN, Vigil
from vigil.auth.roles import Role

PAYLOAD = {"tags": {"a": "b"}, "measurements": [{"name": "m", "value": 1}]}


async def test_missing_credentials_is_401_with_seed_body(vigil: Vigil) -> None:
    async with vigil.as_token(None) as anonymous:
        r = await anonymous.get("/v1/metrics")
    assert r.status_code == 401
    assert r.json() == {"errors": {"request": ["Please provide credentials for authentication."]}}
    assert r.headers["content-type"] == "application/json"


async def test_unknown_and_inactive_tokens_are_401(vigil: Vigil) -> None:
    inactive = await vigil.token(Role.ADMIN, active=False)
    for secret in ("nope", inactive):
        async with vigil.as_token(secret) as client:
            r = await client.get("/v1/metrics")
        assert r.status_code == 401
        assert r.json()["errors"]["request"]


async def test_token_in_password_field_and_in_url(vigil: Vigil) -> None:
    header = "Basic " + base64.b64encode(f"anything:{ADMIN}".encode()).decode()
    async with vigil.as_token(None) as client:
        r = await client.get("/v1/metrics", headers={"Authorization": header})
        assert r.status_code == 200
        # https://TOKEN:@host: httpx turns URL user info into Basic auth like curl does.
        r = await client.get(f"http://{ADMIN}:@vigil.test/v1/metrics")
        assert r.status_code == 200


async def test_recorder_submits_but_cannot_read(vigil: Vigil) -> None:
    async with vigil.as_token(await vigil.token(Role.RECORDER)) as recorder:
        assert (await recorder.post("/v1/measurements", json=PAYLOAD)).status_code == 202
        for method, path in (("GET", "/v1/metrics"), ("GET", "/v1/metrics/m"),
                             ("GET", "/v1/measurements/m?duration=60&resolution=60"), ("PUT", "/v1/metrics/m"),
                             ("DELETE", "/v1/metrics/m"), ("GET", "/metrics")):
            r = await recorder.request(method, path)
            assert r.status_code == 403, (method, path)
            assert r.json()["errors"]["request"]


async def test_viewer_reads_but_cannot_write(vigil: Vigil) -> None:
    await vigil.post_measurements(PAYLOAD)
    async with vigil.as_token(await vigil.token(Role.VIEWER)) as viewer:
        assert (await viewer.get("/v1/metrics/m")).status_code == 200
        assert (await viewer.get("/v1/measurements/m", params={"duration": 60, "resolution": 60})).status_code == 200
        assert (await viewer.get("/metrics")).status_code == 200
        for method, path in (("POST", "/v1/measurements"), ("PUT", "/v1/metrics/m"), ("DELETE", "/v1/metrics/m"),
                             ("PUT", "/v1/metrics"), ("DELETE", "/v1/metrics")):
            r = await viewer.request(method, path, json=PAYLOAD if method == "POST" else None)
            assert r.status_code == 403, (method, path)
    assert (await vigil.client.get("/v1/metrics/m")).status_code == 200  # nothing was deleted


async def test_rate_limit_headers_and_429(start_vigil) -> None:
    vigil = await start_vigil(rate_limit_std=3, rate_limit_agg=100)
    responses = [await vigil.client.get("/v1/metrics") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    first = responses[0].headers["X-Librato-RateLimit-Std"]
    assert first.startswith("limit=3,remaining=2,reset=")
    assert responses[0].headers["X-Librato-RateLimit-Agg"].startswith("limit=100,remaining=99,reset=")
    limited = responses[3]
    assert set(limited.json()) == {"request_time", "error"}
    assert limited.headers["X-Librato-RateLimit-Std"].startswith("limit=3,remaining=0,")
    # Another token has its own standard quota.
    async with vigil.as_token(await vigil.token(Role.ADMIN)) as other:
        assert (await other.get("/v1/metrics")).status_code == 200


async def test_aggregate_rate_limit_spans_tokens(start_vigil) -> None:
    vigil = await start_vigil(rate_limit_std=100, rate_limit_agg=2)
    assert (await vigil.client.get("/v1/metrics")).status_code == 200
    async with vigil.as_token(await vigil.token(Role.ADMIN)) as other:
        assert (await other.get("/v1/metrics")).status_code == 200
        assert (await other.get("/v1/metrics")).status_code == 429


async def test_unknown_route_and_method_use_the_error_format(vigil: Vigil) -> None:
    r = await vigil.client.get("/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["errors"]["request"]
    r = await vigil.client.patch("/v1/metrics")
    assert r.status_code == 405
    assert r.json()["errors"]["request"]


async def test_healthz_needs_no_token_and_metrics_counts_requests(vigil: Vigil) -> None:
    async with httpx.AsyncClient(transport=vigil.client._transport, base_url="http://vigil.test") as anonymous:
        r = await anonymous.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    await vigil.post_measurements(PAYLOAD)
    text = (await vigil.client.get("/metrics")).text
    assert 'vigil_http_requests_total{method="POST",route="POST /v1/measurements",status="202"} 1.0' in text
    assert 'vigil_measurements_total{outcome="accepted"} 1.0' in text
    assert "vigil_ingest_pending_rows" in text
    assert "vigil_http_request_duration_seconds_bucket" in text
