"""Time helpers for per-bucket frames: buckets as UTC, moments as aware UTC.

How a signal is computed from the count columns lives in the signal registry
(`dashboard.core.telemetry.signals`); this module only normalises time.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl


def utc_buckets(frame: pl.DataFrame, column: str = "bucket") -> pl.DataFrame:
    """The bucket column as UTC (DuckDB hands back 'Etc/UTC', which Polars will not compare with 'UTC')."""
    if column not in frame.columns:
        return frame
    dtype = frame.schema[column]
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return frame.with_columns(pl.col(column).dt.replace_time_zone("UTC"))
        if dtype.time_zone != "UTC":
            return frame.with_columns(pl.col(column).dt.convert_time_zone("UTC"))
    return frame


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime (naive ones are taken to be UTC already)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
