"""StackTach's time formats, and parsing notification and query times."""

from __future__ import annotations

import pytest

from vigil.events.timefmt import TimeFormatError, parse_timestamp, parse_unixtime, sec_to_str, sec_to_time, when_text


@pytest.mark.parametrize(("us", "text"), [
    (55_500_000, "0d 00:00:55.50"),
    (851_710_000, "0d 00:14:11.71"),
    (20_000_000, "0d 00:00:20.00"),
    (66_079_999, "0d 00:01:06.07"),  # hundredths are cut, not rounded
    ((5 * 86_400 + 20 * 3_600 + 16 * 60 + 47) * 1_000_000 + 80_000, "5d 20:16:47.08"),
    (-2_500_000, "-0d 00:00:02.50"),
])
def test_sec_to_time(us: int, text: str) -> None:
    assert sec_to_time(us) == text


def test_sec_to_time_whole_seconds() -> None:
    assert sec_to_time(506_999_999, fraction=False) == "0d 00:08:26"


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (5.9, "5s"), (344, "5:44s"), (65, "1:05s"),
                                               (3_723, "01:02:03")])
def test_sec_to_str(seconds: float, text: str) -> None:
    assert sec_to_str(seconds) == text


def test_when_text_leaves_out_zero_microseconds() -> None:
    assert when_text(1_389_713_962_574_829) == "2014-01-14 15:39:22.574829"
    assert when_text(1_389_713_962_000_000) == "2014-01-14 15:39:22"


@pytest.mark.parametrize("text", ["2014-01-14 15:39:22.574829", "2014-01-14T15:39:22.574829",
                                  "2014-01-14T15:39:22.574829Z", "2014-01-14T16:39:22.574829+01:00"])
def test_parse_timestamp(text: str) -> None:
    assert parse_timestamp(text) == 1_389_713_962_574_829


@pytest.mark.parametrize("text", ["", "yesterday", "2014-13-01 00:00:00"])
def test_parse_timestamp_rejects(text: str) -> None:
    with pytest.raises(TimeFormatError):
        parse_timestamp(text)


def test_parse_unixtime() -> None:
    assert parse_unixtime("1389713962.574829") == 1_389_713_962_574_829
    assert parse_unixtime("1.1") == 1_100_000
    for bad in ("NaN", "inf", "1e30", "x"):
        with pytest.raises(TimeFormatError):
            parse_unixtime(bad)
