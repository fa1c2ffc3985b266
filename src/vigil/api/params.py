"""Rack-style bracket parameters, as the seed's form bodies and query strings use them.

`names[]=a&names[]=b` → {"names": ["a", "b"]}; `attributes[display_max]=150` →
{"attributes": {"display_max": "150"}}; a plain key given twice becomes a list. No maintained
Python library parses this Rails convention, hence these few lines.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_KEY = re.compile(r"\A([^\[\]]+)((?:\[[^\[\]]*\])*)\Z")
MAX_PARAMS = 1000


class ParamSyntaxError(ValueError):
    pass


def _add(target: dict[str, Any], key: str, value: Any, append: bool) -> None:
    if append:
        target.setdefault(key, [])
        if not isinstance(target[key], list):
            target[key] = [target[key]]
        target[key].append(value)
    elif key in target and not isinstance(target[key], dict):
        existing = target[key]
        target[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
    else:
        target[key] = value


def nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    if len(pairs) > MAX_PARAMS:
        raise ParamSyntaxError(f"at most {MAX_PARAMS} parameters")
    out: dict[str, Any] = {}
    for raw_key, value in pairs:
        match = _KEY.match(raw_key)
        if not match:
            _add(out, raw_key, value, False)
            continue
        head, rest = match.group(1), match.group(2)
        parts = [head, *re.findall(r"\[([^\[\]]*)\]", rest)]
        target = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if last:
                _add(target, part, value, False)
            elif parts[i + 1] == "" and i + 1 == len(parts) - 1:
                _add(target, part, value, True)
                break
            else:
                child = target.get(part)
                if not isinstance(child, dict):
                    child = {}
                    target[part] = child
                target = child
    return out


def parse_query(query: str) -> dict[str, Any]:
    return nest(parse_qsl(query, keep_blank_values=True, max_num_fields=MAX_PARAMS))
