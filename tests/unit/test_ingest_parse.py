"""Whole-column parsers: timestamps, numbers, booleans from native types and from text."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from dashboard.core.telemetry.ingest.parse import parse_bool, parse_float, parse_int, parse_string, parse_timestamp
from dashboard.core.telemetry.mapping import BooleanWords, TimestampSpec

T = datetime(2025, 2, 18, 13, 30, tzinfo=UTC)


def problems(parsed) -> list[tuple[list[bool], str]]:
    return [(mask.to_list(), message) for mask, message in parsed.problems if mask.any()]


def test_text_timestamps_in_mixed_iso_shapes_and_epochs():
    raw = pl.Series("ts", [
        "2025-02-18T13:30:00Z", "2025-02-18T14:30:00+01:00", "2025-02-18 13:30:00", "2025-02-18T13:30:00.000",
        "1739885400", "1739885400000", "", None, "soon",
    ])
    parsed = parse_timestamp(raw, TimestampSpec())
    assert parsed.values.dtype == pl.Datetime("us", "UTC")
    assert parsed.values.to_list()[:6] == [T] * 6
    assert parsed.values.to_list()[6:] == [None, None, None]
    # empty and null are missing (the caller decides), only "soon" is unreadable
    assert problems(parsed) == [([False] * 8 + [True], problems(parsed)[0][1])]
    assert problems(parsed)[0][1].startswith("not a timestamp")


@pytest.mark.parametrize("fmt, value", [("epoch_s", 1739885400), ("epoch_ms", 1739885400000),
                                        ("epoch_us", 1739885400000000), ("auto", 1739885400.0)])
def test_numeric_epochs(fmt, value):
    parsed = parse_timestamp(pl.Series("ts", [value]), TimestampSpec(format=fmt))
    assert parsed.values.to_list() == [T]


def test_epoch_in_the_wrong_unit_is_flagged_as_implausible():
    parsed = parse_timestamp(pl.Series("ts", [1739885400000]), TimestampSpec(format="epoch_s"))
    assert parsed.values.to_list() == [None]
    assert any("implausible" in message for _, message in problems(parsed))


def test_native_datetimes_naive_take_the_mapping_zone_aware_are_converted():
    naive = pl.Series("ts", [datetime(2025, 2, 18, 14, 30)])
    assert parse_timestamp(naive, TimestampSpec(timezone="Europe/Paris")).values.to_list() == [T]
    aware = naive.dt.replace_time_zone("Asia/Tokyo").dt.cast_time_unit("ns")
    assert parse_timestamp(aware, TimestampSpec()).values.to_list() == [datetime(2025, 2, 18, 5, 30, tzinfo=UTC)]


def test_numbers_from_text_and_native():
    parsed = parse_float(pl.Series(["1.5", " 2 ", "1e3", "abc", "", None, "inf"]))
    assert parsed.values.to_list() == [1.5, 2.0, 1000.0, None, None, None, None]
    assert [message for _, message in problems(parsed)] == ["not a number", "not a finite number"]
    ints = parse_int(pl.Series(["3", "3.0", "3.5", "x"]))
    assert ints.values.to_list() == [3, 3, None, None]
    assert {message for _, message in problems(ints)} == {"not a number", "not a whole number"}
    assert parse_int(pl.Series([1, 2], dtype=pl.UInt16)).values.dtype == pl.Int64


def test_booleans_from_words_numbers_and_native():
    words = BooleanWords().lookup()
    parsed = parse_bool(pl.Series(["TRUE", "no", " Yes ", "0", "1", "maybe", "", None]), words)
    assert parsed.values.to_list() == [True, False, True, False, True, None, None, None]
    assert problems(parsed)[0][0] == [False] * 5 + [True, False, False]
    numeric = parse_bool(pl.Series([1, 0, 2]), words)
    assert numeric.values.to_list() == [True, False, None] and problems(numeric)[0][0] == [False, False, True]
    assert parse_bool(pl.Series([True, None]), words).values.to_list() == [True, None]


def test_strings_empty_is_missing_and_numbers_become_text():
    assert parse_string(pl.Series(["a", "", None])).values.to_list() == ["a", None, None]
    assert parse_string(pl.Series([7, 8])).values.to_list() == ["7", "8"]


def test_zone_words_and_offsets_win_over_the_mapping_zone():
    raw = pl.Series("ts", ["2025-02-18T13:30Z", "2025-02-18 13:30:00 UTC", "2025-02-18T22:30:00+0900",
                           "2025/02/18 22:30:00"])
    parsed = parse_timestamp(raw, TimestampSpec(timezone="Asia/Tokyo"))
    assert parsed.values.to_list() == [T, T, T, T]  # the last one is naive: Tokyo time


@pytest.mark.parametrize("bad_rows", [[], [0], [4], [0, 1, 2, 3, 4], [1, 3],
                                      list(range(0, 5000, 2)),     # 2,500 runs: slices
                                      list(range(0, 10_000, 2))])  # 5,000 runs: filter
def test_keeping_good_rows_by_slices_or_filter_gives_the_same_rows(bad_rows):
    from dashboard.core.telemetry.ingest.validate import keep_good_rows

    height = max(5, (max(bad_rows) + 2) if bad_rows else 5)
    frame = pl.DataFrame({"i": range(height), "s": [f"r{i}" for i in range(height)]})
    marked = set(bad_rows)
    bad = pl.Series([i in marked for i in range(height)])
    kept = keep_good_rows(frame, bad)
    assert kept.equals(frame.filter(~bad))
