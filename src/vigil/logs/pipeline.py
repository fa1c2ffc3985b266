"""Where every source hands its lines: the per-app ring, the live fan-out and history.

`accept` runs on the event loop for every batch a listener or request produced. It touches each
line once (grouping by app) and never waits: the ring and the broker are in-memory and bounded,
history only queues. A batch is one syslog read, one HTTP body or one gRPC message, so the
per-batch work (a dict lookup per app, one publish per app) is spread over many lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import chain

import msgspec
import pyarrow as pa

from vigil.broker.base import Broker, Subscription
from vigil.logs.apps import KnownApps, app_name
from vigil.logs.feeds import TextFeed, TextFeeds
from vigil.logs.model import LogLine
from vigil.logs.ring import LINE_OVERHEAD, RecentLines, line_weight
from vigil.logs.store import LogStore

TOPIC_PREFIX = "logs:"


def topic(app: str) -> str:
    """The broker topic of an app's live lines (drains and tails subscribe to it)."""
    return TOPIC_PREFIX + app


def clip(message: str, limit: int) -> str:
    """A message cut to at most `limit` characters (sources with no frame limit of their own)."""
    return message if len(message) <= limit else message[:limit]


class LogPipeline:
    def __init__(self, ring: RecentLines, store: LogStore, broker: Broker, apps: KnownApps, *,
                 name_cache: int = 100_000) -> None:
        self.ring = ring
        self.name_cache = name_cache
        self.store = store
        self.broker = broker
        self.apps = apps
        self._valid: set[str] = set()
        self.feeds = TextFeeds()  # log sessions: their apps' lines as text
        # Called with (app, lines) for every app group accepted, after the broker (the drain delivery
        # channel). A tap must not wait nor keep a reference it then changes.
        self.taps: list[Callable[[str, Sequence[LogLine]], None]] = []
        self.accepted = 0
        self.no_app = 0  # lines whose app name had nothing usable in it

    def accept(self, lines: Sequence[LogLine]) -> int:
        """Keep, fan out and queue for history; returns how many lines were accepted. The caller
        hands over `lines` (it must not change the list afterwards)."""
        if not lines:
            return 0
        groups: dict[str, list[LogLine]] = {}
        for line in lines:
            group = groups.get(line.app)
            if group is None:
                groups[line.app] = [line]
            else:
                group.append(line)
        return self.accept_groups(groups, lines if isinstance(lines, list) else list(lines))

    def accept_groups(self, groups: Mapping[str, Sequence[LogLine]], whole: list[LogLine] | pa.Table | None = None,
                      texts: dict[str, bytes] | None = None, lengths: dict[str, list[int]] | None = None) -> int:
        """`accept` for lines already grouped by their app field (the syslog workers report them so):
        the same rules, and no per-line work when every name is valid. `whole`, if given, holds every
        line of the groups in one list or as Arrow columns (`columns.SCHEMA`), queued for history as
        it is when no name needed mapping. `texts` and `lengths`, if given, hold groups' Akkeris
        renderings for the log sessions (`feeds.py`) and their messages' lengths, by the same keys."""
        clean = True
        accepted = 0
        kept: list[Sequence[LogLine]] = []
        for raw, group in groups.items():
            app = raw if raw in self._valid else self._resolve(raw)
            if app != raw:
                clean = False
                if app is None:
                    self.no_app += len(group)
                    continue
                group = [msgspec.structs.replace(line, app=app) for line in group]
            self.ring.extend(app, group, lengths.get(app) if lengths is not None and app == raw else None)
            self.broker.publish(TOPIC_PREFIX + app, group)
            if app in self.feeds.by_app:
                self.feeds.publish(app, group, texts.get(app) if texts is not None and app == raw else None)
            for tap in self.taps:
                tap(app, group)
            self.apps.note(app)
            accepted += len(group)
            kept.append(group)
        if clean and isinstance(whole, pa.Table):
            weight = None
            if lengths is not None and len(lengths) == len(groups):
                weight = sum(map(sum, lengths.values())) + LINE_OVERHEAD * accepted
            self.store.append_table(whole, weight)
        elif clean and whole is not None:
            self.store.append(whole)
        elif len(kept) == 1:
            self.store.append(kept[0])
        elif kept:
            self.store.append(list(chain.from_iterable(kept)))  # one batch in the history queue
        self.accepted += accepted
        return accepted

    def _resolve(self, raw: str) -> str | None:
        app = app_name(raw)
        if app == raw:
            if len(self._valid) >= self.name_cache:
                self._valid.clear()  # only a shortcut: a name not in it is checked again
            self._valid.add(raw)
        return app

    def subscribe_text(self, apps: Iterable[str], capacity: int, max_bytes: int) -> TextFeed:
        """A live feed of `apps`' lines as Akkeris text (log sessions), bounded like `subscribe`."""
        return self.feeds.subscribe(apps, capacity, max_bytes)

    def subscribe(self, apps: Iterable[str] | None, capacity: int, max_bytes: int | None = None) -> Subscription:
        """A live subscription to the lines of `apps` (None: every app), at most `capacity` lines and
        `max_bytes` (a line weighs its message plus LINE_OVERHEAD) queued."""
        return self.broker.subscribe(None if apps is None else [topic(a) for a in apps], capacity, max_bytes,
                                     line_weight if max_bytes else None)
