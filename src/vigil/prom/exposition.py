"""The Prometheus text format (0.0.4) and OpenMetrics 1.0, parsed with prometheus_client's parsers.

prometheus_client reads the text format into its OpenMetrics model, which renames the samples of a
counter declared without `_total` (`# TYPE fn_calls counter` / `fn_calls 3` comes out as
`fn_calls_total`). A Prometheus server keeps the exposed name, and the Fn statistics query
`fn_calls`, so the declared names are read from the `# TYPE` lines and those samples renamed back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

OPENMETRICS = "application/openmetrics-text"
# What a Prometheus server asks for: OpenMetrics preferred, the text format otherwise.
ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
_COUNTER_TYPE = re.compile(r"^#\s*TYPE\s+(\S+)\s+counter\s*$", re.MULTILINE)


class ExpositionError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ExposedSample:
    name: str
    labels: dict[str, str]
    value: float
    timestamp: float | None  # seconds, when the exposition gives one
    kind: str  # the family's type: counter, gauge, histogram, summary, untyped …


def parse(body: bytes, content_type: str, limit: int) -> list[ExposedSample]:
    """Every sample of an exposition; ExpositionError if it cannot be read or has more than `limit`."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExpositionError(f"the exposition is not UTF-8: {exc}") from None
    openmetrics = content_type.split(";", 1)[0].strip().lower() == OPENMETRICS
    plain_counters: set[str] = set()
    if not openmetrics:
        plain_counters = {n for n in _COUNTER_TYPE.findall(text) if not n.endswith("_total")}
    out: list[ExposedSample] = []
    try:
        families = parse_openmetrics(text) if openmetrics else parse_text(text)
        for family in families:
            rename = family.type == "counter" and family.name in plain_counters
            kind = "untyped" if family.type == "unknown" else family.type
            for s in family.samples:
                name = s.name[:-6] if rename and s.name == family.name + "_total" else s.name
                ts = s.timestamp
                if ts is not None and not isinstance(ts, float | int):
                    ts = float(ts.sec) + ts.nsec / 1e9  # OpenMetrics parser's Timestamp
                out.append(ExposedSample(name, s.labels, float(s.value), ts, kind))
                if len(out) > limit:
                    raise ExpositionError(f"the scrape has more than {limit} samples (scrape_sample_limit)")
    except ExpositionError:
        raise
    except Exception as exc:  # the parsers raise ValueError, IndexError, KeyError … on bad input
        raise ExpositionError(f"the exposition cannot be parsed: {exc or type(exc).__name__}") from None
    return out
