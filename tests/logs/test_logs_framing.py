from __future__ import annotations

import random

import pytest

from vigil.logs.framing import DEFAULT_MAX_FRAME, SyslogDeframer, octet_frame, octet_frames
from vigil.logs.syslog import parse_rfc5424

# util-linux `logger --rfc5424 --octet-count` as captured on the wire (lengths are the real ones)
LOGGER_OCTET = (
    b'108 <14>1 2026-11-22T08:52:55.230911+00:00 vm myapp - - [timeQuality tzKnown="1" isSynced="0"] '
    b"hello from logger"
    b'142 <11>1 2026-11-22T08:52:55.234597+00:00 vm myapp 3893 MSG1 [timeQuality tzKnown="1" isSynced="0"]'
    b'[origin@32473 note="a \\"q\\" b\\] c\\\\d"] with sd'
    b"26 <13>1 - vm x - - - no time"
)
# `logger --rfc5424` without --octet-count: non-transparent (LF) framing
LOGGER_NEWLINE = (
    b'<132>1 2026-11-22T08:52:55.237404+00:00 vm web - - [timeQuality tzKnown="1" isSynced="0"] '
    b"non-transparent framing\n"
    b"<13>Nov 22 08:52:55 vm bsdapp[3895]: bsd style\n"
)


def feed_in_chunks(
    data: bytes, cuts: list[int], max_frame: int = DEFAULT_MAX_FRAME
) -> tuple[list[bytes], SyslogDeframer]:
    d = SyslogDeframer(max_frame)
    out: list[bytes] = []
    prev = 0
    for cut in [*cuts, len(data)]:
        out += d.feed(data[prev:cut])
        prev = cut
    out += d.close()
    return out, d


def test_logger_octet_capture() -> None:
    frames, d = feed_in_chunks(LOGGER_OCTET, [])
    assert d.mode == "octet"
    assert [len(f) for f in frames] == [108, 142, 26]
    assert [parse_rfc5424(f, received_us=0).message for f in frames] == ["hello from logger", "with sd", "no time"]
    assert (d.frames, d.malformed, d.oversized, d.buffered) == (3, 0, 0, 0)


def test_logger_newline_capture() -> None:
    frames, d = feed_in_chunks(LOGGER_NEWLINE, [])
    assert d.mode == "newline"
    assert frames == LOGGER_NEWLINE.rstrip(b"\n").split(b"\n")
    assert (d.frames, d.malformed, d.oversized) == (2, 0, 0)


@pytest.mark.parametrize("stream", [LOGGER_OCTET, LOGGER_NEWLINE], ids=["octet", "newline"])
def test_every_single_split_point(stream: bytes) -> None:
    expected, _ = feed_in_chunks(stream, [])
    for cut in range(len(stream) + 1):
        frames, d = feed_in_chunks(stream, [cut])
        assert frames == expected, cut
        assert d.malformed == d.oversized == 0


@pytest.mark.parametrize("stream", [LOGGER_OCTET, LOGGER_NEWLINE], ids=["octet", "newline"])
def test_every_pair_of_split_points(stream: bytes) -> None:
    expected, _ = feed_in_chunks(stream, [])
    n = len(stream)
    for a in range(0, n + 1, 3):
        for b in range(a, n + 1, 7):
            assert feed_in_chunks(stream, [a, b])[0] == expected


def test_random_chunking_of_many_frames() -> None:
    rng = random.Random(5424)
    frames = [
        b"<%d>1 2024-05-01T10:00:%02d.%dZ host app web.%d - - %s"
        % (rng.randrange(192), i % 60, i, i, b"x" * rng.randrange(300))
        for i in range(200)
    ]
    octet = octet_frames(frames)
    newline = b"".join(f + b"\n" for f in frames)
    for stream in (octet, newline):
        for _ in range(30):
            cuts = sorted(rng.sample(range(len(stream)), rng.randrange(1, 60)))
            got, d = feed_in_chunks(stream, cuts)
            assert got == frames
            assert d.frames == 200 and d.malformed == 0


