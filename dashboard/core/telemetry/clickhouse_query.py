"""Views' answers from a ClickHouse store's rollups: the counts and latency quantiles per time bucket.

Returns the same columns as signal_series.sql's counts (the registry's count columns,
signals.COUNTS) and latency_p50_ms / p95 / p99 per bucket, read from rollup_hour or
rollup_minute (clickhouse_schema.py) with optional segment filters. Every count is
the merged cell sum, exact; quantiles come from the merged histogram, the same bins
as the DuckDB store's, so within sketch.RELATIVE_ERROR.

So far the ClickHouse store answers this series (what the Explorer's charts and the
benchmark's series views read); the other query files still run on DuckDB only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from dashboard.core.telemetry.clickhouse import quote
from dashboard.core.telemetry.clickhouse_schema import state_columns
from dashboard.core.telemetry.signals import COUNTS


def series_sql(bucket: timedelta, filters: dict[str, tuple[str, ...]] | None = None) -> tuple[str, dict]:
    """SQL and parameters for counts and latency quantiles per bucket over [$start, $end)."""
    if bucket % timedelta(minutes=1):
        raise ValueError(f"bucket {bucket}: the ClickHouse rollups serve whole minutes only")
    table = "rollup_hour" if bucket % timedelta(hours=1) == timedelta(0) else "rollup_minute"
    finals = {c.name: c.final for c in state_columns()}
    counts = ",\n    ".join(f"{finals[c.name]} AS {quote(c.name)}" for c in COUNTS)
    where = ["t >= $start", "t < $end"]
    params: dict = {}
    for i, (column, values) in enumerate(sorted((filters or {}).items())):
        where.append(f"{quote(column)} IN $f{i}")
        params[f"f{i}"] = list(values)
    seconds = int(bucket.total_seconds())
    sql = (f"SELECT toDateTime64(toStartOfInterval(t, INTERVAL {seconds} SECOND), 6, 'UTC') AS bucket,\n"
           f"    {counts},\n"
           f"    warroom_sketch_quantile(0.50, sumMap(sketch_latency_ms)) AS latency_p50_ms,\n"
           f"    warroom_sketch_quantile(0.95, sumMap(sketch_latency_ms)) AS latency_p95_ms,\n"
           f"    warroom_sketch_quantile(0.99, sumMap(sketch_latency_ms)) AS latency_p99_ms\n"
           f"FROM {table}\nWHERE {' AND '.join(where)}\nGROUP BY bucket\nORDER BY bucket")
    return sql, params


def series(engine, start: datetime, end: datetime, bucket: timedelta,
           filters: dict[str, tuple[str, ...]] | None = None) -> pl.DataFrame:
    """Counts and latency quantiles per bucket; start and end on whole minutes (hours for hourly buckets)."""
    sql, params = series_sql(bucket, filters)
    return engine.query(sql, {**params, "start": start, "end": end})
