"""The app on a chDB store in a real browser: the summary's impact figures are the ones the core measures
on the DuckDB store of the same data."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dashboard.cli.app_process import wait_until_settled
from dashboard.core.reporting.summary import open_incident_cards
from dashboard.core.telemetry.user_sketch import BOUND as USERS_BOUND
from tests.e2e.conftest import screenshot, start_app, stop_app
from tests.fixtures import copy_store

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def chdb_app(chdb_pair, tmp_path_factory):
    """The app process over a copy of the pair's data folder and its own chDB store (the app's process
    holds the store's folder, so it cannot share the test session's)."""
    data, _ = chdb_pair
    root = tmp_path_factory.mktemp("e2e_chdb")
    copy = copy_store(data.root, root / "data")
    folder = root / "clickhouse"
    # loaded by the CLI in its own process: this one keeps no chDB session on the folder
    subprocess.run([sys.executable, "-m", "dashboard.cli", "store", "load", "--data", str(copy.root),
                    "--store", f"chdb:{folder}"], check=True, capture_output=True)
    (copy.root / "warroom.toml").write_text(f'[store]\nengine = "chdb"\npath = "{folder}"\n')
    proc, url = start_app(copy.root)
    yield url
    stop_app(proc)


def test_summary_on_chdb_shows_the_duckdb_figures(page, chdb_app, chdb_pair):
    data, _ = chdb_pair
    cards = open_incident_cards(data)  # measured on the DuckDB store (the pair's folder has no [store])
    assert cards and cards[0].figures, "the demo days have an open incident with measured impact"
    page.set_viewport_size({"width": 1440, "height": 3000})
    page.goto(f"{chdb_app}/?incident={cards[0].state.id}")
    wait_until_settled(page)
    assert not page.get_by_text("could not be drawn").count()
    values = [v.replace(" ", "") for v in page.locator('[data-testid="stMetricValue"]').all_inner_texts()]
    for figure in cards[0].figures:
        if figure.label == "Users affected":  # DuckDB's count is a sketch within its bound; ClickHouse's is exact
            metric = page.locator('[data-testid="stMetric"]').filter(has_text="Users affected")
            exact = int(metric.locator('[data-testid="stMetricValue"]').inner_text().replace(",", ""))
            approx = int(figure.value.replace(",", ""))
            assert exact > 0 and abs(approx - exact) <= USERS_BOUND * exact, (approx, exact)
            continue
        assert figure.value.replace(" ", "") in values, (figure.label, figure.value, values)
    screenshot(page, "summary-chdb")
