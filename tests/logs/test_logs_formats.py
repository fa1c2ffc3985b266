from __future__ import annotations

import datetime as dt

from vigil.logs.formats import (
    akkeris_tag,
    cf_timestamp,
    format_akkeris,
    format_akkeris_lines,
    format_cf,
    format_cf_legacy,
)
from vigil.logs.logplex import overflow_notice
from vigil.logs.model import STDERR, STDOUT, LogLine

PDT = dt.timezone(dt.timedelta(hours=-7))


def us(iso: str) -> int:
    d = dt.datetime.fromisoformat(iso)
    return (d - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


# ------------------------------------------------------------------------------------------- Akkeris


def test_akkeris_docs_examples() -> None:
    # akkeris/docs architecture/log-drains.md
    app = LogLine(
        "appname-space",
        "app",
        "web.1562910588-cg82f",
        STDOUT,
        us("2018-03-24T01:07:20.987+00:00"),
        "",
        "Entering api.getTheme for user 339910",
    )
    assert format_akkeris(app) == (
        "2018-03-24T01:07:20Z appname-space app[web.1562910588-cg82f]: Entering api.getTheme for user 339910"
    )
    router = LogLine(
        "appname-space",
        "akkeris/router",
        "",
        STDOUT,
        us("2018-03-24T01:07:18+00:00"),
        "",
        "host=appname-space.stack.domain.io fwd=1.1.1.1 method=GET path=/theme status=200 ",
    )
    assert format_akkeris(router) == (
        "2018-03-24T01:07:18Z appname-space akkeris/router: "
        "host=appname-space.stack.domain.io fwd=1.1.1.1 method=GET path=/theme status=200"
    )


def test_akkeris_space_and_trimming() -> None:
    line = LogLine("app", "app", "web.1", STDERR, us("2016-07-19T21:20:22.593+00:00"), "", "\t  message \r\n")
    assert format_akkeris(line, space="space") == "2016-07-19T21:20:22Z app-space app[web.1]: message"
    assert akkeris_tag(line) == "app[web.1]"
    build = LogLine("app-space", "akkeris/build", "", STDOUT, 0, "", "Deploying ... done")
    assert format_akkeris(build) == "1970-01-01T00:00:00Z app-space akkeris/build: Deploying ... done"


def test_akkeris_overflow_notice() -> None:
    line = overflow_notice("app-space", 5, 0, at_us=0)
    assert format_akkeris(line).startswith("1970-01-01T00:00:00Z app-space heroku[logplex]: Error L10 ")


# ------------------------------------------------------------------------------------------- cf CLI


def test_cf_v7_format_matches_cli_test() -> None:
    # cloudfoundry/cli util/ui/log_message_test.go: time.Unix(1468969692, 0) in America/Los_Angeles
    line = LogLine("myapp", "APP/PROC/WEB", "12", STDOUT, 1_468_969_692_000_000, "", "This is a log message\r\n")
    assert format_cf(line, tz=PDT) == "2016-07-19T16:08:12.00-0700 [APP/PROC/WEB/12] OUT This is a log message"
    assert format_cf(line, tz=PDT, indent=True).startswith("   2016-07-19T16:08:12.00-0700 [")


def test_cf_v7_multiline_err_and_utc() -> None:
    line = LogLine("a", "APP/PROC/WEB", "0", STDERR, us("2013-04-05T20:14:58.999999+00:00"), "", "one\r\ntwo\n")
    assert format_cf(line) == (
        "2013-04-05T20:14:58.99+0000 [APP/PROC/WEB/0] ERR one\n2013-04-05T20:14:58.99+0000 [APP/PROC/WEB/0] ERR two"
    )
    assert format_cf(LogLine("a", "STG", "", STDOUT, 0, "", "x")) == "1970-01-01T00:00:00.00+0000 [STG/] OUT x"


def test_cf_timestamp_truncates_and_shifts_zone() -> None:
    # the seed's example line: 2013-04-05 13:14:58 -0700
    assert cf_timestamp(us("2013-04-05T20:14:58.009+00:00"), PDT) == "2013-04-05T13:14:58.00-0700"
    assert cf_timestamp(us("2013-04-05T20:14:58.129+00:00"), PDT) == "2013-04-05T13:14:58.12-0700"
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    assert cf_timestamp(0, ist) == "1970-01-01T05:30:00.00+0530"


def test_cf_legacy_matches_cli_tests() -> None:
    # cloudfoundry/cli cf/api/logs/log_cache_message_test.go
    assert format_cf_legacy(LogLine("a", "STG", "", STDOUT, 0, "", "some-message")) == (
        "1970-01-01T00:00:00.00+0000 [STG]        OUT some-message"
    )
    assert format_cf_legacy(LogLine("a", "STG", "1", STDOUT, 0, "", "some-message")) == (
        "1970-01-01T00:00:00.00+0000 [STG/1]      OUT some-message"
    )
    assert format_cf_legacy(LogLine("a", "APP/PROC/WEB", "0", STDOUT, 0, "", "some-message\r\n")) == (
        "1970-01-01T00:00:00.00+0000 [APP/PROC/WEB/0]OUT some-message"
    )
    assert format_cf_legacy(LogLine("a", "STG", "1", STDERR, 0, "", "some-message1\nsome-message2")) == (
        "1970-01-01T00:00:00.00+0000 [STG/1]      ERR some-message1\n"
        "                                         some-message2"
    )


def test_a_batch_of_akkeris_lines_is_each_line_formatted_and_ended() -> None:
    lines = [LogLine("shop-prod", "app", "web.1", STDOUT, 1_468_963_222_000_000 + i * 400_000, "", f"  m{i} \n")
             for i in range(4)]
    lines.append(LogLine("shop-prod", "akkeris/router", "", STDOUT, 1_468_963_224_000_000, "", "path=/"))
    assert format_akkeris_lines(lines) == "".join(format_akkeris(x) + "\n" for x in lines)
    assert format_akkeris_lines(lines).splitlines()[2:] == [
        "2016-07-19T21:20:22Z shop-prod app[web.1]: m2",  # 22.8 s: the fraction is cut, not rounded
        "2016-07-19T21:20:23Z shop-prod app[web.1]: m3",
        "2016-07-19T21:20:24Z shop-prod akkeris/router: path=/"]
    assert format_akkeris_lines([]) == ""
