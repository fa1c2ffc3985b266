"""Timings and request tracking from notifications, in any arrival order."""

from __future__ import annotations

import itertools

from vigil.events.pairing import Raw, State, Timing, apply

S = 1_000_000
_ids = itertools.count(1)


def raw(event: str, when: float, *, instance: str = "i-1", request: str = "req-1", service: str = "compute",
        state: str | None = "active", tenant: str | None = "t-1") -> Raw:
    return Raw(next(_ids), int(when * S), event, service, instance, request, state, None, 1, tenant)


def timings(state: State) -> list[tuple[str, int | None, int | None, int | None]]:
    every = state.new_timings + state.loaded_timings
    found = [(t.name, t.start_when, t.end_when, t.diff) for t in every]
    return sorted(found, key=lambda t: (t[0], *(-1 if v is None else v for v in t[1:])))


def test_start_end_pair() -> None:
    state = State()
    apply(state, [raw("compute.instance.create.start", 10), raw("compute.instance.create.end", 65.5)])
    assert timings(state) == [("compute.instance.create", 10 * S, int(65.5 * S), int(55.5 * S))]


def test_end_before_start_in_arrival_order() -> None:
    state = State()
    apply(state, [raw("compute.instance.resize.end", 20)])
    apply(state, [raw("compute.instance.resize.start", 15)])  # a later batch
    assert timings(state) == [("compute.instance.resize", 15 * S, 20 * S, 5 * S)]


def test_repeated_operations_make_one_timing_each() -> None:
    state = State()
    apply(state, [raw("x.snapshot.start", 0), raw("x.snapshot.end", 10), raw("x.snapshot.start", 20),
                  raw("x.snapshot.end", 25)])
    assert timings(state) == [("x.snapshot", 0, 10 * S, 10 * S), ("x.snapshot", 20 * S, 25 * S, 5 * S)]


def test_lone_halves_stay_open() -> None:
    state = State()
    apply(state, [raw("x.create.start", 5, instance="a"), raw("x.rebuild.end", 5, instance="b")])
    assert timings(state) == [("x.create", 5 * S, None, None), ("x.rebuild", None, 5 * S, None)]


def test_an_end_never_closes_a_later_start() -> None:
    state = State()
    apply(state, [raw("x.op.start", 50), raw("x.op.end", 40)])
    # arrival order would have paired them with a negative time; by time they are two halves
    assert timings(state) == [("x.op", None, 40 * S, None), ("x.op", 50 * S, None, None)]


def test_instances_without_ids_or_too_long_are_skipped() -> None:
    state = State()
    apply(state, [raw("x.op.start", 1, instance=""), raw("x.op.start", 1, instance="i" * 65)])
    assert timings(state) == [] and state.lifecycles == {}


def test_lifecycle_keeps_the_latest_state_by_time() -> None:
    state = State()
    apply(state, [raw("compute.instance.update", 10, state="active")])
    apply(state, [raw("compute.instance.update", 5, state="building")])  # late, older
    assert state.lifecycles["i-1"].last_state == "active"
    assert state.lifecycles["i-1"].last_when == 10 * S


def test_request_tracking() -> None:
    state = State()
    apply(state, [raw("compute.instance.update", 0, service="api", request="req-9"),
                  raw("compute.instance.create.start", 1, request="req-9"),
                  raw("compute.instance.create.end", 61.5, request="req-9")])
    tracker = state.trackers["req-9"]
    assert (tracker.timing_name, tracker.duration, tracker.end_tenant) == ("compute.instance.create", int(61.5 * S),
                                                                          "t-1")


def test_request_tracking_when_the_api_update_arrives_last() -> None:
    state = State()
    apply(state, [raw("compute.instance.create.start", 1, request="req-9"),
                  raw("compute.instance.create.end", 30, request="req-9")])
    apply(state, [raw("compute.instance.update", 0, service="nova-api", request="req-9")])
    assert state.trackers["req-9"].duration == 30 * S


def test_updates_from_other_services_start_no_tracking() -> None:
    state = State()
    apply(state, [raw("compute.instance.update", 0, service="compute", request="req-9")])
    assert state.trackers == {}


def test_loaded_open_timings_are_completed_and_marked() -> None:
    state = State()
    stored = Timing("i-1", "x.op", id=7, start_raw_id=1, start_when=0)
    state.open_timings[("i-1", "x.op")] = [stored]
    state.loaded_timings.append(stored)
    apply(state, [raw("x.op.end", 3)])
    assert stored.dirty and stored.diff == 3 * S and state.new_timings == []
