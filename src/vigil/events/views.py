"""The stacky views: StackTach's tabular JSON (a header row, then rows), built as its stacky server did.

Every view takes the query parameters as a dict of strings. Bad input raises StackyError, which the
HTTP layer answers with the original's error rows, `[["Error", "Message"], [type, message]]`.
"""

from __future__ import annotations

import json
import time
import uuid as _uuid
from collections.abc import Awaitable, Callable
from typing import Any

from vigil.events.deployments import Deployments
from vigil.events.extract import KINDS
from vigil.events.queries import SEARCHABLE, EventQueries
from vigil.events.timefmt import US, TimeFormatError, parse_unixtime, sec_to_time, to_datetime, when_text

MAX_NUMBER = 2**53  # larger offsets, ids … fit no column
DEFAULT_LIMIT = 50
HARD_LIMIT = 1000
DAY_US = 86_400 * US
WATCH_WINDOW_US = 2 * US
WATCH_WIDTHS = (10, 1, 15, 20, None, 36)  # None: the longest nova event name

NOVA_TITLES = ["#", "?", "When", "Deployment", "Event", "Host", "State", "State'", "Task"]
REQUEST_TITLES = ["#", "?", "When", "Deployment", "Event", "Host", "State", "State'", "Task'"]
GLANCE_TITLES = ["#", "?", "When", "Deployment", "Event", "Host", "Status"]
GENERIC_TITLES = ["#", "?", "When", "Deployment", "Event", "Host", "Instance", "Request id"]
REPORT_TITLES = ["Id", "Start", "End", "Created", "Name", "Version"]

Params = dict[str, str]
Barrier = Callable[[], Awaitable[None]]


