"""Browser-test layer: the real app in a subprocess, driven by Debian's headless Chromium."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

# the app process and the drawn-page wait are the package's (the browser-wait benchmark uses them too)
from dashboard.cli.app_process import free_port as _free_port  # noqa: F401 - imported by the browser tests
from dashboard.cli.app_process import start_app, stop_app, wait_for_app  # noqa: F401 - likewise
from tests.fixtures import REPO_ROOT, copy_store

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it (scripts/install-system-deps.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture(scope="session")
def app_url(demo_data, tmp_path_factory):
    """The app over a private copy of the demo week (browser tests write incidents)."""
    root = tmp_path_factory.mktemp("e2e") / "data"
    copy_store(demo_data.root, root)
    proc, url = start_app(root)
    yield url
    stop_app(proc)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    pg = context.new_page()
    yield pg
    context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # Streamlit scrolls inside its main block, so a "full page" shot is only the viewport:
    # grow the viewport to the content's height for the shot, then put it back
    size = page.viewport_size
    height = page.evaluate("() => Math.max(...[...document.querySelectorAll("
                           "'[data-testid=\"stMain\"], [data-testid=\"stMainBlockContainer\"], section')]"
                           ".map(e => e.scrollHeight), document.body.scrollHeight)")
    page.set_viewport_size({"width": size["width"], "height": min(max(height + 80, size["height"]), 9000)})
    page.wait_for_timeout(600)  # charts re-lay out to the new size
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path
