"""What diagnosis reads from the telemetry store, as per-bucket aggregates.

Each diagnosable signal of the registry is read as the sufficient statistics
its test works on (`Signal.scale`): event and trial counts for rates, log-scale
count/mean/variance for latency, cost and tokens, plain count/mean/variance
for the quality score. A tail percentile (p95, p99) is a rate too: requests
slower than a limit (the baseline's value of the percentile, `window_quantile`)
out of the requests that carry the measure, so the functions that read one take
that `limit`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from dashboard.core.diagnosis.detect import BucketSeries
from dashboard.core.telemetry import signals as sig
from dashboard.core.telemetry.query import Scope, TelemetryStore


def signal_spec(name: str) -> sig.Signal:
    """A signal of the registry that diagnosis can test (every one but traffic volume)."""
    if name not in sig.DIAGNOSABLE:
        raise KeyError(f"signal {name!r} cannot be diagnosed; choose one of: {', '.join(sorted(sig.DIAGNOSABLE))}")
    return sig.get(name)


def _grid(start: datetime, end: datetime, bucket: timedelta) -> np.ndarray:
    first = np.datetime64(start.replace(tzinfo=None), "us")
    step = np.timedelta64(int(bucket.total_seconds() * 1e6), "us")
    n = max(int((end - start) / bucket), 1)
    return first + step * np.arange(n)


def _bucket_us(bucket: timedelta) -> int:
    return int(bucket.total_seconds() * 1e6)


def _align(start: datetime, bucket: timedelta) -> datetime:
    """Floor to the bucket grid the SQL time_bucket uses (whole minutes from midnight)."""
    epoch = datetime(2000, 1, 3, tzinfo=start.tzinfo)
    steps = (start - epoch) // bucket
    return epoch + steps * bucket


def window_quantile(store: TelemetryStore, spec: sig.Signal, start: datetime, end: datetime,
                    filters: dict | None, q: float | None = None) -> float | None:
    """The signal's percentile (or `q`) of its measure over [start, end), from the sketches; None without data."""
    q = q if q is not None else spec.quantile
    if q is None or spec.measure is None or end <= start:
        return None
    frame = store.run_sql("measure_quantile", {"measure": spec.measure, "q": q}, Scope.of(start, end, filters))
    value = frame["value"][0] if frame.height else None
    return float(value) if value is not None else None


def load_frame(store: TelemetryStore, spec: sig.Signal, start: datetime, end: datetime,
               filters: dict | None, bucket: timedelta, by: str | None = None,
               limit: float | None = None) -> pl.DataFrame:
    """Per-bucket (and per `grp`) rows with columns bucket, grp, count, value, var.

    A tail percentile needs `limit`: value is then the count of requests slower than it.
    """
    scope = Scope.of(start, end, filters, by)
    if spec.tail:
        if limit is None:
            raise ValueError(f"{spec.name} is tested as the share slower than a limit; none was given")
        frame = store.run_sql("diagnosis_slow_counts", {"bucket_us": _bucket_us(bucket), "measure": spec.measure,
                                                         "limit": float(limit)}, scope)
        return frame.select("bucket", "grp", pl.col("requests").cast(pl.Float64).alias("count"),
                            pl.col("slow").cast(pl.Float64).alias("value"),
                            pl.lit(None, dtype=pl.Float64).alias("var"))
    if spec.scale == "rate":
        frame = store.run_sql("diagnosis_rate_counts", {"bucket_us": _bucket_us(bucket)}, scope)
        return frame.select(
            "bucket", "grp",
            pl.col(spec.denominator_column).cast(pl.Float64).fill_null(0.0).alias("count"),
            pl.col(spec.numerator_column).cast(pl.Float64).fill_null(0.0).alias("value"),
            pl.lit(None, dtype=pl.Float64).alias("var"),
        )
    frame = store.run_sql("diagnosis_measure_stats", {"bucket_us": _bucket_us(bucket), "measure": spec.measure,
                                                      "log": spec.scale == "log"}, scope)
    return frame.select("bucket", "grp", pl.col("n").cast(pl.Float64).alias("count"),
                        pl.col("mean").cast(pl.Float64).alias("value"),
                        pl.col("var").cast(pl.Float64).fill_null(0.0).alias("var"))


