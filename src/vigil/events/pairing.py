"""Lifecycles, timings and request tracking, computed from nova notifications (pure, no I/O).

As StackTach's worker did: every instance has a lifecycle (its latest state); every `X.start` /
`X.end` pair of an instance makes a timing named `X` with the time between them; a
`compute.instance.update` from an API node starts tracking its request, whose duration runs to
the latest `.end` notification of the same request.

Unlike the original, pairing does not depend on the order notifications arrive in:

- a `.end` closes the open `.start` of the same instance and name with the earliest start time at
  or before the end's time; with none it is kept as an end-only timing (`E`);
- a `.start` first looks for an end-only timing of the same instance and name whose end is at or
  after it (the `.end` arrived first) and completes it; otherwise it opens a timing (`S`);
- a lifecycle's state is that of the notification with the latest time, not the last to arrive;
- a request's start is its earliest API update; its end the latest completed `.end` at or after
  that start, whichever arrived first.

A batch is applied in (time, id) order, so within one batch arrival order does not matter either.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_KEY = 64  # instance / request id / tenant columns
MAX_NAME = 255
TRACKED_EVENT = "compute.instance.update"


@dataclass(slots=True)
class Raw:
    id: int
    when: int
    event: str
    service: str | None
    instance: str
    request_id: str
    state: str | None
    old_task: str | None
    deployment: int
    tenant: str | None


@dataclass(slots=True)
class Lifecycle:
    instance: str
    last_state: str | None
    last_task_state: str | None
    last_raw_id: int
    last_when: int
    stored: bool = False
    dirty: bool = False


@dataclass(slots=True)
class Timing:
    instance: str
    name: str
    id: int | None = None  # None until stored
    start_raw_id: int | None = None
    start_when: int | None = None
    end_raw_id: int | None = None
    end_when: int | None = None
    diff: int | None = None
    end_request_id: str | None = None
    end_deployment_id: int | None = None
    end_tenant: str | None = None
    dirty: bool = False

    @property
    def complete(self) -> bool:
        return self.start_raw_id is not None and self.end_raw_id is not None


@dataclass(slots=True)
class End:
    """A completed timing's end, as request tracking needs it."""

    when: int
    raw_id: int
    name: str
    deployment_id: int | None
    tenant: str | None


@dataclass(slots=True)
class Tracker:
    request_id: str
    instance: str
    start_when: int
    start_raw_id: int
    timing_name: str | None = None
    end_raw_id: int | None = None
    end_when: int | None = None
    end_deployment_id: int | None = None
    end_tenant: str | None = None
    duration: int | None = None
    stored: bool = False
    dirty: bool = False

    def offer(self, end: End) -> None:
        if end.when < self.start_when or (self.end_when is not None and end.when < self.end_when):
            return
        self.timing_name, self.end_raw_id, self.end_when = end.name, end.raw_id, end.when
        self.end_deployment_id, self.end_tenant = end.deployment_id, end.tenant
        self.duration = end.when - self.start_when
        self.dirty = True


@dataclass
class State:
    """What one batch needs of the stored state, and what it changes."""

    lifecycles: dict[str, Lifecycle] = field(default_factory=dict)
    open_timings: dict[tuple[str, str], list[Timing]] = field(default_factory=dict)
    trackers: dict[str, Tracker] = field(default_factory=dict)
    # Latest completed end per request id, for trackers created after their request finished.
    ends: dict[str, End] = field(default_factory=dict)
    new_timings: list[Timing] = field(default_factory=list)  # to insert
    loaded_timings: list[Timing] = field(default_factory=list)  # from storage: updated where dirty


def split_event(event: str) -> tuple[str, str]:
    """`compute.instance.create.start` -> (`compute.instance.create`, `start`)."""
    name, _, step = event.rpartition(".")
    return name, step


def is_api_update(raw: Raw) -> bool:
    return raw.event == TRACKED_EVENT and "api" in (raw.service or "")


def trackable(raw: Raw) -> bool:
    return bool(raw.instance) and len(raw.instance) <= MAX_KEY


