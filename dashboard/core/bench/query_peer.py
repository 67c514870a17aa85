"""The in-memory Polars dashboard the query benchmark runs beside the project's views.

Returns the peer's load time and, per view, its answer time: what a competent
engineer would write instead of rollups (load the columns once, keep them in
memory, group per view). Shipped so anyone can rerun the comparison.
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timedelta

import polars as pl

from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.compact import request_files

COLUMNS = ["ts", "tier", "language", "prompt_version", "latency_ms", "refused", "error_type", "cost_usd",
           "output_tokens"]


def load(data: DataDir) -> tuple[pl.DataFrame, float]:
    began = time.perf_counter()
    frame = pl.concat([pl.read_parquet(p, columns=COLUMNS) for p in request_files(data.requests)])
    return frame, time.perf_counter() - began


def series(frame: pl.DataFrame, start: datetime, end: datetime, every: timedelta, filters: dict | None = None,
           by: str | None = None) -> pl.DataFrame:
    # the bounds in the frame's own zone: Polars compares datetimes only within one zone name
    zone = getattr(frame.schema["ts"], "time_zone", None) or "UTC"
    lo, hi = (pl.lit(t).dt.convert_time_zone(zone) for t in (start, end))
    scope = frame.filter((pl.col("ts") >= lo) & (pl.col("ts") < hi))
    for column, values in (filters or {}).items():
        scope = scope.filter(pl.col(column).is_in(values))
    keys = [pl.col("ts").dt.truncate(every).alias("bucket")] + ([pl.col(by)] if by else [])
    return scope.group_by(keys).agg(
        requests=pl.len(), refused=pl.col("refused").sum(), errors=pl.col("error_type").count(),
        cost_usd=pl.col("cost_usd").sum(), output_tokens=pl.col("output_tokens").sum(),
        latency_p50_ms=pl.col("latency_ms").quantile(0.5, interpolation="linear"),
        latency_p95_ms=pl.col("latency_ms").quantile(0.95, interpolation="linear"),
        latency_p99_ms=pl.col("latency_ms").quantile(0.99, interpolation="linear"),
    ).sort("bucket")


def time_views(frame: pl.DataFrame, views: dict[str, tuple], repeats: int) -> dict[str, float]:
    """Median seconds per view; `views` maps a name to series() arguments after the frame."""
    out = {}
    for name, args in views.items():
        runs = []
        for _ in range(repeats):
            began = time.perf_counter()
            series(frame, *args)
            runs.append(time.perf_counter() - began)
        out[name] = statistics.median(runs)
    return out