def test_byte_at_a_time() -> None:
    d = SyslogDeframer()
    got = [f for i in range(len(LOGGER_OCTET)) for f in d.feed(LOGGER_OCTET[i : i + 1])]
    assert len(got) == 3 and d.buffered == 0


@pytest.mark.parametrize("mode", ["octet", "newline"])
def test_large_frame_trickled_one_byte_per_read(mode: str) -> None:
    # a slow sender: reads are collected and joined once, not re-copied on every byte
    frame = b"<14>1 - h a p - - " + b"x" * 60_000
    stream = octet_frame(frame) if mode == "octet" else frame + b"\n"
    d = SyslogDeframer()
    got: list[bytes] = []
    for i in range(len(stream)):
        got += d.feed(stream[i : i + 1])
        if i == len(stream) // 2:
            assert d.buffered > 30_000 and got == []
    assert got == [frame] and d.buffered == 0 and d.mode == mode


# ------------------------------------------------------------------------------------ oversized


def test_oversized_octet_frame_is_skipped_and_stream_stays_in_sync() -> None:
    small = b"<14>1 - h a p - - ok"
    big = b"<14>1 - h a p - - " + b"B" * 500
    stream = octet_frames([small, big, small])
    for cut in range(len(stream) + 1):
        frames, d = feed_in_chunks(stream, [cut], max_frame=100)
        assert frames == [small, small], cut
        assert (d.oversized, d.malformed) == (1, 0)
    # skipping never buffers the big frame
    d = SyslogDeframer(max_frame=100)
    d.feed(stream[: len(octet_frame(small)) + 200])
    assert d.buffered == 0


def test_frame_of_exactly_max_size_is_kept() -> None:
    frame = b"<14>1 - h a p - - " + b"x" * 82
    assert len(frame) == 100
    assert feed_in_chunks(octet_frame(frame), [], max_frame=100)[0] == [frame]
    assert feed_in_chunks(frame + b"\r\n", [], max_frame=100)[0] == [frame]
    assert feed_in_chunks(octet_frame(frame + b"y"), [], max_frame=100)[1].oversized == 1


def test_oversized_newline_frame_is_skipped_to_next_lf() -> None:
    small = b"<14>1 - h a p - - ok"
    stream = small + b"\n" + b"<14>1 - h a p - - " + b"B" * 1000 + b"\n" + small + b"\n"
    for cut in range(0, len(stream) + 1, 5):
        frames, d = feed_in_chunks(stream, [cut], max_frame=100)
        assert frames == [small, small], cut
        assert d.oversized == 1
    d = SyslogDeframer(max_frame=100)
    d.feed(b"<14>" + b"B" * 5000)  # no LF yet: memory stays bounded
    assert d.buffered <= 100 + 11 and d.oversized == 1


def test_buffer_is_bounded_while_waiting_for_a_frame() -> None:
    d = SyslogDeframer(max_frame=1000)
    assert d.feed(b"1000 <14>1 " + b"x" * 500) == []
    assert d.buffered <= 1000 + 11


# ------------------------------------------------------------------------------------ malformed


def test_bad_octet_header_is_counted_and_resynced() -> None:
    good = b"<14>1 - h a p - - ok"
    for junk in (b"12x <14>1 junk", b"0 ", b"007 " + good, b"99999999999 <"):
        stream = octet_frame(good) + junk + octet_frame(good)
        for cut in range(len(stream) + 1):
            frames, d = feed_in_chunks(stream, [cut])
            assert frames == [good, good], (junk, cut)
            assert d.malformed == 1, (junk, cut)


