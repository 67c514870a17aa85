"""Every query file with a ClickHouse form gives the DuckDB answer on a chDB store of the same demo data.

Run through `clickhouse_sql` (the DuckDB file transpiled, or its hand-written
override) with the ClickHouse `scoped` / `cells` / `sketch_cells` CTEs, over scopes
of every shape the views ask: named windows, a grouping column, filters, chosen
minutes, edges inside a minute, buckets aligned to an origin that is not a whole
minute. Counts must be equal, floats (moments, sums, interpolated and sketch
quantiles) equal to 1e-9 relative: both engines read the same rollup sums and the
same sketch bins, so the sketch quantiles are the same values, well inside the
sketch's 1 % bound of the raw rows (tested in test_clickhouse_store.py).
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from dashboard.core.telemetry import rollup
from dashboard.core.telemetry.clickhouse import ChdbEngine
from dashboard.core.telemetry.clickhouse_sql import (
    OVERRIDES_DIR,
    OWN_SAMPLE,
    PORTED,
    SKETCHED_ON_DUCKDB,
    clickhouse_sql,
)
from dashboard.core.telemetry.query import Scope, TelemetryStore, load_sql
from dashboard.core.telemetry.user_sketch import BOUND as USER_SKETCH_BOUND

pytestmark = pytest.mark.slow  # the shared chDB store is loaded once per session (seconds)

REL = 1e-9


@pytest.fixture(scope="module")
def pair(chdb_pair):
    data, folder = chdb_pair
    return TelemetryStore(data, cache=False), ChdbEngine(folder)


def calls(duck: TelemetryStore) -> dict[str, list[tuple[dict, Scope | None]]]:
    """Each ported query with the parameters and scopes its callers use (several shapes each)."""
    first, last, _ = duck.time_range()
    a = first + timedelta(hours=9, seconds=7.5)  # edges inside a minute: raw rows at both ends
    b = a + timedelta(hours=3, minutes=10, seconds=3)
    mid = a + timedelta(hours=1, minutes=30, seconds=11)
    windows = [("baseline", a, mid), ("current", mid, b)]
    hour = first.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    minutes = tuple(hour + timedelta(hours=2, minutes=m) for m in (0, 1, 2, 7, 30))
    segments = list(duck.schema.segments)
    dims = list(duck.schema.dimension_columns)
    five = 300_000_000
    return {
        "releases_in_range": [({"start": first - timedelta(days=30), "end": last + timedelta(days=30)}, None)],
        "time_range_scan": [({}, None)],
        "ingest_stored_request_ids": [({"first_ts": a, "last_ts": a + timedelta(minutes=10)}, None)],
        "reporting_distinct_users": [({}, Scope.of(first, first + timedelta(hours=5), {"tier": ["paid", "free"]}))],
        "measure_percentiles": [({"bucket_us": 600_000_000, "origin": a, "measure": "ttft_ms"},
                                 Scope.of(a, a + timedelta(hours=2), {"language": ["en"]}))],
        "measure_histogram": [({"measure": "latency_ms", "bins": 20}, Scope.of(a, b, {"tier": ["paid"]})),
                              ({"measure": "output_tokens", "bins": 7}, Scope.of(first, last))],
        "diagnosis_rate_counts": [({"bucket_us": five}, Scope.of(a, b, {"tier": ["paid"]}, by="language")),
                                  ({"bucket_us": 3_600_000_000}, Scope.of(first, last, windows=windows))],
        "diagnosis_measure_stats": [({"bucket_us": five, "measure": "latency_ms", "log": True},
                                     Scope.of(a, b, windows=windows)),
                                    ({"bucket_us": five, "measure": "quality_score", "log": False},
                                     Scope.of(a, b, by="tier"))],
        "diagnosis_slow_counts": [({"bucket_us": five, "measure": "latency_ms", "limit": 900.0},
                                   Scope.of(a, b, by="tier"))],
        "diagnosis_slow_leaves": [({"dims": segments, "measure": "latency_ms", "threshold": 900.0},
                                   Scope.of(a, b, windows=windows)),
                                  ({"dims": segments[:2], "measure": "output_tokens", "threshold": 300.0},
                                   Scope.of(a, b, {"language": ["en"]}, windows=windows))],
        "incident_slow_share": [({"bucket_us": 60_000_000, "origin": a, "measure": "ttft_ms", "limit": 300.0},
                                 Scope.of(a, b, {"language": ["en"]})),
                                ({"bucket_us": 60_000_000, "origin": hour, "measure": "latency_ms",
                                  "limit": 800.0}, Scope.of(hour, hour + timedelta(hours=4), minutes=minutes))],
        "signal_quantile_bins": [({"bucket_us": five, "origin": a}, Scope.of(a, b, by="tier")),
                                 ({"bucket_us": five, "origin": hour},
                                  Scope.of(hour, hour + timedelta(hours=4), {"tier": ["paid"]}, by="prompt_version",
                                           minutes=minutes)),
                                 ({"bucket_us": 3_600_000_000, "origin": hour}, Scope.of(first, last))],
        "measure_quantile": [({"measure": "latency_ms", "q": 0.95}, Scope.of(a, b)),
                             ({"measure": "input_tokens", "q": 0.5}, Scope.of(a, b, {"tier": ["free"]})),
                             ({"measure": "latency_ms", "q": 0.99}, Scope.of(a, a))],  # empty: NULL
        "reporting_slo_counts": [({"bucket_us": 3_600_000_000, "origin": hour}, Scope.of(first, last)),
                                 ({"bucket_us": five, "origin": a}, Scope.of(a, b, {"tier": ["paid"]}))],
        "segment_leaves": [({"dims": segments}, Scope.of(a, b, windows=windows)),
                           ({"dims": segments}, Scope.of(a, b, windows=windows, minutes=minutes))],
        "signal_series": [({"bucket_us": five, "origin": a}, Scope.of(a, b, by="tier")),
                          ({"bucket_us": 3_600_000_000, "origin": hour}, Scope.of(first, last)),
                          ({"bucket_us": int((b - a).total_seconds() * 1e6) + 1, "origin": a},
                           Scope.of(a, b, {"language": ["en", "de"]}, windows=windows))],
        "version_first_served": [({}, Scope.of(first, last, by="prompt_version"))],
        "version_mix": [({}, Scope.of(a, b, by="model_version")),
                        ({}, Scope.of(a, b, {"tier": ["paid"]}, by="prompt_version"))],
        "dimension_values": [({"dims": dims}, Scope.of(a, b)), ({"dims": dims}, Scope.of(a, b, {"tier": ["free"]}))],
        "diagnosis_exposure": [({"dims": segments, "version_column": "prompt_version"}, Scope.of(a, b))],
        "reporting_packet_sample": [
            ({"artifact_cols": ["prompt_version", "model_version"], "bad_versions": ["prompt-v7"], "by_time": False,
              "incident_start": a, "seed": 7, "per_group": 5}, Scope.of(first, last)),
            ({"artifact_cols": ["prompt_version"], "bad_versions": ["none"], "by_time": True,
              "incident_start": mid, "seed": 1, "per_group": 3}, Scope.of(a, b, {"tier": ["paid"]}))],
        "version_sample_requests": [({"seed": 3, "per_version": 4}, Scope.of(first, last, by="prompt_version"))],
    }


def assert_same(name: str, want: pl.DataFrame, got: pl.DataFrame) -> None:
    """The DuckDB answer and the ClickHouse one: same columns, rows, counts; floats to REL."""
    assert got.columns == want.columns, name
    order = want.columns
    want, got = want.sort(order, nulls_last=True), got.sort(order, nulls_last=True)
    assert want.height == got.height, (name, want.height, got.height)
    for c in order:
        a, b = want[c].to_list(), got[c].to_list()
        if want[c].dtype.is_float():
            assert [v is None for v in a] == [v is None for v in b], (name, c)
            kept = [(x, y) for x, y in zip(a, b, strict=True) if x is not None]
            assert [x for x, _ in kept] == pytest.approx([y for _, y in kept], rel=REL, abs=1e-12), (name, c)
        else:
            assert a == b, (name, c)


def assert_same_sample(name: str, want: pl.DataFrame, got: pl.DataFrame, duck: TelemetryStore, scope) -> None:
    """A sample picked by the engine's own hash: the same columns, groups, group sizes and totals, and every
    row a real request of the scope with its stored values."""
    assert got.columns == want.columns, name
    group = "affected" if "affected" in want.columns else "version"
    totals = [pl.col("group_total").first().cast(pl.Int64)] if "group_total" in want.columns else []
    assert (want.group_by(group).agg(pl.len(), *totals).sort(group).rows()
            == got.group_by(group).agg(pl.len(), *totals).sort(group).rows()), name
    rows = duck.run_sql("ingest_stored_request_ids", {"first_ts": scope.start, "last_ts": scope.end})
    assert set(got["request_id"]) <= set(rows["request_id"]), name
    stored = pl.concat([pl.read_parquet(p, columns=["request_id", "latency_ms"])
                        for p in sorted(duck.data.requests.glob("*.parquet"))])
    latency = dict(stored.filter(pl.col("request_id").is_in(got["request_id"].to_list())).iter_rows())
    assert [latency[r] for r in got["request_id"]] == got["latency_ms"].to_list(), name


def test_every_ported_query_is_called_here(pair):
    assert set(calls(pair[0])) == set(PORTED)


@pytest.mark.parametrize("name", PORTED)
def test_same_answer_on_both_engines(pair, name):
    duck, engine = pair
    columns = list(duck.schema.request_schema())
    keys = rollup.key_columns(duck.schema)
    answered = 0
    for params, scope in calls(duck)[name]:
        want = duck.run_sql(name, params, scope)
        sql, ch_params = clickhouse_sql(name, params, scope, columns, keys)
        got = engine.query(sql, ch_params)
        if name in OWN_SAMPLE:
            assert_same_sample(name, want, got, duck, scope)
        elif name in SKETCHED_ON_DUCKDB:  # DuckDB's sketch within its bound of ClickHouse's exact count
            sketched = SKETCHED_ON_DUCKDB[name]
            assert_same(name, want.drop(sketched), got.drop(sketched))
            for column in sketched:
                for approx, exact in zip(want[column], got[column], strict=True):
                    assert exact > 0 and abs(approx - exact) <= USER_SKETCH_BOUND * exact, (name, column, approx, exact)
        else:
            assert_same(name, want, got)
        answered += want.height
    assert answered > 0, f"{name}: no call returned rows, so nothing was compared"


def test_each_hand_written_override_pairs_a_ported_query():
    overrides = sorted(OVERRIDES_DIR.glob("*.sql"))
    assert overrides, "reporting_distinct_users has a hand-written ClickHouse form"
    for path in overrides:
        assert path.stem in PORTED, f"{path.name}: no query of that name is ported"
        declared = next(line for line in path.read_text().splitlines() if line.startswith("-- params:"))
        assert all(f"${p}" in declared for p in load_sql(path.stem).params), path.name


@pytest.fixture(scope="module")
def sparse_pair(tmp_path_factory):
    """Three minutes of requests where time to first token and quality are absent after the first minute
    and the last minute has no sketched measure at all (its bucket has counts but no quantiles): where
    ClickHouse would give a type's default (an unmatched LEFT JOIN, an empty aggregate) for DuckDB's NULL."""
    from datetime import UTC, datetime

    from dashboard.core.datadir import DataDir
    from tests.fixtures import chdb_copy, request_rows, write_request_rows

    t0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
    rows = [{"ts": t0 + timedelta(seconds=4.5 * i), "request_id": f"r{i}", "tier": ("paid", "free")[i % 2],
             "latency_ms": 100.0 + 37 * i if i < 27 else None, "ttft_ms": 20.0 + i if i < 13 else None,
             "input_tokens": 10 + i if i < 27 else None, "output_tokens": 5 if i < 27 else None,
             "quality_score": 0.5 if i < 13 else None} for i in range(40)]
    root = tmp_path_factory.mktemp("sparse")
    data = DataDir(root / "data")
    write_request_rows(data, request_rows(rows))
    return TelemetryStore(data, cache=False), chdb_copy(data, root / "clickhouse"), t0


@pytest.mark.parametrize(("name", "params"), [
    ("signal_series", {"bucket_us": 60_000_000, "origin": None}),
    ("diagnosis_measure_stats", {"bucket_us": 60_000_000, "measure": "ttft_ms", "log": True}),
    ("measure_quantile", {"measure": "ttft_ms", "q": 0.5}),
])
def test_absent_measures_are_null_on_both_engines(sparse_pair, name, params):
    duck, engine, t0 = sparse_pair
    params = {k: (t0 if v is None else v) for k, v in params.items()}
    # whole minutes (the minute rollups) and edges inside minutes (request rows there)
    for scope in (Scope.of(t0, t0 + timedelta(minutes=3), by="tier"),
                  Scope.of(t0 + timedelta(seconds=1), t0 + timedelta(minutes=3), by="tier"),
                  Scope.of(t0 + timedelta(seconds=61), t0 + timedelta(seconds=179))):
        want = duck.run_sql(name, params, scope)
        sql, ch_params = clickhouse_sql(name, params, scope, list(duck.schema.request_schema()),
                                        rollup.key_columns(duck.schema))
        assert_same(name, want, engine.query(sql, ch_params))
