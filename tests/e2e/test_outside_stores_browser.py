"""Every page in a real browser on each outside-shaped store: no exception, no failure box, screenshots kept."""

from __future__ import annotations

import subprocess

import pytest

from tests.e2e.conftest import screenshot, start_app, wait_for_app
from tests.fixtures import OUTSIDE_STORES, build_outside_store

pytestmark = pytest.mark.e2e
# page name -> URL path (the landing summary is the default page, served at the root)
PAGES = {"summary": "", "explorer": "explorer", "root-cause": "root-cause", "war-room": "war-room",
         "postmortem": "postmortem", "slos": "slos"}


@pytest.fixture(scope="module", params=OUTSIDE_STORES)
def outside_app(request, tmp_path_factory):
    data = build_outside_store(request.param, tmp_path_factory.mktemp(f"e2e-{request.param}") / "data")
    proc, url = start_app(data.root)
    yield request.param, url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def settle(page, quiet_ms: int = 2000, timeout_s: float = 120) -> None:
    """Wait until the page has run and its element count has not changed for `quiet_ms` (charts drawn too)."""
    import time

    wait_for_app(page)
    deadline, last = time.time() + timeout_s, -1
    while time.time() < deadline:
        count = page.evaluate("() => document.querySelectorAll('[data-testid=\"stElementContainer\"]').length"
                              " + document.querySelectorAll('.js-plotly-plot .main-svg').length")
        running = page.locator('[data-testid="stStatusWidget"]').count()
        if count == last and not running:
            return
        last = count
        page.wait_for_timeout(quiet_ms)


def test_every_page_opens_on_outside_data(page, outside_app):
    name, url = outside_app
    page.set_viewport_size({"width": 1440, "height": 2200})
    for path, url_path in PAGES.items():
        page.goto(f"{url}/{url_path}")
        settle(page)
        shot = screenshot(page, f"outside-{name}-{path}")
        assert page.get_by_text("Page not found").count() == 0, (name, path, shot)
        assert page.locator('[data-testid="stException"]').count() == 0, (name, path, shot)
        assert page.get_by_text("could not be drawn").count() == 0, (name, path, shot)
        assert page.get_by_text("Traceback").count() == 0, (name, path, shot)
