"""`vigil run`'s shipper: a bounded buffer that drops the oldest lines and says so with the L10 notice."""

from __future__ import annotations

import httpx

from tests.conftest import ADMIN, Vigil
from vigil.logs.model import STDERR, STDOUT
from vigil.logs.runner import RunOptions, Shipper


def client_for(vigil: Vigil, token: str = ADMIN) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=vigil.client._transport, base_url="http://vigil.test", auth=(token, ""))


async def test_a_full_buffer_drops_the_oldest_lines_and_ships_a_notice(vigil: Vigil) -> None:
    options = RunOptions(app="shipped", server="http://vigil.test", token=ADMIN, buffer_lines=3, batch_lines=2)
    async with client_for(vigil) as client:
        shipper = Shipper(options, client)
        for i in range(10):
            shipper.add(STDERR if i == 9 else STDOUT, f"line {i}")
        assert shipper.pending == 3 and shipper.dropped == 7
        shipper.start()
        await shipper.close(wait=10)
    assert shipper.shipped == 4  # the notice and the 3 newest lines, in batches of 2
    lines = vigil.services.logs.ring.last("shipped", 10)
    notice, *rest = lines
    assert (notice.source, notice.instance) == ("vigil", "run")
    assert notice.message.startswith("Error L10 (output buffer overflow): 7 messages dropped since ")
    assert [(x.message, x.stream, x.source, x.instance) for x in rest] == [
        ("line 7", STDOUT, "app", "web.1"), ("line 8", STDOUT, "app", "web.1"), ("line 9", STDERR, "app", "web.1")]


async def test_refused_batches_are_dropped_and_counted(vigil: Vigil) -> None:
    options = RunOptions(app="refused", server="http://vigil.test", token="nope")
    async with client_for(vigil, "not-a-token") as client:
        shipper = Shipper(options, client)
        shipper.add(STDOUT, "x")
        shipper.start()
        await shipper.close(wait=10)
    assert shipper.refused == 1 and shipper.shipped == 0
    assert vigil.services.logs.ring.count("refused") == 0


async def test_closing_with_the_server_away_gives_up_at_once() -> None:
    options = RunOptions(app="away", server="http://127.0.0.1:9", token=None)
    async with httpx.AsyncClient(base_url=options.server, timeout=5) as client:
        shipper = Shipper(options, client)
        shipper.add(STDOUT, "x")
        shipper.start()
        await shipper.close(wait=30)
    assert not shipper.healthy and shipper.shipped == 0
