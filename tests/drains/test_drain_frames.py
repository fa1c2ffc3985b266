"""What a drain writes, byte for byte, and how long it waits between attempts."""

from __future__ import annotations

import random

import pytest

from vigil.drains import frames
from vigil.drains.backoff import Backoff
from vigil.drains.buffer import Chunk
from vigil.drains.frames import FIELDS_CACHE_MAX, SyslogFramer
from vigil.logs.framing import octet_frame
from vigil.logs.model import LogLine
from vigil.logs.syslog import format_rfc5424

TOKEN = "d.0b9b3c1e-8f2c-4d4e-9a0e-123456789abc"
T = 1_700_000_000_123_456  # 2023-11-14T22:13:20.123456Z


def test_octet_counted_frames_by_hand() -> None:
    framer = SyslogFramer(TOKEN)
    lines = [LogLine("web", "app", "web.1", "stdout", T, "", "GET / 200"),
             LogLine("web", "app", "web.2", "stderr", T + 876_544, "", "boom\n"),
             LogLine("web", "heroku router", "", "stdout", T - 123_456, "", "a\x00b")]
    first = b"<14>1 2023-11-14T22:13:20.123456+00:00 " + TOKEN.encode() + b" app web.1 - - GET / 200\n"
    second = b"<11>1 2023-11-14T22:13:21+00:00 " + TOKEN.encode() + b" app web.2 - - boom\n"
    third = b"<14>1 2023-11-14T22:13:20+00:00 " + TOKEN.encode() + b" heroku-router - - - ab\n"
    assert len(first) == 102 and len(second) == 90 and len(third) == 94
    assert framer.octet_counted(lines) == b"102 " + first + b"90 " + second + b"94 " + third


@pytest.mark.parametrize("line", [
    LogLine("a", "app", "web.1", "stdout", T, "", "plain"),
    LogLine("a", "", "", "stderr", T, "", ""),
    LogLine("a", "APP/PROC/WEB", "0", "stdout", T + 1, "", "héllo ✓ \t tab"),
    LogLine("a", "x" * 60, "y" * 200, "stdout", T, "", "long fields are cut"),
    LogLine("a", "bad\u00e9src", "in st", "stderr", T, "", "ends with newline\n"),
])
def test_frames_are_exactly_format_rfc5424(line: LogLine) -> None:
    framer = SyslogFramer(TOKEN)
    assert framer.message(line) == format_rfc5424(line, hostname=TOKEN)
    assert framer.octet_counted([line, line]) == octet_frame(format_rfc5424(line, hostname=TOKEN)) * 2


def test_the_header_cache_is_bounded() -> None:
    framer = SyslogFramer(TOKEN)
    lines = [LogLine("a", "app", f"web.{i}", "stdout", T, "", "m") for i in range(FIELDS_CACHE_MAX + 10)]
    out = framer.octet_counted(lines)
    assert len(frames._headers) <= FIELDS_CACHE_MAX
    assert out == b"".join(octet_frame(format_rfc5424(line, hostname=TOKEN)) for line in lines)


def test_datagrams_are_cut_at_a_character_boundary() -> None:
    framer = SyslogFramer(TOKEN)
    line = LogLine("a", "app", "web.1", "stdout", T, "", "é" * 1000)
    whole = framer.message(line)
    assert framer.datagram(line, 65_507) == whole
    cut = framer.datagram(line, 600)
    assert len(cut) <= 600 and cut.endswith("é\n".encode()) and whole.startswith(cut[:-1])
    cut.decode("utf-8")  # still valid UTF-8


def test_backoff_doubles_up_to_its_cap_and_resets() -> None:
    backoff = Backoff(0.5, 4.0, random.Random(1))
    ceilings = []
    for _ in range(6):
        ceilings.append(backoff.ceiling())
        wait = backoff.next()
        assert ceilings[-1] / 2 <= wait <= ceilings[-1]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.ceiling() == 0.5
    with pytest.raises(ValueError):
        Backoff(0, 1)


def test_pieces_of_shared_frames_are_exactly_each_drains_frames() -> None:
    """The frames of an app's lines are made once, with a placeholder for the HOSTNAME, and cut into
    the pieces each drain reads: every cut, for every drain, gives exactly format_rfc5424's bytes."""
    rng = random.Random(7)
    messages = ["GET / 200", "héllo ✓", "nul\x00inside", "ends with LF\n", "two\nlines", "", "x" * 300]
    lines = [LogLine("web", rng.choice(["app", "heroku router", "APP/PROC/WEB"]), f"web.{i % 3}",
                     rng.choice(["stdout", "stderr"]), T + rng.choice([0, 1, 10, 120_000, 999_999, 1_000_000 * i]),
                     "", rng.choice(messages)) for i in range(60)]
    chunks = [Chunk(lines[i:i + 20]) for i in range(0, 60, 20)]
    other = "d.ffffffff-8f2c-4d4e-9a0e-123456789abc"  # another drain of the app (tokens are all alike)
    for token in (TOKEN, other, "d.short"):  # (a length of its own: the frames are made again)
        framer = SyslogFramer(token)
        for _ in range(50):
            a, b = sorted(rng.sample(range(61), 2))
            pieces = [(chunk, max(a - 20 * k, 0), min(b - 20 * k, 20)) for k, chunk in enumerate(chunks)
                      if a < 20 * (k + 1) and b > 20 * k]
            expected = b"".join(octet_frame(format_rfc5424(line, hostname=token)) for line in lines[a:b])
            assert framer.octet_counted_pieces(pieces) == expected
    assert all(chunk._frames is not None and chunk._frames.host_len == len("d.short") for chunk in chunks)


def test_a_timestamp_fraction_is_trimmed_as_loggregator_writes_it() -> None:
    framer = SyslogFramer(TOKEN)
    for frac, text in ((0, "20"), (1, "20.000001"), (10, "20.00001"), (120_000, "20.12"), (999_999, "20.999999"),
                       (100_100, "20.1001"), (5_000, "20.005")):
        line = LogLine("a", "app", "web.1", "stdout", 1_700_000_000_000_000 + frac, "", "m")
        assert f"2023-11-14T22:13:{text}+00:00".encode() in framer.octet_counted([line])
        assert framer.octet_counted([line]) == octet_frame(format_rfc5424(line, hostname=TOKEN))
