"""Distributions of a request measure: per-bucket percentiles and a histogram, over any range and filter.

Means hide tails: a p99 that doubles while the mean barely moves, or a few very
long completions, only show in the distribution. Measures a store does not
have are not offered (`distribution_measures`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from dashboard.core.telemetry.query import Scope, TelemetryStore, choose_bucket

# request measures whose distribution is worth drawing, with how they read
DISTRIBUTION_MEASURES: dict[str, str] = {
    "latency_ms": "Latency (ms)",
    "ttft_ms": "Time to first token (ms)",
    "input_tokens": "Input tokens",
    "output_tokens": "Output tokens",
}


def distribution_measures(store: TelemetryStore) -> list[str]:
    """The measures of DISTRIBUTION_MEASURES this store has values of."""
    have = store.measures()
    return [m for m in DISTRIBUTION_MEASURES if m in have]


def percentiles(store: TelemetryStore, measure: str, start: datetime, end: datetime, filters: dict | None = None,
                bucket: timedelta | None = None) -> pl.DataFrame:
    """Per bucket: n, p50, p90, p99 of the measure (buckets without any value are absent)."""
    _check(measure)
    bucket = bucket or choose_bucket(start, end)
    return store.run_sql("measure_percentiles", {"bucket_us": int(bucket.total_seconds() * 1e6), "origin": start,
                                                 "measure": measure}, Scope.of(start, end, filters))


def histogram(store: TelemetryStore, measure: str, start: datetime, end: datetime, filters: dict | None = None,
              bins: int = 40) -> pl.DataFrame:
    """Equal-width bins of the measure over the range: bin, lo, hi, requests."""
    _check(measure)
    return store.run_sql("measure_histogram", {"measure": measure, "bins": int(bins)}, Scope.of(start, end, filters))


def _check(measure: str) -> None:
    if measure not in DISTRIBUTION_MEASURES:
        raise ValueError(f"no distribution of {measure!r}; choose one of: {', '.join(DISTRIBUTION_MEASURES)}")