def to_series(frame: pl.DataFrame, spec: sig.Signal, start: datetime, end: datetime,
              bucket: timedelta) -> BucketSeries:
    """Place per-bucket rows on the full grid [start, end) (empty buckets: zero counts)."""
    grid = _grid(start, end, bucket)
    count = np.zeros(len(grid))
    value = np.zeros(len(grid))
    var = np.zeros(len(grid))
    if frame.height:
        ts = frame["bucket"].dt.replace_time_zone(None).to_numpy().astype("datetime64[us]")
        idx = ((ts - grid[0]) // np.timedelta64(int(bucket.total_seconds() * 1e6), "us")).astype(int)
        ok = (idx >= 0) & (idx < len(grid))
        np.add.at(count, idx[ok], frame["count"].to_numpy()[ok])
        if spec.scale == "rate":
            np.add.at(value, idx[ok], frame["value"].to_numpy()[ok])
        else:  # one row per bucket and group, so plain assignment
            value[idx[ok]] = np.nan_to_num(frame["value"].to_numpy()[ok])
            var[idx[ok]] = np.nan_to_num(frame["var"].to_numpy()[ok])
    return BucketSeries(spec.scale, grid, count, value, None if spec.scale == "rate" else var,
                        bucket.total_seconds() / 60)


def load_series(store: TelemetryStore, spec: sig.Signal, start: datetime, end: datetime,
                filters: dict | None, bucket: timedelta, limit: float | None = None) -> BucketSeries:
    start = _align(start, bucket)
    frame = load_frame(store, spec, start, end, filters, bucket, limit=limit)
    return to_series(frame, spec, start, end, bucket)


def load_history(store: TelemetryStore, spec: sig.Signal, start: datetime, end: datetime,
                 filters: dict | None, bucket: timedelta, days: int, first_ts: datetime | None,
                 limit: float | None = None) -> list[BucketSeries]:
    """The same clock window on each of the previous `days` days that hold data (newest first)."""
    start = _align(start, bucket)
    spans = []
    for d in range(1, days + 1):
        a, b = start - timedelta(days=d), end - timedelta(days=d)
        if first_ts is not None and b <= first_ts:
            break
        spans.append((a, b))
    # one cursor per query, so the days can be read side by side
    with ThreadPoolExecutor(max_workers=max(len(spans), 1)) as pool:
        frames = list(pool.map(lambda ab: load_frame(store, spec, ab[0], ab[1], filters, bucket, limit=limit),
                                  spans))
    return [to_series(frame, spec, a, b, bucket) for frame, (a, b) in zip(frames, spans, strict=True)]


def load_cohorts(store: TelemetryStore, spec: sig.Signal, column: str, start: datetime, end: datetime,
                 filters: dict | None, bucket: timedelta, limit: float | None = None) -> dict[str, BucketSeries]:
    """One series per version of an artifact column, on the same grid."""
    start = _align(start, bucket)
    frame = load_frame(store, spec, start, end, filters, bucket, by=column, limit=limit)
    return {str(version): to_series(part, spec, start, end, bucket)
            for (version,), part in frame.group_by("grp") if version is not None}


def load_window_totals(store: TelemetryStore, spec: sig.Signal, windows: list[tuple[str, datetime, datetime]],
                       filters: dict | None, by: str | None = None,
                       limit: float | None = None) -> dict[tuple[str, str | None], tuple[float, float, float]]:
    """(window label, value of `by`) -> pooled (count, value, var) over the window.

    For rates value is the event count; for log/mean signals it is the mean.
    """
    from dashboard.core.stats import pool_log_stats

    out: dict[tuple[str, str | None], tuple[float, float, float]] = {}
    for label, a, b in windows:
        if b <= a:
            continue
        frame = load_frame(store, spec, a, b, filters, timedelta(minutes=30), by=by, limit=limit)
        for (grp,), part in frame.group_by("grp"):
            if spec.scale == "rate":
                out[(label, grp)] = (float(part["count"].sum()), float(part["value"].sum()), 0.0)
            else:
                out[(label, grp)] = pool_log_stats(part["count"].to_numpy(), part["value"].to_numpy(),
                                                   part["var"].to_numpy())
    return out


def load_exposure(store: TelemetryStore, column: str, dims: list[str], start: datetime, end: datetime,
                  filters: dict | None) -> pl.DataFrame:
    """Requests per (version, dim, value) of one artifact column in [start, end)."""
    return store.run_sql("diagnosis_exposure", {"dims": dims, "version_column": column},
                         Scope.of(start, end, filters))
