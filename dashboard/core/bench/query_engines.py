"""The views both stores answer, timed side by side on the same data: DuckDB over Parquet and ClickHouse (chDB).

Returns, per view, the median warm seconds on each engine (result cache off) and
whether the answers agree (every count equal, quantiles identical bins), plus the
ClickHouse load time when the store had to be loaded. Only the series views are on
both engines so far (clickhouse_query.py); the rest of a page view is DuckDB's alone.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from dashboard.core.datadir import DataDir
from dashboard.core.telemetry import clickhouse_query, clickhouse_schema
from dashboard.core.telemetry.clickhouse_query import MOMENTS
from dashboard.core.telemetry.contract import read_schema
from dashboard.core.telemetry.query import TelemetryStore
from dashboard.core.telemetry.signals import COUNTS

PAID_ENGLISH = {"tier": ("paid",), "language": ("en",)}


def _median(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    result = fn()  # the first run warms file caches and compiled plans on both engines alike
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), result


def _agree(duck, ch) -> bool:
    if duck.height != ch.height or duck["bucket"].to_list() != ch["bucket"].to_list():
        return False
    exact = [c.name for c in COUNTS if c.name not in ("quality_sum", "cost_usd")]
    if any(duck[c].to_list() != ch[c].to_list() for c in exact):
        return False
    for c in ("quality_sum", "cost_usd", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "ttft_p50_ms",
              *(m[0] for m in MOMENTS)):
        for a, b in zip(duck[c].to_list(), ch[c].to_list(), strict=True):
            if (a is None) != (b is None) or (a is not None and abs(a - b) > 1e-9 * max(abs(a), 1.0)):
                return False
    return True


def run_engine_bench(data: DataDir, engine, repeats: int = 5) -> dict:
    schema = read_schema(data)
    clickhouse_schema.migrate(engine, schema)
    load_s = None
    if not clickhouse_schema.stored_requests(engine):
        began = time.perf_counter()
        clickhouse_schema.load_parquet(engine, data, schema)
        load_s = round(time.perf_counter() - began, 1)
    store = TelemetryStore(data, cache=False)
    first, last, rows = store.time_range()
    assert first is not None and last is not None
    day = last.replace(hour=0, minute=0, second=0, microsecond=0)
    now = last.replace(second=0, microsecond=0)
    week = first.replace(minute=0, second=0, microsecond=0)
    week_end = last.replace(minute=0, second=0, microsecond=0)
    views: list[tuple[str, datetime, datetime, timedelta, dict | None]] = [
        ("incident day, 1-minute buckets", day, now, timedelta(minutes=1), None),
        ("same, paid English", day, now, timedelta(minutes=1), PAID_ENGLISH),
        ("whole week, 1-hour buckets", week, week_end, timedelta(hours=1), None),
        ("same, paid English", week, week_end, timedelta(hours=1), PAID_ENGLISH),
    ]
    out = []
    for name, a, b, bucket, filters in views:
        duck_s, duck = _median(partial(store.series, a, b, filters, bucket), repeats)
        ch_s, ch = _median(partial(clickhouse_query.series, engine, a, b, bucket, filters), repeats)
        out.append({"name": name, "duckdb_s": round(duck_s, 4), "chdb_s": round(ch_s, 4),
                    "same_answer": _agree(duck, ch)})
    return {"rows": rows, "repeats": repeats, "chdb_load_s": load_s, "views": out}