def apply(state: State, raws: list[Raw]) -> None:
    for raw in sorted(raws, key=lambda r: (r.when, r.id)):
        if not trackable(raw):
            continue
        _lifecycle(state, raw)
        name, step = split_event(raw.event)
        if step == "start" and 0 < len(name) <= MAX_NAME:
            _start(state, raw, name)
        elif step == "end" and 0 < len(name) <= MAX_NAME:
            _end(state, raw, name)
        elif is_api_update(raw) and 0 < len(raw.request_id) <= MAX_KEY:
            _track(state, raw)


def _lifecycle(state: State, raw: Raw) -> None:
    lc = state.lifecycles.get(raw.instance)
    if lc is None:
        state.lifecycles[raw.instance] = Lifecycle(raw.instance, raw.state, raw.old_task, raw.id, raw.when,
                                                   dirty=True)
    elif (raw.when, raw.id) >= (lc.last_when, lc.last_raw_id):
        lc.last_state, lc.last_task_state, lc.last_raw_id, lc.last_when = raw.state, raw.old_task, raw.id, raw.when
        lc.dirty = True


def _start(state: State, raw: Raw, name: str) -> None:
    timings = state.open_timings.setdefault((raw.instance, name), [])
    waiting = [t for t in timings if t.start_raw_id is None and t.end_when is not None and t.end_when >= raw.when]
    if waiting:
        timing = min(waiting, key=lambda t: (t.end_when, t.end_raw_id))
        timing.start_raw_id, timing.start_when = raw.id, raw.when
        _completed(state, timing, timings)
        return
    timing = Timing(raw.instance, name, start_raw_id=raw.id, start_when=raw.when, dirty=True)
    timings.append(timing)
    state.new_timings.append(timing)


def _end(state: State, raw: Raw, name: str) -> None:
    timings = state.open_timings.setdefault((raw.instance, name), [])
    tenant = raw.tenant[:MAX_KEY] if raw.tenant else raw.tenant
    request_id = raw.request_id if 0 < len(raw.request_id) <= MAX_KEY else None
    started = [t for t in timings if t.end_raw_id is None and t.start_when is not None and t.start_when <= raw.when]
    if started:
        timing = min(started, key=lambda t: (t.start_when, t.start_raw_id))
    else:
        timing = Timing(raw.instance, name)
        timings.append(timing)
        state.new_timings.append(timing)
    timing.end_raw_id, timing.end_when = raw.id, raw.when
    timing.end_request_id, timing.end_deployment_id, timing.end_tenant = request_id, raw.deployment, tenant
    timing.dirty = True
    if timing.start_raw_id is not None:
        _completed(state, timing, timings)


def _completed(state: State, timing: Timing, open_list: list[Timing]) -> None:
    assert timing.start_when is not None and timing.end_when is not None and timing.end_raw_id is not None
    timing.diff = timing.end_when - timing.start_when
    timing.dirty = True
    open_list.remove(timing)
    request_id = timing.end_request_id
    if not request_id:
        return
    end = End(timing.end_when, timing.end_raw_id, timing.name, timing.end_deployment_id, timing.end_tenant)
    best = state.ends.get(request_id)
    if best is None or end.when >= best.when:
        state.ends[request_id] = end
    tracker = state.trackers.get(request_id)
    if tracker is not None:
        tracker.offer(end)


def _track(state: State, raw: Raw) -> None:
    tracker = state.trackers.get(raw.request_id)
    if tracker is None:
        tracker = Tracker(raw.request_id, raw.instance, raw.when, raw.id, dirty=True)
        state.trackers[raw.request_id] = tracker
    elif raw.when < tracker.start_when:
        # An earlier API update arrived late: the request started then (its end can only be later).
        tracker.start_when, tracker.start_raw_id, tracker.dirty = raw.when, raw.id, True
        if tracker.end_when is not None:
            tracker.duration = tracker.end_when - raw.when
    else:
        return
    end = state.ends.get(raw.request_id)
    if end is not None:
        tracker.offer(end)
