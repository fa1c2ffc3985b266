"""Tier planning: the coarsest tier that divides the resolution and keeps the start; the watermark split."""

from __future__ import annotations

import pytest

from vigil.errors import RequestError
from vigil.metrics.samples import Source
from vigil.metrics.tiers import Tier, plan

DAY = 86400
TIERS = [Tier(3600, "rollup_3600", 365 * DAY), Tier(60, "rollup_60", 30 * DAY), Tier(1, "samples", 7 * DAY)]
NOW = 1_800_000_000


def test_raw_for_fine_resolutions() -> None:
    assert plan(TIERS, NOW - 600, NOW, 10, NOW, NOW) == [Source("samples", NOW - 600, NOW + 1)]
    assert plan(TIERS, NOW - 600, NOW, 90, NOW, NOW) == [Source("samples", NOW - 600, NOW + 1)]


def test_rollup_before_the_watermark_raw_after() -> None:
    start = NOW - 2 * DAY
    watermark = NOW - 125  # floored to the tier: the minute at NOW - 180
    assert plan(TIERS, start, NOW, 60, NOW, watermark) == [
        Source("rollup_60", start, NOW - 180), Source("samples", NOW - 180, NOW + 1)]
    hour = (NOW - 125) - (NOW - 125) % 3600
    assert plan(TIERS, start, NOW, 7200, NOW, watermark) == [
        Source("rollup_3600", start, hour), Source("samples", hour, NOW + 1)]


def test_older_than_raw_retention_needs_a_rollup_resolution() -> None:
    start = NOW - 20 * DAY
    assert plan(TIERS, start, NOW - 19 * DAY, 60, NOW, NOW)[0].table == "rollup_60"
    with pytest.raises(RequestError, match="unavailable"):
        plan(TIERS, start, NOW, 30, NOW, NOW)
    with pytest.raises(RequestError, match="unavailable"):
        plan(TIERS, NOW - 40 * DAY, NOW, 60, NOW, NOW)
    assert plan(TIERS, NOW - 40 * DAY, NOW - 39 * DAY, 3600, NOW, NOW)[0].table == "rollup_3600"


def test_stale_rollups_fall_back_to_a_finer_tier() -> None:
    # The rollups stopped 10 days ago: raw samples no longer reach back to the watermark.
    assert plan(TIERS, NOW - 3600, NOW, 60, NOW, NOW - 10 * DAY) == [Source("samples", NOW - 3600, NOW + 1)]
