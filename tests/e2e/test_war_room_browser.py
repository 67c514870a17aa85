"""The war room in a real browser: open an incident from a link, post, verify, watch the soak, close.

The app runs over its own copy of the demo week (this test appends telemetry
with `warroom simulate --minutes`, which other browser tests must not see).
The soak's progress reaching "passed" without a page reload is the live
fragment at work.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from dashboard.core.datadir import DataDir
from dashboard.core.incident.service import Incidents
from tests.e2e.conftest import screenshot, start_app, wait_for_app
from tests.fixtures import REPO_ROOT, copy_store

pytestmark = pytest.mark.e2e
NAME = "Robin Commander"
LINK = ("/war-room?new=1&signal=refusal_rate&f_tier=paid&f_language=en"
        "&start=2025-02-18T13:30:00Z&suspect=prompt:prompt-v7&suspect=index:kb-2025-02-15&source=explorer")


@pytest.fixture(scope="module")
def room(demo_data, tmp_path_factory):
    """(url, data folder) of an app over a private copy of the demo week."""
    root = tmp_path_factory.mktemp("e2e-war-room") / "data"
    copy_store(demo_data.root, root)
    proc, url = start_app(root)
    yield url, DataDir(root)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def simulate(data: DataDir, minutes: int) -> None:
    """Feed telemetry into the app's data folder, as `warroom simulate --minutes N` does."""
    subprocess.run([sys.executable, "-m", "dashboard.cli", "simulate", "--data", str(data.root),
                    "--minutes", str(minutes)], cwd=REPO_ROOT, check=True, capture_output=True, timeout=300)


def set_name(page, name: str = NAME) -> None:
    box = page.get_by_role("textbox", name="Your name")
    box.fill(name)
    box.press("Enter")
    page.get_by_text("Set your name before changing anything").wait_for(state="detached", timeout=30_000)
    wait_for_app(page)


def shot(page, name: str, last_tab: str | None = "Timeline") -> None:
    """Screenshot of the whole page: Streamlit scrolls inside its own container, so grow the viewport."""
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1440, "height": max(1000, min(int(height) + 100, 6000))})
    wait_for_app(page)
    if last_tab:
        page.get_by_role("tab", name=last_tab).wait_for(timeout=60_000)  # the room is drawn to its end
    page.wait_for_timeout(1500)  # grids paint on a canvas after they attach
    screenshot(page, name)
    page.set_viewport_size({"width": 1440, "height": 1000})


def tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def test_the_demo_incident_opens_live_in_monitoring(page, room):
    url, _ = room
    page.goto(f"{url}/war-room")
    wait_for_app(page)
    page.get_by_text(re.compile(r"^As of 2025-02-18 16:14")).wait_for(timeout=60_000)
    assert page.locator("h3", has_text="INC-5").count() == 1
    progress = page.locator('[data-testid="stProgress"]').first
    assert "soaking" in progress.inner_text()
    shot(page, "war-room-demo-incident")

    # live telemetry arrives (a simulated minute per real second); the open page follows without a reload
    url_before = page.url
    subprocess.run([sys.executable, "-m", "dashboard.cli", "simulate", "--data", str(room[1].root), "--live",
                    "--speed", "60", "--duration", "6", "--flush-every", "2"],
                   cwd=REPO_ROOT, check=True, capture_output=True, timeout=120)
    page.get_by_text(re.compile(r"^As of 2025-02-18 16:(1[6-9]|2\d)")).wait_for(timeout=30_000)
    assert page.url == url_before
    progress = page.locator('[data-testid="stProgress"]').first.inner_text()
    assert re.search(r"(soaking: \d+% done|soak passed)", progress)

    page.goto(f"{url}/war-room?incident=INC-1")
    wait_for_app(page)
    page.locator("h3", has_text="INC-1").wait_for(timeout=60_000)
    tab(page, "Verification & close")
    page.get_by_text("Resolved after the soak passed").wait_for(timeout=30_000)


def test_open_post_verify_refused_then_closed_after_the_soak(page, room):
    url, data = room
    incidents = Incidents.for_data_dir(data)
    page.goto(url + LINK)
    wait_for_app(page)
    page.get_by_text("Suggested severity").wait_for(timeout=60_000)
    set_name(page)
    shot(page, "war-room-new-incident-form", last_tab=None)
    page.get_by_role("button", name="Open incident").click()
    page.get_by_text("opened as Robin Commander").wait_for(timeout=60_000)
    wait_for_app(page)
    new = max(incidents.list(), key=lambda s: int(s.id.split("-")[1]))
    assert new.segments == {"tier": "paid", "language": "en"} and new.source == "explorer"
    assert new.suspects == ["prompt:prompt-v7", "index:kb-2025-02-15"]
    assert page.locator("h3", has_text=new.id).count() == 1

    # post an update from the template
    tab(page, "Comms")
    page.get_by_role("button", name="Post update to executives").click()
    page.get_by_text("Update to executives posted").first.wait_for(timeout=60_000)
    assert incidents.get(new.id).updates[-1].by == NAME
    page.locator('[data-testid="stCode"]').first.wait_for(timeout=30_000)  # copy-as-Markdown block
    shot(page, "war-room-comms")

    # mitigation in place: monitoring, then verification from the proposed defaults starts the soak
    wait_for_app(page)  # the post's rerun done: a rerun still drawing shows the old, disabled button beside the new
    page.get_by_role("radio", name="monitoring", exact=True).check(force=True)
    wait_for_app(page)
    page.get_by_role("button", name="Change status").click()
    page.get_by_text("Status monitoring recorded").wait_for(timeout=60_000)
    wait_for_app(page)
    tab(page, "Verification & close")
    page.get_by_role("button", name="Define verification").click()
    page.get_by_text("Verification recorded").wait_for(timeout=60_000)
    wait_for_app(page)
    state = incidents.get(new.id)
    assert state.soak.started_at is not None and state.verification[0].signal == "refusal_rate"
    progress = page.locator('[data-testid="stProgress"]').first
    progress.wait_for(timeout=60_000)
    assert re.search(r"soaking: \d+% done, \d+ min left", progress.inner_text())

    # refused while soaking, with the reasons
    tab(page, "Verification & close")
    page.get_by_role("button", name="Resolve incident").click()
    refusal = page.get_by_text("Close refused")
    refusal.wait_for(timeout=60_000)
    assert "min left" in page.locator('[data-testid="stAlert"]', has_text="Close refused").inner_text()
    assert incidents.get(new.id).is_open
    shot(page, "war-room-close-refused")

    # an hour and more of recovered telemetry arrives; the live part notices without a reload
    simulate(data, 70)
    page.get_by_text("soak passed: every metric held for its whole window").first.wait_for(timeout=90_000)
    wait_for_app(page)
    assert incidents.get(new.id).soak.passed_at is not None  # the pass is on the timeline
    # recording the pass reloads the whole page: the close panel now allows it
    page.get_by_text("The soak passed: every metric held for its whole window").wait_for(timeout=60_000)
    shot(page, "war-room-soak-passed")
    tab(page, "Verification & close")
    page.get_by_role("button", name="Resolve incident").click()
    page.get_by_text("Resolved recorded").wait_for(timeout=60_000)
    wait_for_app(page)
    closed = incidents.get(new.id)
    assert closed.status == "resolved" and closed.closed_via == "soak" and closed.resolved_by == NAME
    tab(page, "Timeline")
    page.get_by_text("Resolved after the verification soak passed").first.wait_for(timeout=30_000)
    shot(page, "war-room-resolved")
