"""Bounded caches and counters of the auth layer, and the bracket parameter parser."""

from __future__ import annotations

import pytest

from vigil.api.params import MAX_PARAMS, ParamSyntaxError, nest, parse_query
from vigil.auth.ratelimit import RateLimiter


def test_rate_limiter_window_resets() -> None:
    limiter = RateLimiter(std_limit=2, agg_limit=10, window=60)
    assert [limiter.hit(1, now=120.0)[2] for _ in range(3)] == [True, True, False]
    std, agg, allowed = limiter.hit(1, now=180.0)
    assert allowed and std.remaining == 1 and std.reset == 240 and agg.remaining == 9


def test_rate_limiter_tracks_a_bounded_number_of_tokens() -> None:
    limiter = RateLimiter(std_limit=5, agg_limit=100, window=60, max_tokens=2)
    assert limiter.hit(1, now=0)[2] and limiter.hit(2, now=0)[2]
    assert not limiter.hit(3, now=0)[2]
    assert limiter.hit(3, now=60)[2]  # a new window starts over


def test_bracket_parameters() -> None:
    assert nest([("names[]", "a"), ("names[]", "b"), ("period", "60")]) == {"names": ["a", "b"], "period": "60"}
    assert nest([("attributes[display_max]", "150")]) == {"attributes": {"display_max": "150"}}
    assert parse_query("tags%5Bregion%5D=us-*&tags%5Bregion%5D=eu&tags%5Bname%5D=prod") == {
        "tags": {"region": ["us-*", "eu"], "name": "prod"}}
    assert nest([("a[b][c]", "1")]) == {"a": {"b": {"c": "1"}}}
    assert nest([("tags[!host]", "")]) == {"tags": {"!host": ""}}


def test_parameter_count_is_bounded() -> None:
    with pytest.raises(ParamSyntaxError):
        nest([("k", "v")] * (MAX_PARAMS + 1))
    with pytest.raises(ValueError):
        parse_query("&".join(["k=v"] * (MAX_PARAMS + 1)))
