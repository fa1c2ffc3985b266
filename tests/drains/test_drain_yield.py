"""The delivery process yields to a busy machine: the share of the CPUs other processes use
(`machine.MachineLoad`), and lines that wait for it — bounded in time and by the inbox."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from vigil.config import Settings
from vigil.drains.channel import Encoder
from vigil.drains.child import PACED_UNTIL, YIELDS_UNTIL, Delivery, _Input
from vigil.drains.handoff import lines_message
from vigil.drains.machine import SAMPLE_EVERY, WINDOW, MachineLoad
from vigil.logs.model import LogLine


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.busy = 0.0  # CPU seconds the machine was busy
        self.own = 0.0  # of which this process's
        self.reads = 0

    def read_busy(self) -> float:
        self.reads += 1
        return self.busy

    def load(self, cpus: int = 2) -> MachineLoad:
        return MachineLoad(self.read_busy, lambda: self.own, lambda: self.now, cpus)

    def spend(self, seconds: float, others: float, own: float = 0.0) -> None:
        """`seconds` pass in which other processes use `others` CPU seconds and this one `own`."""
        self.now += seconds
        self.busy += others + own
        self.own += own


def test_the_share_is_the_other_processes_cpu_over_the_last_window() -> None:
    clock = Clock()
    load = clock.load(cpus=2)
    assert load.others() is None  # nothing measured yet
    clock.spend(WINDOW, others=0.15, own=0.05)  # others: 0.15 of 0.2 CPU seconds; its own do not count
    assert load.others() == pytest.approx(0.75)
    for _ in range(20):  # the machine falls idle: the old window is left behind
        clock.spend(WINDOW / 4, others=0.0, own=0.01)
        load.others()
    assert load.others() == pytest.approx(0.0, abs=1e-9)


def test_a_span_shorter_than_half_the_window_is_not_trusted_yet() -> None:
    clock = Clock()
    load = clock.load(cpus=1)
    load.others()
    clock.spend(WINDOW * 0.3, others=WINDOW * 0.3)  # busy, but measured over 30 ms: tick rounding
    assert load.others() is None
    clock.spend(WINDOW * 0.3, others=WINDOW * 0.3)
    assert load.others() == pytest.approx(1.0)


def test_after_a_pause_a_burst_is_seen_within_half_a_window() -> None:
    clock = Clock()
    load = clock.load(cpus=1)
    load.others()
    clock.spend(60.0, others=0.0)  # a minute without a look, the machine idle
    assert load.others() is None  # the first look after a pause: not known yet
    clock.spend(WINDOW / 2, others=WINDOW / 2)  # then fully busy: the minute is not averaged in
    assert load.others() == pytest.approx(1.0)


def test_asked_often_it_reads_the_machine_at_most_every_sample_interval_and_keeps_few_samples() -> None:
    clock = Clock()
    load = clock.load()
    for _ in range(1_000):
        clock.spend(SAMPLE_EVERY / 10, others=0.0)
        load.others()
    assert clock.reads <= 1_000 // 10 + 1
    assert len(load._samples) <= WINDOW / SAMPLE_EVERY + 2


def test_without_proc_stat_the_machine_counts_as_idle() -> None:
    assert MachineLoad(lambda: None).others() == 0.0
    load = MachineLoad()  # the real one, on this machine
    load.others()
    time.sleep(WINDOW)
    share = load.others()
    assert share is not None and 0.0 <= share <= 1.0


class Busy:
    def __init__(self, share: float | None) -> None:
        self.share = share

    def others(self) -> float | None:
        return self.share


def line(i: int) -> LogLine:
    return LogLine("web", "app", "web.1", "stdout", 1_700_000_000_000_000 + i, "", str(i))


def inbox_with(settings: Settings, turns: int) -> tuple[_Input, Any]:
    delivery = Delivery(None)  # type: ignore[arg-type]  # (nothing is sent back here)
    delivery.settings = settings
    sub = delivery.hub.subscribe(["web"], 10_000)
    inp = _Input(delivery, -1)
    encoder = Encoder()
    for turn in range(turns):
        frame = bytes(encoder.frame(lines_message([("web", [line(turn)])])))[4:]
        inp.inbox.append(frame)
        inp.inbox_bytes += len(frame)
    return inp, sub


async def test_lines_wait_while_the_machine_is_busy_and_go_once_it_is_not() -> None:
    inp, sub = inbox_with(Settings(drain_yield_busy=0.75, drain_yield_max=30.0), 3)
    inp.load = Busy(0.9)
    inp.hand_on()
    assert sub.pending == 0 and len(inp.inbox) == 3
    inp.load.share = 0.5
    await asyncio.sleep(0.1)  # the next look
    assert sub.pending == 3 and not inp.inbox


async def test_lines_wait_for_a_busy_machine_at_most_drain_yield_max_then_go_until_the_inbox_is_empty() -> None:
    inp, sub = inbox_with(Settings(drain_yield_busy=0.75, drain_yield_max=0.1), 3)
    inp.load = Busy(1.0)
    inp.hand_on()
    await asyncio.sleep(0.05)
    assert sub.pending == 0
    await asyncio.sleep(0.2)
    assert sub.pending == 3 and not inp.inbox
    # The inbox was emptied: the next lines wait for the busy machine again.
    frame = bytes(Encoder().frame(lines_message([("web", [line(9)])])))[4:]
    inp.inbox.append(frame)
    inp.hand_on()
    assert sub.pending == 3 and len(inp.inbox) == 1


async def test_an_inbox_half_full_hands_lines_on_even_to_a_busy_machine() -> None:
    # (A quarter of an 8-line buffer: the messages are merged two at a time.)
    inp, sub = inbox_with(Settings(drain_yield_max=30.0, drain_channel_bytes=1_000, drain_buffer_lines=8), 20)
    assert inp.inbox_bytes >= YIELDS_UNTIL * 1_000
    inp.load = Busy(1.0)
    inp.hand_on()
    assert sub.pending > 0 and inp.inbox_bytes < YIELDS_UNTIL * 1_000  # until under half: then they wait again
    assert inp.inbox


async def test_drains_taking_lines_pace_the_inbox_until_it_is_nearly_full() -> None:
    inp, sub = inbox_with(Settings(drain_yield_max=0.0, drain_channel_bytes=1_000, drain_buffer_lines=8), 12)
    first = inp.inbox_bytes
    assert YIELDS_UNTIL * 1_000 <= first < PACED_UNTIL * 1_000
    inp.delivery.hub.busy = lambda stalled_after: True  # a healthy drain's buffer is half full
    inp.hand_on()
    assert sub.pending == 0 and inp.inbox_bytes == first  # it waits, although the inbox is over half
    for turn in range(12, 20):  # until the inbox is nearly full: then a slow drain drops instead
        frame = bytes(Encoder().frame(lines_message([("web", [line(turn)])])))[4:]
        inp.inbox.append(frame)
        inp.inbox_bytes += len(frame)
    inp.hand_on()
    assert 0 < sub.pending <= 2  # one (merged) message per event-loop turn: the writers run in between
    for _ in range(20):
        await asyncio.sleep(0)
    assert inp.inbox_bytes < PACED_UNTIL * 1_000 and inp.inbox  # then it waits for the drain again


async def test_the_first_lines_after_a_pause_wait_until_the_load_is_known() -> None:
    inp, sub = inbox_with(Settings(drain_yield_busy=0.75, drain_yield_max=30.0), 1)
    inp.load = Busy(None)
    inp.hand_on()
    assert sub.pending == 0
    inp.load.share = 0.1  # known now, and the machine is idle
    await asyncio.sleep(0.1)
    assert sub.pending == 1


async def test_drain_yield_max_0_never_waits_for_the_machine() -> None:
    inp, sub = inbox_with(Settings(drain_yield_max=0.0), 3)
    inp.load = Busy(1.0)
    inp.hand_on()
    assert sub.pending == 3
