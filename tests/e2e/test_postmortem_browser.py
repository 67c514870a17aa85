"""The postmortem in a real browser: the Markdown export downloads with the demo's timeline."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import screenshot, wait_for_app
from tests.fixtures import as_read

pytestmark = pytest.mark.e2e


def test_postmortem_markdown_export_carries_the_timeline(page, app_url):
    page.set_viewport_size({"width": 1440, "height": 5600})
    # reached the way an executive would: from the summary's card, and the URL then names the incident
    page.goto(f"{app_url}/?incident=INC-5")
    wait_for_app(page)
    page.get_by_role("link", name="Postmortem draft").click()
    page.get_by_text("Reproducer", exact=True).wait_for(timeout=180_000)
    assert page.url.endswith("/postmortem?incident=INC-5")
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="Download Markdown").click()
    download = info.value
    assert download.suggested_filename == "INC-5-postmortem.md"
    # the export escapes what Markdown would render (versions, names): read it as it renders
    text = as_read(open(download.path(), encoding="utf-8").read())
    rows = [ln for ln in text.splitlines() if ln.startswith("| 02-18 ")]
    assert rows, text[:2000]

    def row(time: str, source: str, *words: str) -> str:
        found = [r for r in rows if r.startswith(f"| 02-18 {time} | {source} |") and all(w in r for w in words)]
        assert found, f"no {source} row at {time} with {words}"
        return found[0]

    row("13:30", "releases", "prompt-v7 deployed")
    row("13:40", "releases", "kb-2025-02-15 deployed")
    row("14:10", "telemetry", "Alert")
    prompt = next(r for r in rows if "rolled back prompt-v7 → prompt-v6" in r)
    index = next(r for r in rows if "rolled back kb-2025-02-15 → kb-2025-02-01" in r)
    refusal, deflection = map(float, re.search(r"partial recovery: .*? ([\d.]+)% / ([\d.]+)%", prompt).groups())
    assert round(refusal) == 8 and round(deflection) == 36
    refusal, deflection = map(float, re.search(r"full recovery: .*? ([\d.]+)% / ([\d.]+)%", index).groups())
    assert round(refusal) == 5 and round(deflection) in (41, 42)
    assert any("Verification soak started" in r for r in rows)
    assert "## Action items" in text and "## Root cause and contributing artifacts" in text

    page.get_by_text("Print view (the HTML export as it prints)").click()
    frame = page.frame_locator('[data-testid="stIFrame"]').first
    frame.get_by_text("Timeline (UTC)").wait_for(timeout=30_000)
    screenshot(page, "postmortem")


def test_postmortem_link_opens_the_named_incident(page, app_url):
    page.goto(f"{app_url}/postmortem?incident=INC-3")
    wait_for_app(page)
    page.get_by_text("Reproducer", exact=True).wait_for(timeout=180_000)
    assert page.locator("h1").first.inner_text().startswith("Postmortem INC-3")
    assert page.url.endswith("/postmortem?incident=INC-3")
