"""Every SQL file says what it returns and takes exactly the parameters its callers pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from dashboard.core.datadir import DataDir, atomic_write_parquet
from dashboard.core.demo.engine import conform
from dashboard.core.telemetry import clickhouse_query
from dashboard.core.telemetry.query import QUERIES_DIR, TelemetryStore, choose_bucket, load_sql
from dashboard.core.telemetry.sketch import RELATIVE_ERROR
from tests.fixtures import STORE_ENGINES, chdb_copy

SQL_FILES = sorted(p.stem for p in QUERIES_DIR.glob("*.sql"))


@pytest.mark.parametrize("name", SQL_FILES)
def test_header_declares_what_it_returns_and_its_parameters(name):
    sql = load_sql(name)
    header = [line for line in sql.text.splitlines() if line.startswith("--")]
    assert header and header[0].startswith("-- "), f"{name}.sql needs a header comment"
    assert any("Return" in line or "returns" in line for line in header), f"{name}.sql: say what it returns"
    assert any(line.startswith("-- params:") for line in header), f"{name}.sql: declare its $params"
    assert sql.declared == sql.params, f"{name}.sql declares {sorted(sql.declared)} but uses {sorted(sql.params)}"


T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def tiny_store(tmp_path):
    """Six hand-written requests: every count below is known exactly."""
    rows = pl.DataFrame({
        "ts": [T0 + timedelta(seconds=s) for s in (5, 20, 50, 65, 70, 130)],
        "request_id": [f"r{i}" for i in range(6)],
        "service": ["bot"] * 6,
        "region": ["eu", "eu", "us", "us", "eu", "us"],
        "tier": ["paid", "free", "paid", "paid", "paid", "free"],
        "language": ["en"] * 6,
        "channel": ["web"] * 6,
        "prompt_version": ["v1", "v1", "v2", "v2", "v1", "v2"],
        "latency_ms": [100.0, 200.0, 300.0, 400.0, 500.0, 600.0],
        "refused": [True, False, True, True, False, False],
        "task_success": [False, True, False, False, True, True],
        "tool_calls": [1, 2, 0, 1, 1, 0],
        "tool_errors": [1, 0, 0, 1, 0, 0],
        "cost_usd": [0.01] * 6,
        "input_tokens": [10] * 6,
        "output_tokens": [5] * 6,
        "error_type": [None, "timeout", None, None, None, None],
    })
    data = DataDir(tmp_path / "data")
    atomic_write_parquet(conform(rows), data.requests / "tiny.parquet")
    return TelemetryStore(data)


@pytest.fixture(params=STORE_ENGINES)
def store_engine(request, tiny_store, tmp_path):
    """The tiny store's series on each engine: DuckDB over its Parquet file, or a chDB store loaded from it."""
    if request.param == "duckdb":
        return tiny_store.series
    engine = chdb_copy(tiny_store.data, tmp_path / "clickhouse")

    def series(start, end, filters=None, bucket=None):
        return clickhouse_query.series(engine, start, end, bucket, filters)

    return series


def test_series_counts_per_bucket(store_engine):
    s = store_engine(T0, T0 + timedelta(minutes=3), bucket=timedelta(minutes=1))
    assert s["requests"].to_list() == [3, 2, 1]
    assert s["refused"].to_list() == [2, 1, 0]
    assert s["errors"].to_list() == [1, 0, 0]
    assert s["tool_calls"].to_list() == [3, 2, 0]
    assert s["tool_errors"].to_list() == [1, 1, 0]
    # percentiles come from the rollups' quantile sketch: within its stated relative error
    assert s["latency_p50_ms"].to_list() == pytest.approx([200.0, 450.0, 600.0], rel=RELATIVE_ERROR)


def test_filters_and_grouping(tiny_store):
    s = tiny_store.series(T0, T0 + timedelta(minutes=3), {"tier": "paid"}, bucket=timedelta(minutes=5), by="region")
    assert dict(zip(s["grp"], s["requests"], strict=True)) == {"eu": 2, "us": 2}
    w = tiny_store.window_totals([("early", T0, T0 + timedelta(minutes=1)), ("late", T0 + timedelta(minutes=1),
                                  T0 + timedelta(minutes=3))])
    assert dict(zip(w["grp"], w["requests"], strict=True)) == {"early": 3, "late": 3}


def test_filter_values_are_parameters_not_sql(tiny_store, store_engine):
    s = store_engine(T0, T0 + timedelta(minutes=3), {"tier": ["paid' OR 1=1 --"]}, timedelta(minutes=1))
    assert s.is_empty()
    assert store_engine(T0, T0 + timedelta(minutes=3), {"tier": ["paid"]}, timedelta(minutes=1))["requests"].sum() == 4
    with pytest.raises(ValueError, match="unknown column"):
        tiny_store.series(T0, T0 + timedelta(minutes=3), {"tier; DROP TABLE x": ["a"]})


def test_caller_must_pass_exactly_the_declared_parameters(tiny_store):
    with pytest.raises(ValueError, match="takes"):
        tiny_store.run_sql("releases_in_range", {"start": T0})


def test_empty_store_answers_with_empty_results(tmp_path):
    store = TelemetryStore(DataDir(tmp_path / "nothing"))
    assert store.now() is None
    assert store.series(T0, T0 + timedelta(hours=1)).is_empty()
    assert store.releases().is_empty()


def test_new_files_are_seen_without_restarting(tiny_store):
    assert tiny_store.time_range()[2] == 6
    extra = tiny_store.series(T0, T0 + timedelta(minutes=3))  # cached now
    rows = pl.read_parquet(tiny_store.data.requests / "tiny.parquet").head(2)
    atomic_write_parquet(rows.with_columns(pl.col("request_id") + "b"), tiny_store.data.requests / "more.parquet")
    assert tiny_store.time_range()[2] == 8
    assert tiny_store.series(T0, T0 + timedelta(minutes=3))["requests"].sum() == extra["requests"].sum() + 2


@pytest.mark.parametrize("hours,expected_minutes", [(6, 1), (24, 1), (48, 2), (24 * 7, 10), (24 * 28, 30)])
def test_bucket_keeps_series_under_the_point_cap(hours, expected_minutes):
    bucket = choose_bucket(T0, T0 + timedelta(hours=hours))
    assert bucket == timedelta(minutes=expected_minutes)
    assert timedelta(hours=hours) / bucket <= 1500


def test_time_range_from_statistics_matches_a_scan_and_falls_back_without_them(tiny_store):
    from_stats = tiny_store.time_range()
    scanned = tiny_store.run_sql("time_range_scan").row(0)
    assert from_stats == (scanned[0], scanned[1], scanned[2]) == (T0 + timedelta(seconds=5),
                                                                 T0 + timedelta(seconds=130), 6)
    rows = pl.read_parquet(tiny_store.data.requests / "tiny.parquet")
    rows.with_columns(pl.col("ts") + timedelta(hours=1)).write_parquet(
        tiny_store.data.requests / "nostats.parquet", statistics=False)
    assert tiny_store.time_range() == (T0 + timedelta(seconds=5), T0 + timedelta(hours=1, seconds=130), 12)
