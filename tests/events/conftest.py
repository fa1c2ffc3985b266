"""Fixtures of the events tests: a server holding the notification fixture set, and a real RabbitMQ."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import StartVigil, Vigil
from tests.events import fixtures
from tests.events.rabbit import Broker, broker_or_skip

# The fixture set is from 2014: keep it past the default 90-day retention.
KEEP = 30 * 365 * 86_400


@pytest.fixture
async def loaded(start_vigil: StartVigil) -> Vigil:
    vigil = await start_vigil(events_retention=KEEP)
    await fixtures.load(vigil.client)
    return vigil


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with broker_or_skip(tmp_path / "rabbit") as running:
        yield running
