"""Views' answers from a ClickHouse store's rollups: the signal series per time bucket.

Returns the same columns as signal_series.sql (the registry's count columns,
signals.COUNTS, the log-scale means and variances, latency p50/p95/p99 and ttft
p50) per bucket, read from rollup_hour or rollup_minute (clickhouse_schema.py) with
optional segment filters. Every count is the merged cell sum, exact; quantiles come
from the merged histogram, the same bins as the DuckDB store's, so within
sketch.RELATIVE_ERROR.

A direct read of the rollup tables, kept beside the query files' ClickHouse forms
(clickhouse_sql.py, which serve the pages) for the engine benchmark and as their
check: signal_series.sql run through clickhouse_sql answers the same series.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from dashboard.core.telemetry.clickhouse import quote
from dashboard.core.telemetry.clickhouse_schema import state_columns
from dashboard.core.telemetry.signals import COUNTS

# signal_series.sql's moments: (column, sum, sum of squares or None for a mean, count)
MOMENTS = (
    ("log_latency_mean", "m_latency_ms_lnc_sum", None, "m_latency_ms_n"),
    ("log_latency_var", "m_latency_ms_lnc_sum", "m_latency_ms_lnc_sumsq", "m_latency_ms_n"),
    ("log_cost_mean", "m_cost_usd_lnc_sum", None, "m_cost_usd_n"),
    ("log_cost_var", "m_cost_usd_lnc_sum", "m_cost_usd_lnc_sumsq", "m_cost_usd_n"),
    ("log_ttft_mean", "m_ttft_ms_log_sum", None, "m_ttft_ms_log_n"),
    ("log_ttft_var", "m_ttft_ms_log_sum", "m_ttft_ms_log_sumsq", "m_ttft_ms_log_n"),
    ("log_input_tokens_mean", "m_input_tokens_log_sum", None, "m_input_tokens_log_n"),
    ("log_input_tokens_var", "m_input_tokens_log_sum", "m_input_tokens_log_sumsq", "m_input_tokens_log_n"),
    ("log_output_tokens_mean", "m_output_tokens_log_sum", None, "m_output_tokens_log_n"),
    ("log_output_tokens_var", "m_output_tokens_log_sum", "m_output_tokens_log_sumsq", "m_output_tokens_log_n"),
    ("input_tokens_var", "m_input_tokens_sum", "m_input_tokens_sumsq", "m_input_tokens_n"),
    ("output_tokens_var", "m_output_tokens_sum", "m_output_tokens_sumsq", "m_output_tokens_n"),
    ("quality_var", "m_quality_score_sum", "m_quality_score_sumsq", "m_quality_score_n"),
)


def _moment(s: str, ss: str | None, n: str) -> str:
    total, count = f"sum({quote(s)})", f"sum({quote(n)})"
    if ss is None:  # NULL, as in DuckDB, when nothing was counted
        return f"if({count} = 0, NULL, {total} / {count})"
    # rollup.macros_sql_all's var_from_sums: NULL below two values, never negative
    squares = f"sum({quote(ss)})"
    return f"if({count} > 1, greatest(({squares} - {total} * {total} / {count}) / ({count} - 1), 0), NULL)"


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
    moments = ",\n    ".join(f"{_moment(a, b, n)} AS {name}" for name, a, b, n in MOMENTS)
    sql = (f"SELECT toDateTime64(toStartOfInterval(t, INTERVAL {seconds} SECOND), 6, 'UTC') AS bucket,\n"
           f"    {counts},\n    {moments},\n"
           f"    warroom_sketch_quantile(0.50, sumMap(sketch_latency_ms)) AS latency_p50_ms,\n"
           f"    warroom_sketch_quantile(0.95, sumMap(sketch_latency_ms)) AS latency_p95_ms,\n"
           f"    warroom_sketch_quantile(0.99, sumMap(sketch_latency_ms)) AS latency_p99_ms,\n"
           f"    warroom_sketch_quantile(0.50, sumMap(sketch_ttft_ms)) AS ttft_p50_ms\n"
           f"FROM {table}\nWHERE {' AND '.join(where)}\nGROUP BY bucket\nORDER BY bucket")
    return sql, params


def series(engine, start: datetime, end: datetime, bucket: timedelta,
           filters: dict[str, tuple[str, ...]] | None = None) -> pl.DataFrame:
    """Counts and latency quantiles per bucket; start and end on whole minutes (hours for hourly buckets)."""
    sql, params = series_sql(bucket, filters)
    return engine.query(sql, {**params, "start": start, "end": end})
