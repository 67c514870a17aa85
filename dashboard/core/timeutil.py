"""The one home of time handling: every moment the app computes with is an aware UTC datetime.

`utc` makes one (a naive datetime is taken to be UTC already; an aware one in
another zone is converted, so two moments always compare on the same clock),
`as_utc` does the same for the other shapes a timestamp arrives in (ISO text,
a NumPy datetime64 from a series), `naive_utc` gives the naive UTC wall time
Streamlit's date and time inputs want, and `utc_buckets` puts a frame's bucket
column on the zone Polars compares with, and `floor_to` / `ceil_to` put a moment on a
grid of whole minutes or hours counted from the Unix epoch (where the rollups' cells lie).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime (naive ones are taken to be UTC already)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def floor_to(moment: datetime, grain: timedelta) -> datetime:
    """The last multiple of `grain` since the epoch at or before `moment` (an aware datetime)."""
    return moment - (moment - EPOCH) % grain


def ceil_to(moment: datetime, grain: timedelta) -> datetime:
    """The first multiple of `grain` since the epoch at or after `moment` (an aware datetime)."""
    floor = floor_to(moment, grain)
    return floor if floor == moment else floor + grain


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(ts: datetime | str | np.datetime64) -> datetime:
    """`utc` of a datetime, of ISO text, or of a NumPy datetime64 (which carries no zone: UTC)."""
    if isinstance(ts, datetime):
        return utc(ts)
    if isinstance(ts, str):
        return utc(datetime.fromisoformat(ts))
    return datetime.fromisoformat(str(ts.astype("datetime64[us]"))).replace(tzinfo=UTC)


def naive_utc(moment: datetime) -> datetime:
    """The UTC wall time without a zone (what date and time widgets show and return)."""
    return utc(moment).replace(tzinfo=None)


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
