"""Concrete syntax tree: what the text says, with positions, before any meaning is checked."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pos:
    line: int
    column: int  # 1-based


@dataclass(frozen=True)
class Str:
    value: str
    pos: Pos


@dataclass(frozen=True)
class Num:
    text: str  # kept verbatim so options such as size:"5" and size:5 read the same
    pos: Pos

    @property
    def value(self) -> float:
        return float(self.text)


@dataclass(frozen=True)
class Entry:
    key: str
    key_pos: Pos
    value: Node


@dataclass(frozen=True)
class MapLit:
    entries: tuple[Entry, ...]
    pos: Pos


@dataclass(frozen=True)
class SetLit:
    items: tuple[Node, ...]
    pos: Pos


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]
    pos: Pos


Node = Str | Num | MapLit | SetLit | Call


def describe(node: Node) -> str:
    """Noun for error messages ("expected a set of series, got a string")."""
    match node:
        case Str():
            return "a string"
        case Num():
            return "a number"
        case MapLit():
            return "an option map"
        case SetLit():
            return "a set"
        case Call():
            return f"{node.name}()"
