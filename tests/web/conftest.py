"""Browser tests: Debian's Chromium driven by Playwright against a real `vigil serve`.

One server and one browser per test module (starting them is most of a test's time); every test
gets its own browser context, so sessionStorage (the signed-in token) starts empty.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import in_ci
from tests.e2e.conftest import TOKEN, ServerProcess

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 800}


def _missing(reason: str) -> None:
    if in_ci():
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("web-data")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def admin(web_server: ServerProcess) -> Iterator[httpx.Client]:
    with web_server.client() as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        _missing("Chromium is not installed (apt-get install chromium)")
    # launch() gives the browser a fresh temporary profile of its own, deleted when it closes.
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageErrors(list):
    """Uncaught exceptions and console errors of a page (failed requests excepted: the UI reports those)."""


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    errors = PageErrors()
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}")
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.set_default_timeout(15_000)
    page.errors = errors
    yield page
    context.close()
    assert not errors, errors


def sign_in(page: Any, server: ServerProcess, token: str = TOKEN, then: str = "") -> None:
    page.goto(f"{server.url}/#/signin")
    page.fill("#token", token)
    page.click("form.signin button[type=submit]")
    page.wait_for_selector("nav[aria-label=Main]")
    if then:
        page.goto(f"{server.url}/#/{then}")


def make_token(admin: httpx.Client, role: str) -> str:
    r = admin.post("/v1/api_tokens", json={"name": f"{role} for the browser", "role": role})
    assert r.status_code == 201, r.text
    return r.json()["token"]


# Counts the canvas pixels within `tolerance` of an RGB colour, in the page (getImageData).
COUNT_COLOUR = """([selector, rgb, tolerance]) => {
  const canvas = document.querySelector(selector);
  if (!canvas) return -1;
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 200 && Math.abs(data[i] - rgb[0]) <= tolerance && Math.abs(data[i + 1] - rgb[1]) <= tolerance
        && Math.abs(data[i + 2] - rgb[2]) <= tolerance) n++;
  }
  return n;
}"""


def rgb(hex_colour: str) -> list[int]:
    return list(base64.b16decode(hex_colour.lstrip("#").upper()))


def count_colour(page: Any, selector: str, hex_colour: str, tolerance: int = 6) -> int:
    return page.evaluate(COUNT_COLOUR, [selector, rgb(hex_colour), tolerance])
