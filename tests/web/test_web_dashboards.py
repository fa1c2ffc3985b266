"""Spaces, charts, the chart editor and the metrics explorer in a real Chromium against `vigil serve`."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ServerProcess
from tests.web.conftest import count_colour, make_token, sign_in

pytestmark = pytest.mark.e2e

TEAL = "#12b886"
ORANGE = "#e8590c"
ANNOTATION = "#7b4fd6"  # the UI's annotation colour (web/src/chart.js)


@pytest.fixture(scope="module")
def board(admin: httpx.Client) -> dict[str, Any]:
    now = int(time.time()) // 60 * 60
    measurements = []
    for i in range(30):  # the last half hour, a point a minute per host
        t = now - 1800 + i * 60
        measurements += [{"name": "app.requests", "value": 10 + i % 5, "time": t, "tags": {"host": "web1"}},
                         {"name": "app.requests", "value": 40 + i % 3, "time": t, "tags": {"host": "web2"}},
                         {"name": "app.latency", "value": 100 + i, "time": t, "tags": {"host": "web1"}}]
    measurements.append({"name": "app.errors", "value": 95, "time": now - 60, "tags": {"host": "web1"}})
    r = admin.post("/v1/measurements", json={"measurements": measurements})
    assert r.json()["measurements"]["summary"]["accepted"] == len(measurements), r.text
    assert admin.post("/v1/annotations/deploys", json={"title": "deploy 42", "start_time": now - 900,
                                                       "end_time": now - 600}).status_code == 201
    space = admin.post("/v1/spaces", json={"name": "Web"}).json()
    requests = admin.post(f"/v1/spaces/{space['id']}/charts", json={
        "name": "Requests", "type": "line",
        "streams": [{"metric": "app.requests", "group_function": "breakout", "color": TEAL, "units_short": "req/s",
                     "units_long": "requests per second", "tags": [{"name": "@host", "dynamic": True}]}]}).json()
    errors = admin.post(f"/v1/spaces/{space['id']}/charts", json={
        "name": "Errors now", "type": "bignumber", "streams": [{"metric": "app.errors", "units_short": "%"}],
        "thresholds": [{"operator": ">", "value": 50, "type": "yellow"},
                       {"operator": ">", "value": 90, "type": "red"}]}).json()
    other = admin.post("/v1/spaces", json={"name": "Latency"}).json()
    latency = admin.post(f"/v1/spaces/{other['id']}/charts", json={
        "name": "Latency", "streams": [{"metric": "app.latency", "color": TEAL}]}).json()
    return {"space": space["id"], "requests": requests["id"], "errors": errors["id"], "other": other["id"],
            "latency": latency["id"]}


def card(chart_id: int) -> str:
    return f'section.chart-card[data-chart-id="{chart_id}"]'


def wait_drawn(page: Any, chart_id: int, after: str | None = None) -> str:
    """Waits until the chart has been (re)drawn since `after` (its data-drawn stamp); returns the stamp."""
    page.wait_for_function("([sel, after]) => { const c = document.querySelector(sel); "
                           "return c && c.dataset.drawn && c.dataset.drawn !== after; }", arg=[card(chart_id), after])
    return page.get_attribute(card(chart_id), "data-drawn")


def test_sign_in_explains_refused_tokens(page: Any, web_server: ServerProcess, admin: httpx.Client, board) -> None:
    page.goto(f"{web_server.url}/")
    page.wait_for_selector("#token")
    assert page.evaluate("location.hash") == "#/signin"
    page.fill("#token", "no-such-token")
    page.click("form.signin button[type=submit]")
    page.wait_for_selector(".notice.error")
    assert "unknown or inactive" in page.inner_text(".notice.error")
    page.fill("#token", make_token(admin, "recorder"))
    page.click("form.signin button[type=submit]")
    page.wait_for_selector("text=recorder token: it can submit data but not read it")
    sign_in(page, web_server)
    page.wait_for_selector("#space-list")
    assert page.inner_text("#space-list").splitlines()[:1] == ["Latency"] or "Web" in page.inner_text("#space-list")
    assert page.inner_text(".top .role") == "admin"
    page.click("text=Sign out")
    page.wait_for_selector("#token")
    assert page.evaluate("sessionStorage.getItem('vigil.token')") is None


def test_space_draws_charts_with_their_colours_thresholds_and_annotations(page: Any, web_server: ServerProcess,
                                                                          board) -> None:
    sign_in(page, web_server, then=f"spaces/{board['space']}")
    wait_drawn(page, board["requests"])
    canvas = f"{card(board['requests'])} canvas"
    assert count_colour(page, canvas, TEAL) > 50  # the first series is drawn in the stream's colour
    assert count_colour(page, canvas, ANNOTATION) > 20  # the deploy annotation's line
    legend = page.inner_text(f"{card(board['requests'])} .legend")
    assert "app.requests (host=web1)" in legend and "app.requests (host=web2)" in legend
    # The big number: 95 > 90 holds, so red wins over yellow.
    wait_drawn(page, board["errors"])
    big = page.locator(f"{card(board['errors'])} .bignumber")
    assert big.get_attribute("data-state") == "red"
    assert big.locator(".big-value").inner_text() == "95 %"

    # Hover: a tooltip with the time, the series and their values in the stream's units.
    box = page.locator(f"{card(board['requests'])} .u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    tip = page.locator(f"{card(board['requests'])} .chart-tip")
    tip.wait_for(state="visible")
    assert re.search(r"app\.requests \(host=web1\)\s*1\d req/s", tip.inner_text())
    # The keyboard does the same: focus the plot, move with the arrows.
    page.mouse.move(0, 0)
    page.focus(f"{card(board['requests'])} .plot")
    page.keyboard.press("End")
    tip.wait_for(state="visible")
    assert "host=web2" in tip.inner_text()

    # The dynamic tag @host became a drop-down filtering every chart of the space.
    stamp = page.get_attribute(card(board["requests"]), "data-drawn")
    page.wait_for_function("() => document.querySelectorAll('#tag-host option').length === 3")
    page.select_option("#tag-host", "web2")
    wait_drawn(page, board["requests"], stamp)
    assert "host=web2" in page.inner_text(f"{card(board['requests'])} .legend")
    assert "host=web1" not in page.inner_text(f"{card(board['requests'])} .legend")
    assert "tag.host=web2" in page.evaluate("location.hash")

    # Another time range redraws; it is kept in the address.
    stamp = page.get_attribute(card(board["requests"]), "data-drawn")
    page.click(".segmented label:has-text('6h')")
    wait_drawn(page, board["requests"], stamp)
    assert "range=6h" in page.evaluate("location.hash")


def test_edit_a_chart_with_preview_and_inline_errors(page: Any, web_server: ServerProcess, admin: httpx.Client,
                                                     board) -> None:
    sign_in(page, web_server, then=f"spaces/{board['other']}")
    wait_drawn(page, board["latency"])
    page.click(f"{card(board['latency'])} a:has-text('Edit')")
    page.wait_for_selector("#preview-chart canvas")
    assert count_colour(page, "#preview-chart canvas", TEAL) > 50

    # A broken composite: the server's error shows at the field, nothing is saved.
    page.check("fieldset.stream input[value=composite]")
    composite = page.locator("fieldset.stream .composite-part textarea")
    composite.fill('sum(s("app.latency"')
    page.click("#preview-button")
    error = page.locator("fieldset.stream .composite-part .field-error")
    error.wait_for(state="visible")
    assert "column" in error.inner_text()
    assert composite.get_attribute("aria-invalid") == "true"
    page.click("#save-chart")
    page.wait_for_selector("text=The chart was not saved")
    assert admin.get(f"/v1/spaces/{board['other']}/charts/{board['latency']}").json()["streams"][0]["metric"] == \
        "app.latency"

    # Back to the metric, a new colour and a transform; preview, then save.
    page.check("fieldset.stream input[value=metric]")
    page.fill("fieldset.stream input[type=color]", ORANGE)
    page.fill("fieldset.stream input[placeholder^='e.g. x']", "x / 1000")
    page.fill("fieldset.stream .field:has(label:text-is('Units (short)')) input", "s")
    page.click("#preview-button")
    page.wait_for_function("() => document.querySelector('#preview-chart .legend')?.innerText.includes(' s')")
    assert count_colour(page, "#preview-chart canvas", ORANGE) > 50
    page.click("#save-chart")
    page.wait_for_function(f"() => location.hash === '#/spaces/{board['other']}'")
    wait_drawn(page, board["latency"])
    assert count_colour(page, f"{card(board['latency'])} canvas", ORANGE) > 50
    assert count_colour(page, f"{card(board['latency'])} canvas", TEAL) == 0
    stream = admin.get(f"/v1/spaces/{board['other']}/charts/{board['latency']}").json()["streams"][0]
    assert (stream["color"], stream["transform_function"], stream["units_short"]) == (ORANGE, "x / 1000", "s")
    # The latest latency point is 100 + 29 = 129, divided by 1000.
    assert "0.129 s" in page.inner_text(f"{card(board['latency'])} .legend")


def test_spaces_are_created_renamed_and_deleted(page: Any, web_server: ServerProcess, admin: httpx.Client,
                                                board) -> None:
    sign_in(page, web_server)
    page.fill("#new-space-name", "Web")
    page.click("form.inline-form button:has-text('Create')")
    page.wait_for_selector("text=has already been taken")  # names are unique regardless of case
    page.fill("#new-space-name", "Scratch")
    page.click("form.inline-form button:has-text('Create')")
    page.wait_for_selector("h1:has-text('Scratch')")
    page.wait_for_selector("text=This space has no charts yet.")
    page.click("a:has-text('Spaces')")
    page.click("button[aria-label='Rename Scratch']")
    page.fill("input[aria-label='New name for Scratch']", "Scratch 2")
    page.keyboard.press("Enter")
    page.wait_for_selector("a.space-link:has-text('Scratch 2')")
    page.click("button[aria-label='Delete Scratch 2']")
    page.click("dialog button[value=ok]")
    page.wait_for_selector("text=Space Scratch 2 deleted")
    assert "Scratch" not in [s["name"] for s in admin.get("/v1/spaces").json()["spaces"]]


def test_viewer_sees_everything_and_no_edit_controls(page: Any, web_server: ServerProcess, admin: httpx.Client,
                                                     board) -> None:
    sign_in(page, web_server, token=make_token(admin, "viewer"), then=f"spaces/{board['space']}")
    wait_drawn(page, board["requests"])
    assert count_colour(page, f"{card(board['requests'])} canvas", TEAL) > 50
    assert page.inner_text(".top .role") == "viewer"
    assert page.locator("text=Add chart").count() == 0
    assert page.locator(".chart-card .actions").count() == 0
    page.goto(f"{web_server.url}/#/spaces")
    page.wait_for_selector("#space-list")
    assert page.locator("#new-space-name").count() == 0
    assert page.locator("#space-list button").count() == 0
    page.goto(f"{web_server.url}/#/spaces/{board['space']}/charts/{board['requests']}")
    page.wait_for_selector("text=Only admin tokens can change charts.")
    page.goto(f"{web_server.url}/#/metrics/app.requests")
    page.wait_for_selector("#metric-plot canvas")
    assert page.locator("text=Edit properties").count() == 0


def test_a_token_deactivated_in_use_returns_to_sign_in(page: Any, web_server: ServerProcess, admin: httpx.Client,
                                                       board) -> None:
    created = admin.post("/v1/api_tokens", json={"name": "short-lived", "role": "viewer"}).json()
    sign_in(page, web_server, token=created["token"], then=f"spaces/{board['space']}")
    wait_drawn(page, board["requests"])
    # "Refresh now" during the first load joins it (its requests went out with the token still active).
    page.wait_for_selector(".refresh-status:has-text('Last updated')")
    token_id = created["href"].rsplit("/", 1)[1]
    assert admin.put(f"/v1/api_tokens/{token_id}", json={"active": False}).status_code == 200
    page.click("button:has-text('Refresh now')")
    page.wait_for_selector("#token")
    assert "Sign in again with an active token" in page.inner_text(".signin .notice.error")
    # Signing in again brings the user back where they were.
    page.fill("#token", make_token(admin, "viewer"))
    page.click("form.signin button[type=submit]")
    wait_drawn(page, board["requests"])
    assert page.evaluate("() => location.hash").startswith(f"#/spaces/{board['space']}")


def test_metrics_explorer_searches_and_plots_with_filters(page: Any, web_server: ServerProcess, board) -> None:
    sign_in(page, web_server, then="metrics")
    page.fill("#metric-search", "latency")
    page.wait_for_function("() => document.querySelector('#metric-list').innerText.trim() === 'app.latency'")
    page.fill("#metric-search", "app.")
    page.wait_for_function("() => document.querySelectorAll('#metric-list a').length === 3")
    page.click("#metric-list a:has-text('app.requests')")
    page.wait_for_selector("#metric-plot canvas")
    assert page.locator("#metric-plot .legend li").count() == 2
    page.click("button:has-text('Add filter')")
    page.fill(".filter-name", "host")
    page.fill(".filter-value", "web2")
    page.select_option("#plot-summary", "max")
    page.click("#plot-button")
    page.wait_for_function("() => document.querySelectorAll('#metric-plot .legend li').length === 1")
    assert "host=web2" in page.inner_text("#metric-plot .legend")
    page.fill("#plot-group-by", "*")
    page.select_option("#plot-group-fn", "sum")
    page.locator("#plot-group-by").press("Enter")
    page.wait_for_function("() => !document.querySelector('#metric-plot .legend').innerText.includes('host=')")
    # Properties are edited in place.
    page.fill("#m-display-name", "Requests served")
    page.click("button:has-text('Save properties')")
    page.wait_for_selector("dl.props dd:text-is('Requests served')")


def test_narrow_window(page: Any, web_server: ServerProcess, board) -> None:
    page.set_viewport_size({"width": 390, "height": 800})
    sign_in(page, web_server, then=f"spaces/{board['space']}")
    wait_drawn(page, board["requests"])
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.locator(f"{card(board['requests'])} canvas").bounding_box()["width"] <= 390
