"""The snapshot renderer: a real PNG of the requested size, with the streams' colours in it."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from vigil.dashboards.render import THRESHOLD_COLOURS, Picture, big_number, render_png, threshold_colour

T0 = 1_700_000_000


def series(name: str, values: list[float], color: str | None = None, tags: dict | None = None) -> dict:
    return {"name": name, "tags": tags or {}, "color": color,
            "measurements": [{"time": T0 + 60 * i, "value": v} for i, v in enumerate(values)]}


def decode(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return np.asarray(image.convert("RGB"))


def pixels_of(image: np.ndarray, hex_colour: str, tolerance: int = 12) -> int:
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(image.astype(int) - rgb).max(axis=2) <= tolerance).sum())


def picture(kind: str, data: list[dict], **kwargs: object) -> Picture:
    return Picture(**{"title": "CPU", "type": kind, "series": data, "thresholds": None, "start": T0,
                      "end": T0 + 600, "width": 640, "height": 320, **kwargs})  # type: ignore[arg-type]


def test_line_chart_has_size_and_stream_colours() -> None:
    image = decode(render_png(picture("line", [series("a", [1, 5, 3, 8, 2], "#52D74C"),
                                               series("b", [4, 4, 6, 1, 0], "#1F3FD0", {"host": "x"})],
                                      thresholds=[{"operator": ">", "value": 7, "type": "red"}])))
    assert image.shape == (320, 640, 3)
    assert pixels_of(image, "#52D74C") > 200
    assert pixels_of(image, "#1F3FD0") > 200
    assert pixels_of(image, THRESHOLD_COLOURS["red"], tolerance=40) > 100  # dashed, anti-aliased


def test_stacked_chart_fills_areas() -> None:
    image = decode(render_png(picture("stacked", [series("a", [1, 2, 3, 4, 5], "#FF00AA"),
                                                  series("b", [5, 4, 3, 2, 1], "#00AAFF")], width=800, height=400)))
    assert image.shape == (400, 800, 3)
    # Areas, not lines: far more pixels than a line would have.
    assert pixels_of(image, "#FF00AA", tolerance=40) > 5_000
    assert pixels_of(image, "#00AAFF", tolerance=40) > 5_000


def test_bignumber_is_coloured_by_threshold() -> None:
    thresholds = [{"operator": ">", "value": 90, "type": "red"}, {"operator": ">", "value": 50, "type": "yellow"}]
    hot = decode(render_png(picture("bignumber", [series("a", [10, 95])], thresholds=thresholds)))
    warm = decode(render_png(picture("bignumber", [series("a", [10, 60])], thresholds=thresholds)))
    cool = decode(render_png(picture("bignumber", [series("a", [10, 20])], thresholds=thresholds)))
    assert pixels_of(hot, THRESHOLD_COLOURS["red"]) > 300 and pixels_of(hot, THRESHOLD_COLOURS["yellow"]) == 0
    assert pixels_of(warm, THRESHOLD_COLOURS["yellow"]) > 300 and pixels_of(warm, THRESHOLD_COLOURS["red"]) == 0
    assert pixels_of(cool, THRESHOLD_COLOURS["red"]) == 0 and pixels_of(cool, THRESHOLD_COLOURS["yellow"]) == 0
    assert (cool < 100).all(axis=2).sum() > 300  # the number itself, in near-black


def test_big_number_value_and_threshold_rules() -> None:
    data = [series("a", [10, 20, 60])]
    assert big_number(picture("bignumber", data)) == 60
    assert big_number(picture("bignumber", data, use_last_value=False)) == 30
    assert big_number(picture("bignumber", [])) is None
    rules = [{"operator": "=", "value": 5, "type": "yellow"}, {"operator": "<", "value": 10, "type": "red"}]
    assert threshold_colour(5, rules) == THRESHOLD_COLOURS["red"]  # red wins when both hold
    assert threshold_colour(12, rules) is None
    assert threshold_colour(5, None) is None


def test_empty_chart_still_renders() -> None:
    image = decode(render_png(picture("line", [series("a", [])])))
    assert image.shape == (320, 640, 3)
