"""A chart's evaluated series drawn as a PNG with matplotlib (Agg, object API: no pyplot, no GUI).

Line charts draw one line per series, stacked charts one stacked area per series, big-number
charts the latest (or average) value of their first series in large type, coloured by the first
threshold it meets. Thresholds of line and stacked charts are drawn as coloured horizontal lines.
"""

from __future__ import annotations

import io
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from matplotlib import dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 100
MAX_LEGEND = 12
THRESHOLD_COLOURS = {"red": "#D62728", "yellow": "#E6B800"}
PALETTE = ("#1F77B4", "#FF7F0E", "#2CA02C", "#9467BD", "#8C564B", "#E377C2", "#7F7F7F", "#BCBD22", "#17BECF")
_OPERATORS: dict[str, Callable[[float, float], bool]] = {">": operator.gt, "<": operator.lt, "=": operator.eq}


@dataclass(frozen=True, slots=True)
class Picture:
    title: str
    type: str  # line | stacked | bignumber
    series: list[dict[str, Any]]  # {"name", "tags", "measurements", "color"?}
    thresholds: list[dict[str, Any]] | None
    start: int
    end: int
    width: int
    height: int
    label: str | None = None
    use_last_value: bool = True


def _legend_label(series: dict[str, Any]) -> str:
    tags = series.get("tags") or {}
    if not tags:
        return series["name"]
    return series["name"] + " " + ", ".join(f"{k}={v}" for k, v in sorted(tags.items()))


def _times(points: list[dict[str, Any]]) -> np.ndarray:
    return np.array([p["time"] for p in points], dtype="datetime64[s]")


def threshold_colour(value: float, thresholds: list[dict[str, Any]] | None) -> str | None:
    """The colour of the first threshold the value meets (red before yellow, as listed)."""
    for rule in sorted(thresholds or [], key=lambda t: t["type"] != "red"):
        if _OPERATORS[rule["operator"]](value, float(rule["value"])):
            return THRESHOLD_COLOURS[rule["type"]]
    return None


def big_number(picture: Picture) -> float | None:
    for series in picture.series:
        values = [p["value"] for p in series["measurements"] if p["value"] is not None]
        if values:
            return float(values[-1]) if picture.use_last_value else float(np.mean(values))
    return None


def _format_number(value: float) -> str:
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-2):
        return f"{value:.3g}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _draw_bignumber(fig: Figure, picture: Picture) -> None:
    ax = fig.add_subplot()
    ax.set_axis_off()
    value = big_number(picture)
    text = "no data" if value is None else _format_number(value)
    colour = "#333333" if value is None else threshold_colour(value, picture.thresholds) or "#222222"
    size = max(12, min(picture.height * 0.35, picture.width * 1.2 / max(len(text), 1)) * 72 / DPI)
    ax.text(0.5, 0.45, text, ha="center", va="center", fontsize=size, color=colour, fontweight="bold",
            transform=ax.transAxes)
    if picture.label:
        ax.text(0.5, 0.1, picture.label, ha="center", va="center", fontsize=10, color="#555555",
                transform=ax.transAxes)
    ax.set_title(picture.title, fontsize=12)


def _colours(picture: Picture) -> list[str]:
    out, free = [], iter(PALETTE * (len(picture.series) // len(PALETTE) + 1))
    for series in picture.series:
        out.append(series.get("color") or next(free))
    return out


def _draw_timeseries(fig: Figure, picture: Picture) -> None:
    ax = fig.add_subplot()
    colours = _colours(picture)
    drawn = [(s, c) for s, c in zip(picture.series, colours, strict=True) if s["measurements"]]
    # Thresholds first, so that their legend entries survive when the legend is cut short.
    for rule in picture.thresholds or []:
        ax.axhline(float(rule["value"]), color=THRESHOLD_COLOURS[rule["type"]], linestyle="--", linewidth=1.2,
                   label=f"{rule['operator']} {_format_number(float(rule['value']))}", zorder=3)
    if picture.type == "stacked" and drawn:
        stamps = np.unique(np.concatenate([_times(s["measurements"]) for s, _ in drawn]))
        layers = []
        for series, _ in drawn:
            by_time = {p["time"]: p["value"] for p in series["measurements"]}
            layers.append([by_time.get(int(t), 0.0) for t in stamps.astype(np.int64)])
        ax.stackplot(stamps, np.array(layers, dtype=np.float64), colors=[c for _, c in drawn],
                     labels=[_legend_label(s) for s, _ in drawn], alpha=0.85)
    else:
        for series, colour in drawn:
            points = series["measurements"]
            ax.plot(_times(points), [p["value"] for p in points], color=colour, linewidth=1.6,
                    label=_legend_label(series), marker="o" if len(points) == 1 else None)
    start = np.datetime64(picture.start, "s")
    end = np.datetime64(picture.end, "s")
    ax.set_xlim(start, end)
    locator = mdates.AutoDateLocator(tz=UTC)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
    ax.grid(True, color="#E5E5E5", linewidth=0.8)
    ax.set_axisbelow(True)
    if picture.label:
        ax.set_ylabel(picture.label)
    if not drawn:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", color="#777777", transform=ax.transAxes)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        if len(handles) > MAX_LEGEND:
            handles, labels = handles[:MAX_LEGEND], [*labels[:MAX_LEGEND - 1], f"… {len(labels) - MAX_LEGEND + 1} more"]
        ax.legend(handles, labels, loc="upper left", fontsize=8, framealpha=0.85)
    stamp = datetime.fromtimestamp(picture.end, UTC).strftime("%Y-%m-%d %H:%M UTC")
    ax.set_title(f"{picture.title}  ({stamp})", fontsize=11)


def render_png(picture: Picture) -> bytes:
    """The picture as PNG bytes of exactly `width` × `height` pixels. CPU-bound: run it in a thread."""
    fig = Figure(figsize=(picture.width / DPI, picture.height / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    fig.set_facecolor("white")
    if picture.type == "bignumber":
        _draw_bignumber(fig, picture)
    else:
        _draw_timeseries(fig, picture)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
