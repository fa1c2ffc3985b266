"""Tag filters over series: the `tags[...]` query parameters and the `tags_search` language, as one tree
that compiles to a ClickHouse predicate on the series index's `tags` map.

Patterns use `*` as the wildcard (any run of characters) and are matched case-insensitively, since
tag names and values are stored lower-cased.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vigil.errors import param_error


@dataclass(frozen=True, slots=True)
class Match:
    """`key=pattern`: the tag is present and its value matches; `negate`: present and does not match."""

    key: str
    pattern: str
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Absent:
    """`!key`: the stream has no such tag."""

    key: str


@dataclass(frozen=True, slots=True)
class Has:
    """The tag is present, whatever its value (what `group_by` implies)."""

    key: str


@dataclass(frozen=True, slots=True)
class And:
    parts: tuple[TagFilter, ...]


@dataclass(frozen=True, slots=True)
class Or:
    parts: tuple[TagFilter, ...]


@dataclass(frozen=True, slots=True)
class Not:
    part: TagFilter


@dataclass(frozen=True, slots=True)
class Everything:
    pass


TagFilter = Match | Absent | Has | And | Or | Not | Everything
EVERYTHING = Everything()


_V = "\x00value\x00"  # where a value predicate puts the tag value it tests


def _like(pattern: str) -> str:
    escaped = pattern.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


class _Compiler:
    """Compiles a filter into SQL text with numbered `{fN:String}` parameters."""

    def __init__(self, column: str) -> None:
        self.column = column
        self.params: dict[str, Any] = {}

    def param(self, value: str) -> str:
        name = f"f{len(self.params)}"
        self.params[name] = value
        return f"{{{name}:String}}"

    def key_matches(self, key: str, value_sql: str) -> str:
        """A predicate on (tag, value) pairs: for a key pattern with `*`, any matching tag will do."""
        c = self.column
        if "*" in key:
            return (f"arrayExists((k, v) -> like(k, {self.param(_like(key))}) AND {value_sql.replace(_V, 'v')}, "
                    f"mapKeys({c}), mapValues({c}))")
        k = self.param(key.lower())
        return f"(mapContains({c}, {k}) AND {value_sql.replace(_V, f'{c}[{k}]')})"

    def compile(self, f: TagFilter) -> str:
        if isinstance(f, Everything):
            return "1"
        if isinstance(f, Match):
            if f.pattern == "*" and not f.negate:
                return self.key_matches(f.key, "1")
            like = f"like({_V}, {self.param(_like(f.pattern))})"
            return self.key_matches(f.key, f"NOT {like}" if f.negate else like)
        if isinstance(f, Has):
            return self.key_matches(f.key, "1")
        if isinstance(f, Absent):
            return f"NOT {self.key_matches(f.key, '1')}"
        if isinstance(f, And):
            return "(" + " AND ".join(self.compile(p) for p in f.parts) + ")" if f.parts else "1"
        if isinstance(f, Or):
            return "(" + " OR ".join(self.compile(p) for p in f.parts) + ")" if f.parts else "0"
        return f"NOT ({self.compile(f.part)})"


def to_sql(f: TagFilter, column: str = "tags") -> tuple[str, dict[str, Any]]:
    compiler = _Compiler(column)
    return compiler.compile(f), compiler.params


def from_tags_param(tags: Any) -> TagFilter:
    """The `tags` parameter: `tags[region]=us-*` (wildcards), the same key repeated = OR, different keys
    = AND, `tags[region]=!us-east` (present, not matching), `tags[!host]=` (absent), `tags=*` or `{}`
    for every stream."""
    if tags is None or tags == "*" or tags == "" or tags == {}:
        return EVERYTHING
    if not isinstance(tags, dict):
        raise param_error("tags", "must be tag patterns like tags[region]=us-*, or * for every stream")
    parts: list[TagFilter] = []
    for key, value in tags.items():
        if not key:
            raise param_error("tags", "tag names must not be empty")
        if key.startswith("!"):
            parts.append(Absent(key[1:]))
            continue
        values = value if isinstance(value, list) else [value]
        alternatives: list[TagFilter] = []
        for v in values:
            if not isinstance(v, str) or v == "":
                raise param_error("tags", f"tag {key} needs a value pattern (use * for any value)")
            alternatives.append(Match(key, v[1:], negate=True) if v.startswith("!") else Match(key, v))
        parts.append(alternatives[0] if len(alternatives) == 1 else Or(tuple(alternatives)))
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def matches(f: TagFilter, tags: dict[str, str]) -> bool:
    """The same semantics in Python (used where series are already in memory, and to test the SQL)."""
    import fnmatch

    def pairs(key: str) -> list[str]:
        key = key.lower()
        if "*" in key:
            return [v for k, v in tags.items() if fnmatch.fnmatchcase(k, key.replace("[", "[[]"))]
        return [tags[key]] if key in tags else []

    def like(value: str, pattern: str) -> bool:
        return fnmatch.fnmatchcase(value, pattern.lower().replace("[", "[[]").replace("?", "[?]"))

    if isinstance(f, Everything):
        return True
    if isinstance(f, Match):
        return any((not like(v, f.pattern)) if f.negate else like(v, f.pattern) for v in pairs(f.key))
    if isinstance(f, Has):
        return bool(pairs(f.key))
    if isinstance(f, Absent):
        return not pairs(f.key)
    if isinstance(f, And):
        return all(matches(p, tags) for p in f.parts)
    if isinstance(f, Or):
        return any(matches(p, tags) for p in f.parts)
    return not matches(f.part, tags)
