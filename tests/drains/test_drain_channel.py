"""The channel between the server and the delivery process: length-prefixed msgpack messages cut
anywhere by the pipe come out whole and equal, without copies where they lie whole in what was read."""

from __future__ import annotations

import random

import pytest

from vigil.drains.channel import HEADER, MAX_MESSAGE, Deframer, Encoder, Gap, Lines, StatsRequest, ToProcess
from vigil.logs.model import LogLine


def messages(rng: random.Random, count: int) -> list[object]:
    out: list[object] = []
    for i in range(count):
        kind = rng.random()
        if kind < 0.3:
            out.append(StatsRequest(i))
        elif kind < 0.5:
            out.append(Gap(f"app{i}", i, i * 7))
        else:
            reports = [rng.randbytes(rng.choice([0, 1, 100, 70_000, 300_000])) for _ in range(rng.randrange(3))]
            lines = [LogLine("web", "app", "web.1", "stdout", i, "", "x" * rng.randrange(50))
                     for _ in range(rng.randrange(3))]
            out.append(Lines([("web", -1, 0, len(lines))], reports, lines))  # type: ignore[arg-type]
    return out


def comparable(msg: object) -> object:
    if isinstance(msg, Lines):
        return (msg.groups, [bytes(r) for r in msg.reports], msg.lines)
    return msg


@pytest.mark.parametrize("seed", range(8))
def test_messages_cut_anywhere_come_out_whole_and_in_order(seed: int) -> None:
    rng = random.Random(seed)
    sent = messages(rng, 60)
    encoder = Encoder()
    stream = b"".join(bytes(encoder.frame(m)) for m in sent)  # type: ignore[arg-type]
    deframer = Deframer(ToProcess)
    got: list[object] = []
    pos = 0
    while pos < len(stream):  # pieces of 1 byte to 400 KB: headers and messages cut anywhere
        n = rng.choice([1, 2, 3, 5, rng.randrange(1, 1_000), rng.randrange(1, 400_000)])
        got += deframer.feed(stream[pos:pos + n])
        pos += n
    assert [comparable(m) for m in got] == [comparable(m) for m in sent]


def test_a_message_that_lies_whole_in_the_bytes_read_is_a_view_of_them() -> None:
    encoder = Encoder()
    data = b"".join(bytes(encoder.frame(StatsRequest(i))) for i in range(3))
    frames = Deframer(ToProcess).frames(data)
    assert len(frames) == 3 and all(isinstance(f, memoryview) and f.obj is data for f in frames)


def test_a_length_beyond_the_limit_is_a_broken_channel() -> None:
    with pytest.raises(ValueError, match="broken drain channel"):
        Deframer(ToProcess).frames(HEADER.pack(MAX_MESSAGE + 1) + b"x")
