"""HTTPS (and HTTP) drains against a real receiver (uvicorn, self-signed certificate): logplex-1 framing,
Logplex's headers, basic auth, batching, and what each answer leads to."""

from __future__ import annotations

import base64
import re

from tests.conftest import StartVigil, Vigil
from tests.drains.conftest import FAST, HttpReceiver, SelfSigned, add_drain, eventually, post_lines
from vigil.logs.logplex import parse_logplex_body

T = 1_700_000_000  # 2023-11-14T22:13:20Z


def logplex_frame(token: str, text: str) -> bytes:
    """An octet-counted logplex-1 frame: no STRUCTURED-DATA, the drain token as HOSTNAME."""
    pri, ts, rest = text.split(" ", 2)
    body = f"{pri} {ts} {token} {rest}".encode()
    return b"%d %b" % (len(body), body)


async def test_logplex_batches_headers_and_basic_auth(fast_vigil: Vigil, https_receiver: HttpReceiver,
                                                      cert: SelfSigned) -> None:
    url = f"https://drain-user:pa%24%24word@localhost:{https_receiver.port}/logs?source=vigil"
    drain = await add_drain(fast_vigil.client, url, tls_ca=cert.pem)
    assert drain["url"] == f"https://drain-user:***@localhost:{https_receiver.port}/logs?source=vigil"
    token = drain["token"]
    await post_lines(fast_vigil.client, [
        {"app": "web", "message": "GET / 200", "instance": "web.1", "time": T},
        {"app": "web", "message": "oops", "stream": "stderr", "source": "worker", "instance": "worker.2",
         "time": T + 0.5},
    ])
    await eventually(lambda: https_receiver.requests)
    [req] = https_receiver.requests
    assert (req.method, req.path) == ("POST", "/logs?source=vigil")
    assert req.headers["content-type"] == "application/logplex-1"
    assert req.headers["logplex-msg-count"] == "2"
    assert re.fullmatch(r"[0-9A-F]{32}", req.headers["logplex-frame-id"])
    assert req.headers["logplex-drain-token"] == token
    assert req.headers["user-agent"].startswith("Logplex/vigil-")
    assert req.headers["authorization"] == "Basic " + base64.b64encode(b"drain-user:pa$$word").decode()
    assert req.body == (logplex_frame(token, "<14>1 2023-11-14T22:13:20+00:00 app web.1 - GET / 200\n")
                        + logplex_frame(token, "<11>1 2023-11-14T22:13:20.5+00:00 worker worker.2 - oops\n"))
    assert len(parse_logplex_body(req.body, req.headers["logplex-msg-count"])) == 2
    worker = fast_vigil.services.drains.workers[drain["id"]]
    await eventually(lambda: worker.stats.delivered == 2)
    assert (worker.stats.delivered, worker.stats.retries, worker.stats.rejected) == (2, 0, 0)


async def test_plain_http_drain(fast_vigil: Vigil, http_receiver: HttpReceiver) -> None:
    drain = await add_drain(fast_vigil.client, f"http://127.0.0.1:{http_receiver.port}")
    await post_lines(fast_vigil.client, [{"app": "web", "message": "hi", "time": T}])
    await eventually(lambda: http_receiver.requests)
    [req] = http_receiver.requests
    assert req.path == "/" and "authorization" not in req.headers
    assert req.body == logplex_frame(drain["token"], "<14>1 2023-11-14T22:13:20+00:00 app - - hi\n")


async def test_batches_stay_under_the_target(start_vigil: StartVigil, http_receiver: HttpReceiver) -> None:
    vigil = await start_vigil(**{**FAST, "drain_http_batch_bytes": 1_000, "drain_http_linger": 0.5})
    await add_drain(vigil.client, f"http://127.0.0.1:{http_receiver.port}")
    await post_lines(vigil.client, [{"app": "web", "message": f"{i:03d} " + "x" * 96, "time": T} for i in range(30)])
    await eventually(lambda: sum(int(r.headers["logplex-msg-count"]) for r in http_receiver.requests) == 30)
    frames = [f for r in http_receiver.requests for f in parse_logplex_body(r.body, r.headers["logplex-msg-count"])]
    assert [f.split(b" ", 6)[6][:3] for f in frames] == [f"{i:03d}".encode() for i in range(30)]
    # A frame: "<14>1 " 6 + time 25 + SP + token 38 + " app - - " 9 + message 100 + LF = 180, and "180 "
    # in front: 184 bytes. Five make 920; a sixth would pass 1,000.
    assert [len(r.body) for r in http_receiver.requests] == [920] * 6
    assert len({r.headers["logplex-frame-id"] for r in http_receiver.requests}) == 6


