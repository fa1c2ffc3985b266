"""Which streams a condition watches, and which signal each belongs to.

A condition's `tags` filters are ANDed: a stream matches when every named tag is present with a
value matching one of the filter's values (`*` matches any run of characters; tag values are
lower-cased on ingest, so matching is case-insensitive).

A *signal* is what the condition evaluates on its own. With no `grouped: true` filter every
stream is its own signal (the seed: "each data stream matching the tag set will be evaluated
individually"). With one or more grouped filters the matching streams are aggregated: streams
that share the values of the non-grouped filters' tags form one signal, the grouped tags are
aggregated away. So `[{region, [*]}, {host, [*], grouped}]` is one signal per region.
"""

from __future__ import annotations

import hashlib
import re

from vigil.alerts.model import TagFilter


def stream_key(tags: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(tags.items()))


def signal_id(key: str) -> int:
    """A stable 64-bit id for a group signal (stream signals use the series id itself)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")


def _pattern(values: tuple[str, ...]) -> re.Pattern[str] | frozenset[str]:
    if not any("*" in v for v in values):
        return frozenset(values)
    return re.compile("|".join(".*".join(re.escape(part) for part in v.split("*")) for v in values))


class TagMatcher:
    def __init__(self, filters: tuple[TagFilter, ...]) -> None:
        self.filters = filters
        self._tests = [(f.name, _pattern(f.values)) for f in filters]
        self.grouped = any(f.grouped for f in filters)
        self._split = [f.name for f in filters if not f.grouped]
        self._group_desc = [f"{f.name}={'|'.join(f.values)}" for f in filters if f.grouped]

    @property
    def exact(self) -> tuple[str, frozenset[str]] | None:
        """One filter with literal values only (for indexing conditions by tag value), if there is one."""
        for name, test in self._tests:
            if isinstance(test, frozenset):
                return name, test
        return None

    def matches(self, tags: dict[str, str]) -> bool:
        for name, test in self._tests:
            value = tags.get(name)
            if value is None:
                return False
            if isinstance(test, frozenset):
                if value not in test:
                    return False
            elif not test.fullmatch(value):
                return False
        return True

    def signal_key(self, tags: dict[str, str]) -> str | None:
        """The signal a stream with these tags belongs to, or None when it does not match."""
        if not self.matches(tags):
            return None
        if not self.grouped:
            return stream_key(tags)
        return ",".join([f"{name}={tags[name]}" for name in self._split] + self._group_desc)
