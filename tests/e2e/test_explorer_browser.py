"""The explorer in a real browser: the chart renders with a marker for every release."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot, wait_for_app

pytestmark = pytest.mark.e2e


def test_explorer_shows_release_markers_on_the_incident_day(page, app_url):
    page.goto(f"{app_url}/explorer?f_tier=paid&f_language=en")
    wait_for_app(page)
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    chart.wait_for(timeout=60_000)
    page.wait_for_selector(".js-plotly-plot .shapelayer path", state="attached", timeout=60_000)
    labels = page.eval_on_selector_all(".js-plotly-plot .annotation-text", "els => els.map(e => e.textContent)")
    for expected in ("prompt: prompt-v7", "index: kb-2025-02-15", "prompt: prompt-v6", "index: kb-2025-02-01"):
        assert expected in labels
    assert page.locator(".js-plotly-plot").first.locator(".shapelayer path").count() >= 4
    # the view lives in the URL: the filters came from it
    assert "paid" in page.locator('[data-testid="stMultiSelect"]').nth(1).inner_text()
    screenshot(page, "explorer")


def test_cohort_tab_compares_prompt_versions(page, app_url):
    page.goto(f"{app_url}/explorer?f_tier=paid&f_language=en")
    wait_for_app(page)
    page.get_by_role("tab", name="Cohorts by version").click()
    page.get_by_text("overlapping minutes compared").wait_for(timeout=60_000)
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.wait_for(timeout=30_000)
    screenshot(page, "explorer-cohorts")
