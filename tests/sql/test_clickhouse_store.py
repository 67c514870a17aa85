"""The ClickHouse store on the real engine (chDB): schema and migrations, loading a Parquet store,
and the same answers as the DuckDB store on the same demo data (counts exact, quantiles within the bound)."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import polars as pl
import pytest

from dashboard.cli import main
from dashboard.core.telemetry import clickhouse_query, clickhouse_schema
from dashboard.core.telemetry.clickhouse import ChdbEngine
from dashboard.core.telemetry.clickhouse_sql import DUCKDB_ONLY, PORTED
from dashboard.core.telemetry.contract import read_schema
from dashboard.core.telemetry.query import QUERIES_DIR, TelemetryStore
from dashboard.core.telemetry.signals import COUNTS
from dashboard.core.telemetry.sketch import RELATIVE_ERROR
from tests.fixtures import build_demo_week

pytestmark = pytest.mark.slow  # a demo store built and loaded into ClickHouse (about a minute)

QUANTILES = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms")
MOMENTS = ("log_latency_mean", "log_latency_var", "log_cost_mean", "log_cost_var", "log_ttft_mean", "log_ttft_var",
           "log_input_tokens_mean", "log_input_tokens_var", "log_output_tokens_mean", "log_output_tokens_var",
           "input_tokens_var", "output_tokens_var", "quality_var")


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """A two-day demo store, as DuckDB reads it and loaded into a chDB store by `warroom store load`."""
    root = tmp_path_factory.mktemp("ch") / "data"
    data = build_demo_week(root, days=2, rps=1.0, with_incidents=False)
    folder = tmp_path_factory.mktemp("ch") / "clickhouse"
    assert main(["store", "load", "--data", str(data.root), "--store", f"chdb:{folder}"]) == 0
    return data, TelemetryStore(data, cache=False), ChdbEngine(folder), folder


def _compare(duck: pl.DataFrame, ch: pl.DataFrame) -> None:
    assert duck.height == ch.height > 0
    assert duck["bucket"].to_list() == ch["bucket"].to_list()
    for c in COUNTS:
        a, b = duck[c.name].to_list(), ch[c.name].to_list()
        if c.name in ("quality_sum", "cost_usd"):  # float sums: the same values added in another order
            assert a == pytest.approx(b, rel=1e-12), c.name
        else:
            assert a == b, c.name
    for q in (*QUANTILES, "ttft_p50_ms"):  # the same histogram bins: the same reported value
        assert duck[q].to_list() == pytest.approx(ch[q].to_list(), rel=1e-12), q
    for m in MOMENTS:  # from the same sums, added in another order
        assert duck[m].to_list() == pytest.approx(ch[m].to_list(), rel=1e-9, abs=1e-12), m


def test_migrate_is_versioned_and_idempotent(both):
    data, _, engine, folder = both
    assert clickhouse_schema.applied_version(engine) == clickhouse_schema.SCHEMA_VERSION
    assert clickhouse_schema.migrate(engine, read_schema(data)) == []
    tables = set(engine.query("SELECT name FROM system.tables WHERE database = currentDatabase()")["name"])
    assert {"requests", "releases", "quarantine", "rollup_minute", "rollup_hour", "rollup_minute_mv",
            "rollup_hour_mv", "warroom_schema"} <= tables
    engines = dict(engine.query("SELECT name, engine FROM system.tables WHERE database = currentDatabase()")
                   .select("name", "engine").iter_rows())
    assert engines["requests"] == "MergeTree" and engines["rollup_hour"] == "AggregatingMergeTree"
    # loading twice would count every request twice: refused
    assert main(["store", "load", "--data", str(data.root), "--store", f"chdb:{folder}"]) == 2


def test_every_row_loaded_and_rolled_up(both):
    data, duck, engine, _ = both
    _, _, n = duck.time_range()
    assert clickhouse_schema.stored_requests(engine) == n
    for grain in ("minute", "hour"):
        assert engine.query(f"SELECT sum(requests) AS n FROM rollup_{grain}")["n"][0] == n
    releases = duck.releases()
    assert engine.query("SELECT count() AS n FROM releases")["n"][0] == releases.height > 0


def test_hourly_series_the_same_on_both_engines(both):
    _, duck, engine, _ = both
    first, last, _ = duck.time_range()
    start = first.replace(minute=0, second=0, microsecond=0)
    end = last.replace(minute=0, second=0, microsecond=0)
    bucket = timedelta(hours=1)
    _compare(duck.series(start, end, bucket=bucket), clickhouse_query.series(engine, start, end, bucket))


def test_filtered_minute_series_the_same_on_both_engines(both):
    _, duck, engine, _ = both
    first, _, _ = duck.time_range()
    start = first.replace(hour=9, minute=0, second=0, microsecond=0)
    end = start + timedelta(hours=3)
    filters = {"tier": ("paid",), "language": ("en", "de")}
    bucket = timedelta(minutes=5)
    duck_frame = duck.series(start, end, filters=filters, bucket=bucket)
    _compare(duck_frame, clickhouse_query.series(engine, start, end, bucket, filters))


def test_quantiles_within_the_stated_bound_of_raw_rows(both):
    data, duck, engine, _ = both
    first, last, _ = duck.time_range()
    start = first.replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=1)
    ch = clickhouse_query.series(engine, start, end, timedelta(days=1))
    glob = str(data.requests / "*.parquet")
    exact = duckdb.sql(f"SELECT quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS q FROM read_parquet('{glob}') "
                       f"WHERE ts >= $s AND ts < $e", params={"s": start, "e": end}).fetchall()[0][0]
    for q, want in zip(QUANTILES, exact, strict=True):
        assert abs(ch[q][0] - want) <= RELATIVE_ERROR * want, q


def test_release_record_reaches_the_configured_store(both):
    data, duck, engine, folder = both
    before = engine.query("SELECT count() AS n FROM releases")["n"][0]
    at = (duck.time_range()[0] + timedelta(hours=1)).isoformat()
    (data.root / "warroom.toml").write_text(f'[store]\nengine = "chdb"\npath = "{folder}"\n')
    try:
        assert main(["release", "record", "--data", str(data.root), "--artifact", "prompt", "--version", "v-ch",
                     "--service", "support-bot", "--at", at]) == 0
    finally:
        (data.root / "warroom.toml").unlink()
    stored = engine.query("SELECT version, ts FROM releases WHERE version = 'v-ch'")
    assert engine.query("SELECT count() AS n FROM releases")["n"][0] == before + 1
    assert stored.height == 1 and stored["ts"][0] == duck.releases().filter(version="v-ch")["ts"][0]


def test_ingest_reaches_the_configured_store(both, tmp_path):
    data, duck, engine, folder = both
    rows = (pl.read_parquet(sorted(data.requests.glob("*.parquet"))[0], n_rows=5)
            .with_columns(pl.format("ch-{}", pl.col("request_id")).alias("request_id")))
    source = tmp_path / "more.csv"
    rows.with_columns(pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")).write_csv(source)
    with source.open("a") as fh:  # one row the contract rejects: it goes to quarantine, in ClickHouse too
        fh.write("not-a-time" + "," * (rows.width - 1) + "\n")
    before = clickhouse_schema.stored_requests(engine)
    minute_before = engine.query("SELECT sum(requests) AS n FROM rollup_minute")["n"][0]
    assert main(["ingest", "requests", str(source), "--data", str(data.root), "--store", f"chdb:{folder}"]) == 0
    assert clickhouse_schema.stored_requests(engine) == before + 5
    assert engine.query("SELECT sum(requests) AS n FROM rollup_minute")["n"][0] == minute_before + 5
    assert engine.query("SELECT count() AS n FROM quarantine")["n"][0] == 1
    assert clickhouse_schema.stored_requests(engine) == duck.time_range()[2]


def test_every_query_file_has_a_clickhouse_form_or_says_why():
    # each ported file is compared with DuckDB on chDB in test_clickhouse_queries.py
    files = {p.stem for p in QUERIES_DIR.glob("*.sql")}
    assert not set(PORTED) & set(DUCKDB_ONLY)
    assert set(PORTED) | set(DUCKDB_ONLY) == files


def test_live_simulator_and_otlp_receiver_reach_the_configured_store(both):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    from dashboard.core.demo import live
    from dashboard.core.telemetry.otel_spans import SpanMaker
    from dashboard.core.telemetry.receiver import TraceReceiver

    data, duck, engine, folder = both
    (data.root / "warroom.toml").write_text(f'[store]\nengine = "chdb"\npath = "{folder}"\n')
    try:
        before = clickhouse_schema.stored_requests(engine)
        slices = live.append_minutes(data, 2)
        added = sum(s.rows for s in slices)
        assert added > 0 and clickhouse_schema.stored_requests(engine) == before + added
        receiver = TraceReceiver(data, flush_every=0.05)
        server, port = receiver.service(None, None).start_in_thread()
        try:
            maker = SpanMaker()
            for _ in range(4):
                maker.chat()
            exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces")
            assert exporter.export(maker.take()) == SpanExportResult.SUCCESS
        finally:
            server.shutdown()
            receiver.close()
        assert receiver.stats.stored == 4 and receiver.stats.store_errors == 0
        assert clickhouse_schema.stored_requests(engine) == before + added + 4
    finally:
        (data.root / "warroom.toml").unlink()
    assert clickhouse_schema.stored_requests(engine) == duck.time_range()[2]
