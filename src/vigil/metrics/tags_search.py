"""The `tags_search` language: a boolean query over a stream's tags.

    expr   := or
    or     := and ("or" and)*
    and    := unary ("and" unary)*
    unary  := "not" unary | "(" expr ")" | "!" KEY | KEY "=" VALUE | KEY "!=" VALUE
    VALUE  := "!"? (WORD | "quoted string")

`k=v*` matches with `*` wildcards; `k=!v` (or `k!=v`) needs the tag present with another value;
`!k` means the stream has no tag `k`. `and` binds tighter than `or`; `not` tighter than both.
Keywords are case-insensitive. A value with spaces is written in double quotes.
"""

from __future__ import annotations

from functools import lru_cache

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from vigil.errors import param_error
from vigil.metrics.tagfilter import Absent, And, Match, Not, Or, TagFilter

MAX_LENGTH = 4096

_GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr (_OR and_expr)*      -> any_of
?and_expr: unary (_AND unary)*          -> all_of
?unary: _NOT unary                      -> negate
      | "(" or_expr ")"
      | "!" KEY                         -> absent
      | KEY "=" value                   -> equals
      | KEY "!=" value                  -> differs
value: BANG? (WORD | STRING)
BANG: "!"
_OR.2: /or\b/i
_AND.2: /and\b/i
_NOT.2: /not\b/i
KEY: /[-.:_A-Za-z0-9*]+/
WORD: /[-.:_?\\\/A-Za-z0-9*]+/
STRING: /"(?:[^"\\]|\\.)*"/
%import common.WS
%ignore WS
"""


@v_args(inline=True)
class _Build(Transformer):  # type: ignore[type-arg]
    def any_of(self, *parts: TagFilter) -> TagFilter:
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def all_of(self, *parts: TagFilter) -> TagFilter:
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def negate(self, part: TagFilter) -> TagFilter:
        return Not(part)

    def absent(self, key: Token) -> TagFilter:
        return Absent(str(key))

    def value(self, *tokens: Token) -> tuple[bool, str]:
        negated = len(tokens) == 2
        text = str(tokens[-1])
        if text.startswith('"'):
            text = text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        return negated, text

    def equals(self, key: Token, value: tuple[bool, str]) -> TagFilter:
        return Match(str(key), value[1], negate=value[0])

    def differs(self, key: Token, value: tuple[bool, str]) -> TagFilter:
        return Match(str(key), value[1], negate=not value[0])


_parser = Lark(_GRAMMAR, parser="lalr", transformer=_Build())


@lru_cache(maxsize=1024)
def parse(text: str) -> TagFilter:
    if not text.strip():
        raise param_error("tags_search", "must not be empty")
    if len(text) > MAX_LENGTH:
        raise param_error("tags_search", f"must be at most {MAX_LENGTH} characters")
    try:
        return _parser.parse(text)  # type: ignore[no-any-return]
    except UnexpectedEOF:
        raise param_error("tags_search", f"unexpected end of input at column {len(text.rstrip()) + 1}") from None
    except UnexpectedCharacters as exc:
        raise param_error("tags_search", f"unexpected character {text[exc.pos_in_stream]!r} at column {exc.column}"
                          ) from None
    except UnexpectedInput as exc:
        token = getattr(exc, "token", None)
        if token is None or token.type == "$END":
            raise param_error("tags_search", f"unexpected end of input at column {len(text.rstrip()) + 1}") from None
        raise param_error("tags_search", f"unexpected {str(token)!r} at column {exc.column}") from None
    except LarkError as exc:
        raise param_error("tags_search", f"cannot be parsed: {exc}") from None
