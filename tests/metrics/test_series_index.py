"""The in-memory series index: its vectorised tag filters agree with the filter semantics, it keeps the
output order, and it learns series announced while it loads."""

from __future__ import annotations

import asyncio
import random

import pytest
from tests.conftest import Vigil

from vigil.metrics.series_index import MetricSeries
from vigil.metrics.tagfilter import EVERYTHING, Absent, And, Has, Match, Not, Or, TagFilter, matches

KEYS = ("region", "host", "az", "env")
VALUES = ("us-east", "us-west", "eu", "a", "b", "ab", "x*y", "")


def random_tags(rng: random.Random) -> dict[str, str]:
    return {k: rng.choice(VALUES) for k in KEYS if rng.random() < 0.7}


def random_filter(rng: random.Random, depth: int = 0) -> TagFilter:
    kind = rng.randrange(7 if depth < 3 else 3)
    key = rng.choice((*KEYS, "r*", "*o*", "missing"))
    if kind == 0:
        return Match(key, rng.choice(("us-*", "*", "a", "*b", "eu", "x*y", "*-*")), negate=rng.random() < 0.3)
    if kind == 1:
        return Absent(key)
    if kind == 2:
        return Has(key)
    if kind == 3:
        return And(tuple(random_filter(rng, depth + 1) for _ in range(rng.randrange(3))))
    if kind == 4:
        return Or(tuple(random_filter(rng, depth + 1) for _ in range(rng.randrange(3))))
    if kind == 5:
        return Not(random_filter(rng, depth + 1))
    return EVERYTHING


@pytest.mark.parametrize("seed", range(5))
def test_filters_agree_with_the_filter_semantics(seed: int) -> None:
    rng = random.Random(seed)
    series = {sid: random_tags(rng) for sid in rng.sample(range(1, 10**12), 300)}
    index = MetricSeries(list(series), list(series.values()))
    for _ in range(200):
        f = random_filter(rng)
        selection = index.select(f)
        expected = [sid for sid, tags in sorted(series.items(), key=lambda kv: sorted(kv[1].items()))
                    if matches(f, tags)]
        assert selection.ids.tolist() == expected, f
        assert selection.tags == [series[sid] for sid in expected]
        assert selection.everything == (len(expected) == len(series))


def test_additions_are_deduplicated_and_sorted_in() -> None:
    index = MetricSeries([3, 1], [{"host": "c"}, {"host": "a"}])
    assert index.select(EVERYTHING).ids.tolist() == [1, 3]
    index.add([(2, {"host": "b"}), (1, {"host": "a"})])
    assert len(index) == 3
    assert index.select(Match("host", "*")).ids.tolist() == [1, 2, 3]


async def test_series_announced_while_the_metric_loads_are_kept(vigil: Vigil) -> None:
    await vigil.post_measurements({"measurements": [{"name": "m", "value": 1, "tags": {"host": "a"}}]})
    await vigil.services.writer.sync()
    index = vigil.services.series_index
    loading = asyncio.ensure_future(index.select("m", EVERYTHING))
    await asyncio.sleep(0)  # the load has started and waits for the engine
    assert "m" in index._loading
    index.announce([("m", 42, {"host": "late"}), ("other", 7, {"host": "x"})])
    selection = await loading
    assert selection is not None
    assert [t["host"] for t in selection.tags] == ["a", "late"]
    assert index.held == 2
