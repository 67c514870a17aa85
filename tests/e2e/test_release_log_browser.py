"""Releases from CI in a real browser: a late-logged and an inferred release on the Explorer's chart,
the commit and link in the marker's hover, and cohort samples that open their trace."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.links import save_links
from dashboard.core.telemetry.release_record import record_release
from tests.e2e.conftest import screenshot, start_app, wait_for_app
from tests.fixtures import version_switch_rows, write_request_rows

pytestmark = pytest.mark.e2e

SWITCH = datetime(2025, 3, 4, 12, 30, tzinfo=UTC)
TEMPLATE = "https://cloud.langfuse.com/project/p1/traces/{trace_id}"


@pytest.fixture(scope="module")
def release_app(tmp_path_factory):
    data = DataDir(tmp_path_factory.mktemp("release-log") / "data")
    rows = version_switch_rows(SWITCH, hours=3, output_tokens=(200, 320))
    rng = np.random.default_rng(3)
    rows = rows.with_columns(
        # a model change nobody logged
        pl.when(pl.col("ts") >= SWITCH + timedelta(minutes=50)).then(pl.lit("support-3.3"))
        .otherwise(pl.lit("support-3.2")).alias("model_version"),
        pl.Series("trace_id", [f"{x:032x}" for x in rng.integers(0, 2**62, rows.height)]))
    write_request_rows(data, rows)
    record_release(data, artifact="prompt", version="v13", previous="v12", author="ci-bot", commit="9f1c2e7",
                   url="https://ci.example.com/runs/881", at=SWITCH + timedelta(minutes=8))
    save_links(data, {"trace": TEMPLATE})
    proc, url = start_app(data.root)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_markers_say_how_each_release_is_known_and_hover_with_commit_and_link(page, release_app):
    page.goto(f"{release_app}/explorer")
    wait_for_app(page)
    page.wait_for_selector(".js-plotly-plot .annotation-text", state="attached", timeout=60_000)
    labels = page.eval_on_selector_all(".js-plotly-plot .annotation-text", "els => els.map(e => e.textContent)")
    assert "prompt: v13 (logged late)" in labels
    assert "model: support-3.3 (inferred)" in labels
    page.locator(".annotation-text", has_text="logged late").first.hover()
    hover = page.locator(".hoverlayer").first
    page.wait_for_function("() => document.querySelector('.hoverlayer').textContent.includes('commit')")
    text = hover.text_content()
    assert "served since 12:30, logged 12:38" in text
    assert "commit: 9f1c2e7" in text and "https://ci.example.com/runs/881" in text
    screenshot(page, "explorer-release-log")


def test_cohort_samples_link_to_their_trace(page, release_app):
    page.goto(f"{release_app}/explorer?tab=Cohorts+by+version")  # the open tab lives in the URL
    wait_for_app(page)
    page.wait_for_selector(".js-plotly-plot", state="attached", timeout=60_000)
    page.get_by_text("Sample requests of each prompt version").click(timeout=90_000)
    samples = page.locator('[data-testid="stExpander"]', has_text="Sample requests of each prompt version")
    grid = samples.locator('[data-testid="stDataFrame"]')
    grid.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    # the grid draws on a canvas; its accessible table carries each cell's value (the link's address)
    cells = grid.locator("table").first.text_content()
    assert "https://cloud.langfuse.com/project/p1/traces/" in cells and "v12" in cells and "v13" in cells
    screenshot(page, "explorer-cohort-samples")
