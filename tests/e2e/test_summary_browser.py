"""The impact summary in a real browser: big numbers on screen, a clean print, the executive update file."""

from __future__ import annotations

import pytest

from dashboard.core.reporting.summary import open_incident_cards
from tests.e2e.conftest import screenshot, wait_for_app

pytestmark = pytest.mark.e2e


def open_summary(page, url: str) -> None:
    page.goto(url)
    wait_for_app(page)
    # the last block drawn: once it is there, the measured figures above it are too
    page.get_by_text("Median time to detect").first.wait_for(timeout=120_000)
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=60_000)


def test_summary_shows_big_numbers_and_prints_without_the_app_around_it(page, app_url, demo_data):
    card = next(c for c in open_incident_cards(demo_data) if c.state.id == "INC-5")
    page.set_viewport_size({"width": 1440, "height": 3000})  # Streamlit scrolls inside: show the whole page
    open_summary(page, f"{app_url}/?incident=INC-5")
    values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    for figure in card.figures:
        assert figure.value.replace(" ", "") in [v.replace(" ", "") for v in values], (figure.label, values)
    big = page.locator('[data-testid="stMetricValue"]', has_text=card.figures[0].value).first
    assert big.is_visible()
    assert float(big.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 28  # a headline, not a footnote
    sidebar = page.locator('[data-testid="stSidebar"]')
    download = page.get_by_role("button", name="Download executive update (Markdown)")
    assert sidebar.is_visible() and download.is_visible()
    screenshot(page, "summary")

    page.emulate_media(media="print")
    assert sidebar.is_hidden()
    assert download.is_hidden()
    assert page.locator(".st-key-incident").is_hidden()  # the incident picker is a screen control
    assert big.is_visible()
    screenshot(page, "summary-print")
    page.emulate_media(media="screen")
    assert sidebar.is_visible()


def test_executive_update_downloads_as_markdown(page, app_url, demo_data):
    card = next(c for c in open_incident_cards(demo_data) if c.state.id == "INC-5")
    open_summary(page, f"{app_url}/?incident=INC-5")
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="Download executive update (Markdown)").click()
    download = info.value
    assert download.suggested_filename == "INC-5-executive-update.md"
    text = open(download.path(), encoding="utf-8").read()
    assert text.startswith(f"**INC-5 · {card.state.severity} · {card.state.status}**")
    assert f"**What users are seeing:** {card.users_see}" in text
    assert "**Owner:** Priya Raman (incident commander)" in text
    assert "**Risk:**" in text and "**ETA:**" in text