async def test_5xx_and_429_are_retried_with_the_same_frame_id(fast_vigil: Vigil, http_receiver: HttpReceiver) -> None:
    http_receiver.answers = [503, (429, {"Retry-After": "0"}), 502, 204]
    drain = await add_drain(fast_vigil.client, f"http://127.0.0.1:{http_receiver.port}/in")
    await post_lines(fast_vigil.client, [{"app": "web", "message": "retry me", "time": T}])
    worker = fast_vigil.services.drains.workers[drain["id"]]
    await eventually(lambda: worker.stats.delivered == 1)
    assert len(http_receiver.requests) == 4
    assert len({r.headers["logplex-frame-id"] for r in http_receiver.requests}) == 1
    assert len({r.body for r in http_receiver.requests}) == 1
    assert (worker.stats.retries, worker.stats.failed, worker.stats.rejected) == (3, 0, 0)


async def test_4xx_is_dropped_and_counted(fast_vigil: Vigil, http_receiver: HttpReceiver) -> None:
    http_receiver.answers = [400]
    drain = await add_drain(fast_vigil.client, f"http://127.0.0.1:{http_receiver.port}/in")
    worker = fast_vigil.services.drains.workers[drain["id"]]
    await post_lines(fast_vigil.client, [{"app": "web", "message": "bad", "time": T}] * 3)
    await eventually(lambda: worker.stats.rejected == 3)
    await post_lines(fast_vigil.client, [{"app": "web", "message": "good", "time": T}])
    await eventually(lambda: worker.stats.delivered == 1)
    assert [r.headers["logplex-msg-count"] for r in http_receiver.requests] == ["3", "1"]
    first, second = http_receiver.requests
    assert first.headers["logplex-frame-id"] != second.headers["logplex-frame-id"]
    assert worker.stats.retries == 0
    metrics = (await fast_vigil.client.get("/metrics")).text
    assert f'vigil_log_drain_lines_total{{drain="{drain["id"]}",outcome="rejected"}} 3.0' in metrics


async def test_attempts_are_bounded(start_vigil: StartVigil, http_receiver: HttpReceiver) -> None:
    vigil = await start_vigil(**{**FAST, "drain_http_attempts": 3})
    http_receiver.answers = [500, 500, 500]
    drain = await add_drain(vigil.client, f"http://127.0.0.1:{http_receiver.port}/in")
    worker = vigil.services.drains.workers[drain["id"]]
    await post_lines(vigil.client, [{"app": "web", "message": "lost", "time": T}] * 2)
    await eventually(lambda: worker.stats.failed == 2)
    assert len(http_receiver.requests) == 3 and worker.stats.retries == 2
    await post_lines(vigil.client, [{"app": "web", "message": "next", "time": T}])
    await eventually(lambda: worker.stats.delivered == 1)


async def test_a_long_answer_is_not_read_to_its_end(start_vigil: StartVigil, http_receiver: HttpReceiver) -> None:
    vigil = await start_vigil(**{**FAST, "drain_http_response_bytes": 1_000})
    http_receiver.body = b"x" * 5_000_000
    drain = await add_drain(vigil.client, f"http://127.0.0.1:{http_receiver.port}/in")
    worker = vigil.services.drains.workers[drain["id"]]
    for i in range(3):
        await post_lines(vigil.client, [{"app": "web", "message": f"batch {i}", "time": T}])
        await eventually(lambda i=i: worker.stats.delivered == i + 1)
    assert len(http_receiver.requests) == 3 and worker.stats.retries == 0


async def test_certificate_verification(fast_vigil: Vigil, https_receiver: HttpReceiver) -> None:
    client = fast_vigil.client
    untrusted = await add_drain(client, f"https://localhost:{https_receiver.port}/a", owner="/apps/a")
    skipping = await add_drain(client, f"https://localhost:{https_receiver.port}/b", owner="/apps/b",
                               tls_skip_verify=True)
    workers = fast_vigil.services.drains.workers
    await post_lines(client, [{"app": a, "message": "m", "time": T} for a in ("a", "b")])
    await eventually(lambda: workers[skipping["id"]].stats.delivered == 1)
    await eventually(lambda: workers[untrusted["id"]].stats.retries >= 2)
    assert workers[untrusted["id"]].stats.delivered == 0
    assert [r.path for r in https_receiver.requests] == ["/b"]
