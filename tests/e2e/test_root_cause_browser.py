"""The root-cause page in a real browser: the regression marked, suspects, heatmap, and one click to the cohorts."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import screenshot, wait_for_app

pytestmark = pytest.mark.e2e


def test_root_cause_page_marks_the_change_and_opens_the_cohort_comparison(page, app_url):
    page.goto(f"{app_url}/root-cause?f_tier=paid&f_language=en")
    wait_for_app(page)
    page.get_by_text("prompt prompt-v7 is the most likely cause").wait_for(timeout=60_000)
    page.wait_for_selector(".js-plotly-plot .annotation-text", state="attached", timeout=60_000)
    labels = page.eval_on_selector_all(".js-plotly-plot .annotation-text", "els => els.map(e => e.textContent)")
    assert any(text.startswith("13:30 4.0% →") for text in labels), labels
    assert "prompt: prompt-v7" in labels and "index: kb-2025-02-15" in labels
    # the heatmap writes each segment value and its change in the cells
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 2", timeout=60_000)
    heat_text = page.locator(".js-plotly-plot").nth(1).inner_text()
    assert "pts" in heat_text
    screenshot(page, "root-cause")

    page.get_by_role("link", name="Compare prompt versions").first.click()
    page.wait_for_url("**/explorer?**", timeout=30_000)
    page.get_by_text("overlapping minutes compared").wait_for(timeout=60_000)
    assert page.get_by_role("tab", name="Cohorts by version").get_attribute("aria-selected") == "true"
    # the same view: the filters came along with the link, and the address bar names them again
    page.wait_for_url(lambda url: "f_language=en" in url and "f_tier=paid" in url, timeout=30_000)
    filters = page.locator('[data-testid="stMultiSelect"]')
    assert "paid" in filters.nth(1).inner_text() and "en" in filters.nth(2).inner_text()
    screenshot(page, "explorer-cohorts-from-root-cause")


def test_an_incident_opens_prefilled_from_the_finding(page, app_url):
    page.goto(f"{app_url}/root-cause?f_tier=paid&f_language=en")
    wait_for_app(page)
    page.get_by_role("link", name="Open an incident from this finding").click()
    page.wait_for_url("**/war-room?**", timeout=30_000)
    assert "also=task_success_rate" in page.url and "also=quality_score" in page.url  # what moved with it
    page.get_by_text("Open an incident", exact=True).first.wait_for(timeout=60_000)
    page.get_by_text("Suggested severity").wait_for(timeout=60_000)
    # the draft's fields are drawn after its measured facts: wait for the last of them
    page.locator('[data-testid="stMain"] [data-testid="stSelectbox"] input[aria-label="Severity"]').wait_for(
        state="attached", timeout=60_000)
    picked = page.eval_on_selector_all(
        '[data-testid="stMain"] [data-testid="stSelectbox"] input',
        "els => Object.fromEntries(els.map(e => [e.getAttribute('aria-label'), e.value]))")
    assert picked["Signal that moved"] == "Refusal rate (refusal_rate)"
    assert picked["Tier"] == "paid" and picked["Language"] == "en" and picked["Type"] == "quality regression"
    assert page.get_by_label("Suspects (comma-separated, e.g. prompt:prompt-v7)").input_value() == (
        "prompt:prompt-v7, index:kb-2025-02-15")
    page.get_by_text(re.compile(r"^task success \(deflection\) \d")).first.wait_for(timeout=30_000)
    screenshot(page, "war-room-new-from-root-cause")


def test_the_explorer_panel_opens_the_full_analysis_of_the_same_signal(page, app_url):
    page.goto(f"{app_url}/explorer?f_tier=paid&f_language=en&signal=task_success_rate")
    wait_for_app(page)
    page.get_by_text("is the most likely cause").first.wait_for(timeout=60_000)
    page.get_by_role("link", name="Full root-cause analysis").click()
    page.wait_for_url("**/root-cause*", timeout=30_000)
    page.get_by_role("heading", name="Suspects").wait_for(timeout=60_000)
    signal = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"] input').first.input_value()
    assert "task_success_rate" in signal
    page.wait_for_url(lambda url: "signal=task_success_rate" in url and "f_tier=paid" in url, timeout=30_000)
    filters = page.locator('[data-testid="stMultiSelect"]')
    assert "paid" in filters.nth(1).inner_text() and "en" in filters.nth(2).inner_text()


def test_a_custom_range_travels_with_the_link(page, app_url):
    page.goto(f"{app_url}/explorer?range=Custom&range_from=2025-02-18T12:00&range_to=2025-02-18T15:00"
               "&f_language=en")
    wait_for_app(page)
    page.get_by_text("is the most likely cause").first.wait_for(timeout=60_000)
    page.get_by_role("link", name="Full root-cause analysis").click()
    page.wait_for_url(lambda url: "/root-cause" in url and "range_from=2025-02-18T12%3A00" in url.replace(":", "%3A")
                      and "f_language=en" in url, timeout=30_000)
    page.get_by_role("heading", name="Suspects").wait_for(timeout=60_000)
    labels = page.eval_on_selector_all(".js-plotly-plot .annotation-text", "els => els.map(e => e.textContent)")
    assert not any("index: kb-2025-02-01" in text for text in labels)  # the 15:35 rollback is outside 12:00-15:00