def test_resync_survives_any_two_cuts_and_random_junk() -> None:
    good = b"<14>1 - h a p - - ok"
    junk = b"007 <14>1 x 12x"
    stream = octet_frame(good) + junk + b" " + octet_frame(good) + octet_frame(good)
    n = len(stream)
    for a in range(n + 1):
        for b in range(a, n + 1, 3):
            frames, d = feed_in_chunks(stream, [a, b])
            assert frames == [good, good, good], (a, b)
            assert d.malformed == 1
    rng = random.Random(6587)
    letters = b"abcdefghij \r\n"
    for _ in range(200):
        parts, expect = [], []
        for i in range(10):
            frame = b"<14>1 - h a p - - msg %d" % i
            parts.append(octet_frame(frame))
            expect.append(frame)
            if rng.random() < 0.3:  # junk: letters/spaces, never '<', never ending in a digit
                parts.append(bytes(rng.choice(letters) for _ in range(rng.randrange(1, 30))) + b"z ")
        stream = b"".join(parts)
        cuts = sorted(rng.sample(range(len(stream)), 5))
        assert feed_in_chunks(stream, cuts)[0] == expect


def test_lf_between_octet_frames_is_tolerated() -> None:
    good = b"<14>1 - h a p - - ok"
    stream = octet_frame(good) + b"\n" + octet_frame(good) + b"\r\n"
    frames, d = feed_in_chunks(stream, [])
    assert frames == [good, good] and d.malformed == 0


def test_newline_mode_drops_non_syslog_lines_and_blank_lines() -> None:
    stream = b"<14>1 - h a p - - one\n\n\r\nnot syslog\n<14>1 - h a p - - two\r\n"
    frames, d = feed_in_chunks(stream, [])
    assert frames == [b"<14>1 - h a p - - one", b"<14>1 - h a p - - two"]
    assert d.malformed == 1
    # a stream that starts with junk is read line by line
    frames, d = feed_in_chunks(b"hello\n<14>1 - h a p - - x\n", [])
    assert d.mode == "newline" and frames == [b"<14>1 - h a p - - x"] and d.malformed == 1


def test_close_flushes_last_line_and_counts_truncated_frame() -> None:
    d = SyslogDeframer()
    assert d.feed(b"<14>1 - h a p - - no newline at end") == []
    assert d.close() == [b"<14>1 - h a p - - no newline at end"]
    d = SyslogDeframer()
    d.feed(b"50 <14>1 - h a p - - cut")
    assert d.close() == [] and d.malformed == 1
    d = SyslogDeframer()
    assert d.feed(b"\r\n") == [] and d.mode is None and d.close() == []


def test_octet_frame_encoder() -> None:
    assert octet_frame(b"<14>1 - - - - - x") == b"17 <14>1 - - - - - x"
    assert octet_frame("é".encode()) == b"2 \xc3\xa9"  # octets, not characters
    assert octet_frames([b"a", b"bc"]) == b"1 a2 bc"
    with pytest.raises(ValueError):
        SyslogDeframer(0)


def test_output_and_counters_never_depend_on_chunking() -> None:
    """Property: with junk and oversized frames mixed in, any chunking of a stream gives exactly the
    frames and counters of feeding it in one piece."""
    rng = random.Random(61)
    for _ in range(400):
        max_frame = rng.choice([30, 64, 1000])
        octet = rng.random() < 0.5
        parts = []
        for _ in range(rng.randrange(1, 12)):
            frame = b"<14>1 - h a p - - " + b"y" * rng.randrange(60)
            parts.append(octet_frame(frame) if octet else frame + rng.choice([b"\n", b"\r\n"]))
            if rng.random() < 0.15:
                junk = [b"\n", b"junk ", b"0 ", b"12x ", b"007 "] if octet else [b"\n", b"junk\n", b"x" * 100 + b"\n"]
                parts.append(rng.choice(junk))
        stream = b"".join(parts)
        whole, d = feed_in_chunks(stream, [], max_frame)
        counters = (d.frames, d.malformed, d.oversized)
        for _ in range(5):
            cuts = sorted(rng.sample(range(len(stream) + 1), min(len(stream) + 1, rng.randrange(1, 20))))
            got, d = feed_in_chunks(stream, cuts, max_frame)
            assert (got, (d.frames, d.malformed, d.oversized)) == (whole, counters)
