"""`warroom bench query --store chdb:PATH`: the benchmark's page views on both stores, with the series compared."""

from __future__ import annotations

import json

import pytest

from dashboard.core.bench.query import explorer_queries, week_queries
from dashboard.core.telemetry.query import TelemetryStore
from tests.fixtures import run_cli

pytestmark = pytest.mark.slow  # every view of the page, on two engines


def test_the_engine_bench_times_every_view_on_both_stores_and_the_series_agree(chdb_pair):
    data, folder = chdb_pair
    run = run_cli("bench", "query", "--data", str(data.root), "--store", f"chdb:{folder}", "--repeats", "1", "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    store = TelemetryStore(data, cache=False)
    assert [v["name"] for v in result["views"]] == [n for n, _ in explorer_queries(store) + week_queries(store)]
    series = [v for v in result["views"] if v["same_answer"] is not None]
    assert len(series) >= 5 and all(v["same_answer"] for v in series), series  # the day's and week's series
    assert [p["name"] for p in result["pages"]] == ["whole page view, incident day", "whole page view, week"]
    assert all(v["duckdb_s"] > 0 and v["chdb_s"] > 0 for v in result["views"] + result["pages"])
    assert result["chdb_load_s"] is None  # already loaded: nothing was written into the store
