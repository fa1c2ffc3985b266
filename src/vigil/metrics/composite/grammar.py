"""Lark grammar of the composite language and the text -> syntax tree step."""

from __future__ import annotations

import json
from functools import cache

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from .errors import CompositeError, where
from .syntax import Call, Entry, MapLit, Node, Num, Pos, SetLit, Str

GRAMMAR = r"""
?start: expr

?expr: call
     | set
     | map
     | STRING  -> string
     | NUMBER  -> number

call: NAME "(" [args] ")"
set: "[" [items] "]"
// Two rules with the same shape so that LALR states, and hence the "expected ..."
// part of error messages, stay specific to calls or to sets.
args: expr ("," expr)*
items: expr ("," expr)*
map: "{" [pair ("," pair)*] "}"
pair: (NAME | STRING) ":" expr

NAME: /[A-Za-z_@][A-Za-z0-9_.@-]*/
STRING: /"(?:[^"\\\n]|\\.)*"/
NUMBER: /[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/

%import common.WS
%ignore WS
"""

# Lark's terminal names are not what a user typed; translate them for messages.
_TERMINALS = {
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "COMMA": "','",
    "COLON": "':'",
    "NAME": "a name",
    "STRING": "a string",
    "NUMBER": "a number",
    "$END": "end of input",
}


@cache
def _parser() -> Lark:
    # LALR: composites are parsed on every dashboard refresh and every save, so the
    # linear-time parser is worth its stricter grammar.
    return Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def _pos(meta_or_token: object) -> Pos:
    return Pos(getattr(meta_or_token, "line", 1), getattr(meta_or_token, "column", 1))


def _unquote(token: Token) -> str:
    try:
        value = json.loads(str(token), strict=False)
    except ValueError as exc:
        raise CompositeError(
            f"invalid escape in string {where(token.line or 1, token.column or 1)}",
            line=token.line,
            column=token.column,
        ) from exc
    return str(value)


class _Builder(Transformer[Token, Node]):
    def string(self, children: list[Token]) -> Str:
        (tok,) = children
        return Str(_unquote(tok), _pos(tok))

    def number(self, children: list[Token]) -> Num:
        (tok,) = children
        return Num(str(tok), _pos(tok))

    def args(self, children: list[Node]) -> tuple[Node, ...]:
        return tuple(children)

    items = args

    @v_args(meta=True)
    def call(self, meta: object, children: list[object]) -> Call:
        name, args = children
        assert isinstance(name, Token)
        return Call(str(name), args if isinstance(args, tuple) else (), _pos(name))

    @v_args(meta=True)
    def set(self, meta: object, children: list[object]) -> SetLit:
        (args,) = children
        return SetLit(args if isinstance(args, tuple) else (), _pos(meta))

    def pair(self, children: list[object]) -> Entry:
        key, value = children
        assert isinstance(key, Token)
        text = _unquote(key) if key.type == "STRING" else str(key)
        return Entry(text, _pos(key), value)  # type: ignore[arg-type]

    @v_args(meta=True)
    def map(self, meta: object, children: list[object]) -> MapLit:
        entries = tuple(c for c in children if isinstance(c, Entry))
        return MapLit(entries, _pos(meta))


def _token_text(token: Token) -> str:
    if token.type == "$END":
        return "end of input"
    return repr(str(token))


def _expected(names: set[str]) -> str:
    shown = sorted(_TERMINALS.get(n, n) for n in names if not n.startswith("__"))
    return ", ".join(shown)


def _syntax_error(text: str, exc: UnexpectedInput) -> CompositeError:
    at_end = isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END")
    if at_end or not exc.line or exc.line < 1:
        # Lark places end of input on the last token; the user's cursor is after it.
        line = text.rstrip().count("\n") + 1
        column = len(text.rstrip().rsplit("\n", 1)[-1]) + 1
    else:
        line, column = exc.line, exc.column
    at = where(line, column)
    if isinstance(exc, UnexpectedCharacters):
        char = text[exc.pos_in_stream] if exc.pos_in_stream is not None else ""
        message = f"unterminated string {at}" if char == '"' else f"unexpected character {char!r} {at}"
    elif isinstance(exc, UnexpectedToken):
        message = f"unexpected {_token_text(exc.token)} {at}; expected {_expected(exc.expected)}"
    elif isinstance(exc, UnexpectedEOF):
        message = f"unexpected end of input {at}; expected {_expected(set(exc.expected))}"
    else:  # pragma: no cover - lark has no other UnexpectedInput subclasses today
        message = f"syntax error {at}"
    return CompositeError(message, line=line, column=column)


def parse_syntax(text: str) -> Node:
    if not text.strip():
        raise CompositeError("empty composite expression at column 1", line=1, column=1)
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    try:
        node = _Builder().transform(tree) if isinstance(tree, Tree) else tree
    except VisitError as exc:
        if isinstance(exc.orig_exc, CompositeError):
            raise exc.orig_exc from None
        raise
    return node  # type: ignore[return-value]
