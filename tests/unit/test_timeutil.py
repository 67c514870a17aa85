"""The one time helper: every shape of timestamp comes out as aware UTC on the same clock."""

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import polars as pl

from dashboard.core.timeutil import as_utc, naive_utc, utc, utc_buckets

PLUS_TWO = timezone(timedelta(hours=2))


def test_an_aware_moment_in_another_zone_is_converted_not_relabelled():
    moment = utc(datetime(2025, 2, 18, 15, 0, tzinfo=PLUS_TWO))
    assert moment.tzinfo is UTC and moment.hour == 13


def test_a_naive_moment_is_taken_as_utc():
    assert utc(datetime(2025, 2, 18, 13, 0)) == datetime(2025, 2, 18, 13, 0, tzinfo=UTC)


def test_text_and_numpy_timestamps_land_on_the_same_instant():
    expected = datetime(2025, 2, 18, 13, 0, tzinfo=UTC)
    assert as_utc("2025-02-18T15:00:00+02:00") == expected
    assert as_utc("2025-02-18T15:00:00+02:00").hour == 13
    assert as_utc(np.datetime64("2025-02-18T13:00")) == expected


def test_naive_utc_is_the_utc_wall_time():
    assert naive_utc(datetime(2025, 2, 18, 15, 0, tzinfo=PLUS_TWO)) == datetime(2025, 2, 18, 13, 0)


def test_bucket_columns_end_on_utc():
    frame = pl.DataFrame({"bucket": [datetime(2025, 2, 18, 13, 0)]})
    for zoned in (frame, frame.with_columns(pl.col("bucket").dt.replace_time_zone("Etc/UTC"))):
        assert utc_buckets(zoned).schema["bucket"] == pl.Datetime("us", "UTC")