class StackyError(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message

    def rows(self) -> list[list[str]]:
        return [["Error", "Message"], [self.kind, self.message]]


def bad_request(message: str) -> StackyError:
    return StackyError(400, "Bad Request", message)


def not_found(message: str) -> StackyError:
    return StackyError(404, "Not Found", message)


def is_uuid_like(value: str) -> bool:
    """As the original: a UUID in its canonical lower-case form, with or without dashes."""
    try:
        converted = str(_uuid.UUID(value))
    except (TypeError, ValueError, AttributeError):
        return False
    if "-" not in value:
        converted = converted.replace("-", "")
    return converted == value


def is_request_id_like(value: str) -> bool:
    return is_uuid_like(value[4:] if value.startswith("req-") else value)


def routing_key_type(key: str) -> str:
    return "E" if key.endswith("error") else " "


def _int(params: Params, name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be a whole number, not {raw!r}") from None
    if value < 0:
        raise bad_request(f"{name} must not be negative")
    if value > MAX_NUMBER:
        raise bad_request(f"{name} is too large")
    return value


def page(params: Params) -> tuple[int, int]:
    """offset and limit: limit 50 by default, never more than 1000 (larger values are cut, as before)."""
    return _int(params, "offset", 0), min(_int(params, "limit", DEFAULT_LIMIT), HARD_LIMIT)


def _unixtime(params: Params, name: str, default: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse_unixtime(raw)
    except TimeFormatError:
        raise bad_request(f"{name} must be a unixtime (seconds since 1970, decimals allowed), not {raw!r}") from None


def _service(params: Params, default: str = "nova", *, allow_all: bool = False) -> str:
    service = params.get("service") or default
    allowed = (*KINDS, "all") if allow_all else KINDS
    if service not in allowed:
        raise bad_request(f"service must be one of {', '.join(allowed)}, not {service!r}")
    return service


def _required(params: Params, name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise bad_request(f"{name} is required")
    return value


class StackyViews:
    def __init__(self, queries: EventQueries, deployments: Deployments, *, max_rows: int, raw_barrier: Barrier,
                 derived_barrier: Barrier, clock: Callable[[], float] = time.time) -> None:
        self.q = queries
        self.deployments = deployments
        self.max_rows = max_rows
        self._raw_barrier = raw_barrier
        self._derived_barrier = derived_barrier
        self._clock = clock

    def _now_us(self) -> int:
        return int(self._clock() * US)

    # -- lists ---------------------------------------------------------------------------------------

    async def deployments_view(self, params: Params) -> list[Any]:
        return [["#", "Name"], *([i, name] for i, name in self.deployments.all()[:self.max_rows])]

    async def events(self, params: Params) -> list[Any]:
        service = _service(params, allow_all=True)
        await self._raw_barrier()
        kinds = KINDS if service == "all" else (service,)
        rows: list[Any] = [["Event Name"]]
        for kind in kinds:
            rows.extend([name] for name in await self.q.event_names(kind, self.max_rows))
        return rows[:self.max_rows + 1]

    async def hosts(self, params: Params) -> list[Any]:
        service = _service(params)
        await self._raw_barrier()
        return [["Host Name"], *([host] for host in await self.q.hosts(service, self.max_rows))]

    # -- notifications -------------------------------------------------------------------------------

    def _row(self, kind: str, r: dict[str, Any]) -> list[Any]:
        head = [r["id"], routing_key_type(r["routing_key"]), when_text(r["us"]), self.deployments.name(r["deployment"]),
                r["event"], r["host"]]
        if kind == "glance":
            return [*head, r["status"]]
        if kind == "generic":
            return [*head, r["instance"], r["request_id"]]
        return [*head, r["state"], r["old_state"], r["old_task"]]

    @staticmethod
    def _titles(kind: str, nova: list[str]) -> list[str]:
        return {"glance": GLANCE_TITLES, "generic": GENERIC_TITLES}.get(kind, nova)

    async def uuid(self, params: Params) -> list[Any]:
        value = params.get("uuid", "")
        service = _service(params)
        if not is_uuid_like(value):
            raise bad_request(f"{value} is not uuid-like")
        when_min, when_max = _unixtime(params, "when_min"), _unixtime(params, "when_max")
        offset, limit = page(params)
        await self._raw_barrier()
        found = await self.q.by_instance(service, value, when_min=when_min, when_max=when_max, offset=offset,
                                         limit=limit)
        return [list(self._titles(service, NOVA_TITLES)), *(self._row(service, r) for r in found)]

    async def request(self, params: Params) -> list[Any]:
        value = params.get("request_id", "")
        if not is_request_id_like(value):
            raise bad_request(f"{value} is not request-id-like")
        when_min, when_max = _unixtime(params, "when_min"), _unixtime(params, "when_max")
        offset, limit = page(params)
        await self._raw_barrier()
        found = await self.q.by_request(value, when_min=when_min, when_max=when_max, offset=offset, limit=limit)
        return [list(REQUEST_TITLES), *(self._row("nova", r) for r in found)]

    async def search(self, params: Params) -> list[Any]:
        service = _service(params)
        field = params.get("field")
        fields = SEARCHABLE[service]
        if field not in fields:
            raise bad_request(f"The requested field '{field}' does not exist for the corresponding object.\n"
                              "Note: The field names of database are case-sensitive.")
        raw = _required(params, "value")
        value: Any = raw
        try:
            if fields[field] == "when":
                value = parse_unixtime(raw)
            elif fields[field] != "String":
                value = int(raw)
                if not 0 <= value < (2**32 if fields[field] == "UInt32" else MAX_NUMBER):
                    raise ValueError(raw)
        except (ValueError, TimeFormatError):
            raise bad_request(f"'{raw}' is not a valid value for the field '{field}'") from None
        when_min, when_max = _unixtime(params, "when_min"), _unixtime(params, "when_max")
        offset, limit = page(params)
        await self._raw_barrier()
        found = await self.q.search(service, field, value, when_min=when_min, when_max=when_max, offset=offset,
                                    limit=limit)
        return [list(self._titles(service, REQUEST_TITLES)), *(self._row(service, r) for r in found)]

    async def show(self, event_id: int, params: Params) -> list[Any]:
        service = _service(params)
        await self._raw_barrier()
        r = await self.q.by_id(service, event_id)
        if r is None:
            raise not_found(f"There is no {service} event {event_id}")
        uuid = r["uuid"] if service == "glance" else r["instance"]
        pairs = [["Key", "Value"], ["#", r["id"]], ["When", when_text(r["us"])],
                 ["Deployment", self.deployments.name(r["deployment"])], ["Category", r["routing_key"]],
                 ["Publisher", r["publisher"]],
                 ["Status", r["status"]] if service == "glance" else ["State", r["state"]],
                 ["Event", r["event"]], ["Service", r["service"]], ["Host", r["host"]], ["UUID", uuid],
                 ["Req ID", r["request_id"]]]
        # The original printed the stored JSON with Python 2's json.dumps(indent=2), item separator ", ".
        pretty = json.dumps(json.loads(r["json"]), indent=2, separators=(", ", ": "))
        return [pairs, pretty, uuid]

    async def watch(self, deployment_id: int, params: Params) -> list[Any]:
        service = _service(params)
        now = self._now_us() // US * US  # clamped to the second, so responses cache well
        since = _unixtime(params, "since", now - WATCH_WINDOW_US)
        assert since is not None
        event_name = params.get("event_name") or None
        await self._raw_barrier()
        names = await self.q.event_names("nova", self.max_rows)
        widths = [w if w is not None else max((len(n) for n in names), default=len("Event")) for w in WATCH_WIDTHS]
        found = await self.q.watch(service, deployment=deployment_id, event_name=event_name, since=since, until=now,
                                   limit=self.max_rows)
        last = str(now // US)
        if len(found) == self.max_rows:
            # Cut: the next poll must start where this one stopped, at a whole instant.
            boundary = found[-1]["us"]
            kept = [r for r in found if r["us"] < boundary] or found
            found = kept
            upto = found[-1]["us"]
            last = f"{upto // US}.{upto % US:06d}"
        rows = []
        for r in found:
            moment = to_datetime(r["us"])
            rows.append([r["id"], "E" if r["routing_key"].endswith("error") else ".", str(moment.date()),
                         str(moment.time()), self.deployments.name(r["deployment"]), r["event"],
                         (r["uuid"] if service == "glance" else r["instance"]) or "-"])
        return [widths, rows, last]

    # -- timings -------------------------------------------------------------------------------------

    async def timings_uuid(self, params: Params) -> list[Any]:
        value = params.get("uuid", "")
        if not is_uuid_like(value):
            raise bad_request(f"{value} is not uuid-like")
        offset, limit = page(params)
        await self._derived_barrier()
        rows: list[Any] = [["?", "Event", "Time (secs)"]]
        for t in await self.q.timings_for_instance(value, offset=offset, limit=limit):
            state, shown = "?", "n/a"
            if t["start_raw_id"] is not None:
                state = "S"
            if t["end_raw_id"] is not None:
                state = "E"
            if t["start_raw_id"] is not None and t["end_raw_id"] is not None:
                state, shown = ".", sec_to_time(t["diff"])
            rows.append([state, t["name"], shown])
        return rows

    async def timings(self, params: Params) -> list[Any]:
        name = _required(params, "name")
        end_min, end_max = _unixtime(params, "end_when_min"), _unixtime(params, "end_when_max")
        offset, limit = page(params)
        await self._derived_barrier()
        found = await self.q.timings_named(name, end_min=end_min, end_max=end_max, offset=offset, limit=limit)
        return [[name, "Time"], *([instance, sec_to_time(diff)] for instance, diff in found)]

    async def summary(self, params: Params) -> list[Any]:
        instance = params.get("uuid") or None
        if instance is not None and not is_uuid_like(instance):
            raise bad_request(f"{instance} is not uuid-like")
        offset, limit = page(params)
        await self._derived_barrier()
        rows: list[Any] = [["Event", "N", "Min", "Max", "Avg"]]
        for name, n, low, high, total in await self.q.summary(instance=instance, offset=offset, limit=limit):
            average = total // n // US * US  # whole seconds, as the original's int(total / n)
            rows.append([name, n, sec_to_time(low), sec_to_time(high), sec_to_time(average, fraction=False)])
        return rows

    async def kpi(self, tenant: str | None, params: Params) -> list[Any]:
        offset, limit = page(params)
        await self._derived_barrier()
        if tenant is not None and not await self.q.tenant_seen(tenant):
            raise not_found(f"Could not find raws for tenant {tenant}")
        found = await self.q.kpi(since=self._now_us() - DAY_US, tenant=tenant, offset=offset, limit=limit)
        return [["Event", "Time", "UUID", "Deployment"],
                *([r["timing_name"], sec_to_time(r["duration"]), r["instance"],
                   self.deployments.name(r["end_deployment_id"])] for r in found)]

    # -- reports -------------------------------------------------------------------------------------

    async def reports(self, params: Params) -> list[Any]:
        now = self._now_us()
        created_from = _unixtime(params, "created_from", now - DAY_US)
        created_to = _unixtime(params, "created_to", now)
        assert created_from is not None and created_to is not None
        offset, limit = page(params)
        found = await self.q.reports(created_from=created_from / US, created_to=created_to / US, offset=offset,
                                     limit=limit)
        return [list(REPORT_TITLES), *([r["id"], float(r["period_start"]), float(r["period_end"]), float(r["created"]),
                                        r["name"], r["version"]] for r in found)]

    async def report(self, report_id: int) -> str:
        """The stored report, as the JSON text it was stored as."""
        text = await self.q.report(report_id)
        if text is None:
            raise not_found(f"There is no report {report_id}")
        return text
