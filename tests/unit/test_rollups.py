"""Rollups answer as the request rows do: counts exactly, quantiles within the sketch's bound.

The reference answers are computed here with Polars straight from the request files,
independently of the SQL the views run.
"""

from __future__ import annotations

import math
import random
import shutil
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dashboard.core.datadir import DataDir
from dashboard.core.demo import write_demo
from dashboard.core.telemetry import rollup, rollup_scope, rollup_verify, sketch
from dashboard.core.telemetry.compact import request_files
from dashboard.core.telemetry.query import TelemetryStore
from dashboard.core.telemetry.query_sql import Scope
from tests.fixtures import raw_rows

COUNT_COLUMNS = {
    "requests": pl.len(),
    "errors": pl.col("error_type").count(),
    "refused": pl.col("refused").sum(),
    "task_success": pl.col("task_success").sum(),
    "task_success_n": pl.col("task_success").count(),
    "policy_violations": pl.col("policy_violation").sum(),
    "fallbacks": pl.col("fallback_used").sum(),
    "tool_errors": pl.col("tool_errors").sum(),
    "output_tokens": pl.col("output_tokens").sum(),
}


def test_sketch_bound_holds_on_every_quantile():
    rng = random.Random(3)
    values = [math.exp(rng.gauss(6.5, 1.2)) for _ in range(5000)] + [0.0] * 7
    buckets: dict[int, int] = {}
    for v in values:
        buckets[sketch.bucket_of(v)] = buckets.get(sketch.bucket_of(v), 0) + 1
    exact = pl.Series(values)
    for q in (0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999):
        truth = exact.quantile(q, interpolation="linear")
        assert sketch.quantile(buckets, q) == pytest.approx(truth, rel=sketch.RELATIVE_ERROR)


def test_random_filters_and_ranges_match_the_request_rows(two_demo_days):
    store = TelemetryStore(two_demo_days, cache=False)
    rows = raw_rows(two_demo_days)
    first, last, _ = (t.astimezone(UTC) if isinstance(t, datetime) else t for t in store.time_range())
    rng = random.Random(11)
    dims = {d: rows[d].drop_nulls().unique().sort().to_list() for d in ("region", "tier", "language", "prompt_version")}
    for _ in range(12):
        # arbitrary edges (seconds and microseconds inside a minute) and bucket widths
        a = first + timedelta(seconds=rng.uniform(0, 36 * 3600))
        b = a + timedelta(seconds=rng.uniform(600, 20 * 3600))
        dim = rng.choice(list(dims))
        filters = {dim: rng.sample(dims[dim], k=max(1, len(dims[dim]) // 2))}
        width = rng.choice([timedelta(minutes=1), timedelta(minutes=15), timedelta(hours=1), timedelta(hours=3)])
        got = store.series(a, b, filters, bucket=width).sort("bucket")
        scope = rows.filter((pl.col("ts") >= a) & (pl.col("ts") < b) & pl.col(dim).is_in(filters[dim]))
        step_us = int(width.total_seconds() * 1e6)
        want = (scope.with_columns(((pl.col("ts") - a).dt.total_microseconds() // step_us).alias("k"))
                .group_by("k").agg(**COUNT_COLUMNS,
                                   latency_p95_ms=pl.col("latency_ms").quantile(0.95, interpolation="linear"),
                                   quality_sum=pl.col("quality_score").sum(),
                                   log_latency_mean=pl.col("latency_ms").clip(0.001).log().mean())
                .sort("k"))
        assert got.height == want.height
        for column in COUNT_COLUMNS:
            assert got[column].cast(pl.Int64).to_list() == want[column].cast(pl.Int64).to_list(), column
        assert got["quality_sum"].to_list() == pytest.approx(want["quality_sum"].to_list(), rel=1e-9)
        assert got["log_latency_mean"].to_list() == pytest.approx(want["log_latency_mean"].to_list(), rel=1e-9)
        assert got["latency_p95_ms"].to_list() == pytest.approx(want["latency_p95_ms"].to_list(),
                                                                rel=sketch.RELATIVE_ERROR)


def test_ten_minute_tier_fills_between_hours_and_minutes_only_where_buckets_fit():
    t0 = datetime(2025, 2, 18, tzinfo=UTC)
    a, b = t0 + timedelta(minutes=3, seconds=20), t0 + timedelta(hours=2, minutes=47, microseconds=5)
    ten = rollup_scope.Buckets(timedelta(minutes=10), t0)
    pieces = rollup_scope.tiers(a, b, ten, tens=True)
    assert [(tier, lo - t0, hi - t0) for tier, lo, hi in sorted(pieces, key=lambda p: p[1])] == [
        ("raw", timedelta(minutes=3, seconds=20), timedelta(minutes=4)),
        ("minute", timedelta(minutes=4), timedelta(minutes=10)),
        ("ten_minute", timedelta(minutes=10), timedelta(hours=2, minutes=40)),
        ("minute", timedelta(hours=2, minutes=40), timedelta(hours=2, minutes=47)),
        ("raw", timedelta(hours=2, minutes=47), timedelta(hours=2, minutes=47, microseconds=5))]
    # without the tier (per-service and user cells), with buckets it does not fit (five minutes, an
    # origin off the ten-minute grid), or when only some minutes are read, minutes serve as before
    for buckets, kwargs in ((ten, {"tens": False}), (rollup_scope.Buckets(timedelta(minutes=5), t0), {"tens": True}),
                            (rollup_scope.Buckets(timedelta(minutes=10), t0 + timedelta(minutes=3)), {"tens": True}),
                            (ten, {"tens": True, "hours": False})):
        assert {tier for tier, _, _ in rollup_scope.tiers(a, b, buckets, **kwargs)} == {"raw", "minute"}
    # where hours fit, hours and minutes as before; a stretch under an hour keeps its minutes
    hourly = rollup_scope.tiers(a, t0 + timedelta(hours=5, minutes=31), rollup_scope.Buckets(timedelta(hours=1), t0),
                                tens=True)
    assert {tier for tier, _, _ in hourly} == {"raw", "minute", "hour"}
    short = rollup_scope.tiers(a, t0 + timedelta(minutes=69, seconds=1), ten, tens=True)
    assert {tier for tier, _, _ in short} == {"raw", "minute"}


@pytest.mark.parametrize("width", [timedelta(minutes=10), timedelta(minutes=30)])
def test_filtered_ten_minute_buckets_read_the_ten_minute_cells_and_match_the_request_rows(two_demo_days, width):
    store = TelemetryStore(two_demo_days, cache=False)
    rows = raw_rows(two_demo_days)
    first, _, _ = store.time_range()
    origin = first.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(hours=2)
    a, b = origin, origin + timedelta(hours=30, minutes=7, seconds=41)  # the end inside a minute and ten minutes
    filters = {"tier": ["paid"], "language": ["en", "de"]}
    scope = rollup_scope.CellsBuilder(rollup.key_columns(store.schema), rollup.q, Scope.of(a, b, filters),
                                      rollup_scope.Buckets(width, origin), full_keys=False)
    assert "rollup_ten_minute " in scope.cells() and "rollup_ten_minute_sketch " in scope.sketch_cells()
    got = store.series(a, b, filters, bucket=width).sort("bucket")
    picked = rows.filter((pl.col("ts") >= a) & (pl.col("ts") < b) & pl.col("tier").is_in(filters["tier"])
                         & pl.col("language").is_in(filters["language"]))
    step_us = int(width.total_seconds() * 1e6)
    want = (picked.with_columns(((pl.col("ts") - origin).dt.total_microseconds() // step_us).alias("k"))
            .group_by("k").agg(**COUNT_COLUMNS,
                               latency_p95_ms=pl.col("latency_ms").quantile(0.95, interpolation="linear"),
                               quality_sum=pl.col("quality_score").sum())
            .sort("k"))
    assert got.height == want.height > 50
    for column in COUNT_COLUMNS:
        assert got[column].cast(pl.Int64).to_list() == want[column].cast(pl.Int64).to_list(), column
    assert got["quality_sum"].to_list() == pytest.approx(want["quality_sum"].to_list(), rel=1e-9)
    assert got["latency_p95_ms"].to_list() == pytest.approx(want["latency_p95_ms"].to_list(),
                                                            rel=sketch.RELATIVE_ERROR)


def test_windows_and_leaves_match_the_request_rows(two_demo_days):
    store = TelemetryStore(two_demo_days, cache=False)
    rows = raw_rows(two_demo_days)
    first, last, _ = (t.astimezone(UTC) if isinstance(t, datetime) else t for t in store.time_range())
    base = (first + timedelta(hours=2, seconds=17), first + timedelta(hours=9, microseconds=5))
    cur = (first + timedelta(hours=30, minutes=1, seconds=3), last)
    leaves = store.segment_leaves([("baseline", *base), ("current", *cur)], ["region", "tier"], {"channel": ["web"]})
    for label, (a, b) in (("baseline", base), ("current", cur)):
        want = (rows.filter((pl.col("ts") >= a) & (pl.col("ts") < b) & (pl.col("channel") == "web"))
                .group_by("region", "tier").agg(**COUNT_COLUMNS).sort("region", "tier"))
        got = leaves.filter(pl.col("grp") == label).sort("region", "tier")
        for column in COUNT_COLUMNS:
            assert got[column].cast(pl.Int64).to_list() == want[column].cast(pl.Int64).to_list(), (label, column)
    values = store.dimension_values(base[0], cur[1])
    assert set(values["language"]) == set(rows.filter((pl.col("ts") >= base[0]) & (pl.col("ts") < cur[1]))
                                          ["language"].drop_nulls().unique())


@pytest.mark.parametrize("filters", [None, {"tier": ["paid"]}])
@pytest.mark.parametrize("overlap", [False, True])
def test_many_windows_read_together_count_each_row_in_each_window(two_demo_days, filters, overlap):
    store = TelemetryStore(two_demo_days, cache=False)
    rows = raw_rows(two_demo_days)
    first = store.time_range()[0].astimezone(UTC)
    # a baseline of same-clock windows a few hours apart, edges inside minutes; with `overlap`
    # one more window spans two of them, so its rows count in both
    windows = [(f"w{i}", first + timedelta(hours=1 + 5 * i, seconds=13), first + timedelta(hours=3 + 5 * i, seconds=41))
               for i in range(5)]
    if overlap:
        windows.append(("wide", first + timedelta(hours=2, minutes=30), first + timedelta(hours=12, microseconds=9)))
    spans = rollup_scope.stretches(windows, rollup_scope.Buckets())
    scans_per_tier = {tier: len(s) for tier, s in spans}
    assert (max(scans_per_tier.values()) == 1) is overlap  # apart when they overlap, together when not
    got = store.window_totals(windows, filters=filters).sort("grp")
    for label, a, b in windows:
        scope = rows.filter((pl.col("ts") >= a) & (pl.col("ts") < b))
        if filters:
            scope = scope.filter(pl.col("tier").is_in(filters["tier"]))
        want = scope.select(**COUNT_COLUMNS)
        row = got.filter(pl.col("grp") == label)
        for column in COUNT_COLUMNS:
            assert int(row[column][0]) == int(want[column][0]), (label, column)


@pytest.mark.slow
def test_rebuilding_gives_the_same_rollups_and_verify_finds_tampering(two_demo_days, tmp_path):
    data = DataDir(tmp_path / "data")
    shutil.copytree(two_demo_days.root, data.root)
    before = {p.relative_to(data.root): pl.read_parquet(p) for p in rollup.rollup_root(data).rglob("*.parquet")}
    assert rollup.maintain(data) == 0  # nothing new: nothing built
    rollup.rebuild(data)
    after = {p.relative_to(data.root): pl.read_parquet(p) for p in rollup.rollup_root(data).rglob("*.parquet")}
    assert before.keys() == after.keys()
    for name, frame in before.items():  # counts exactly; float sums to their last bits (addition order)
        assert_frame_equal(frame, after[name], rel_tol=1e-12, abs_tol=0)
    checked, differences = rollup_verify.verify(data, request_files(data.requests))
    assert checked == len(request_files(data.requests)) and differences == []
    minute = next((rollup.rollup_root(data) / "minute").glob("*.parquet"))
    frame = pl.read_parquet(minute)
    frame.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.col("refused") + 1)
                       .otherwise(pl.col("refused")).alias("refused")).write_parquet(minute)
    _, differences = rollup_verify.verify(data, request_files(data.requests))
    assert [(d.table, d.detail) for d in differences] == [("minute", f"refused: 1 of {frame.height} rows differ")]


@pytest.mark.slow
def test_a_crash_mid_build_leaves_previous_rollups_valid_and_is_finished_later(two_demo_days, tmp_path, monkeypatch):
    data = DataDir(tmp_path / "data")
    shutil.copytree(two_demo_days.root, data.root)
    store = TelemetryStore(data, cache=False)
    first, last, total = store.time_range()
    extra = raw_rows(data).head(500).with_columns(
        pl.col("ts") + timedelta(days=3), ("x" + pl.col("request_id")).alias("request_id"))
    writes = []

    def crash_on_third(con, select, target, order):
        writes.append(target)
        if len(writes) == 3:
            raise OSError("disk full")
        return real_write(con, select, target, order)

    real_write = rollup._write
    monkeypatch.setattr(rollup, "_write", crash_on_third)
    extra.write_parquet(data.requests / "late.parquet")
    with pytest.raises(OSError):
        rollup.maintain(data)
    monkeypatch.setattr(rollup, "_write", real_write)
    assert not [p for p in rollup.rollup_root(data).rglob("*") if p.name.startswith(".")]  # no temporary left
    # the reader finishes the interrupted file itself and counts every row once
    after = TelemetryStore(data, cache=False)
    series = after.series(first, last + timedelta(days=4), bucket=timedelta(days=1))
    assert int(series["requests"].sum()) == total + 500
    checked, differences = rollup_verify.verify(data, request_files(data.requests))
    assert differences == []


@pytest.mark.slow
def test_compaction_keeps_every_row_counted_once(tmp_path):
    from dashboard.core.demo import live
    from dashboard.core.telemetry.compact import compact_live_files

    data = DataDir(tmp_path / "data")
    write_demo(data, days=1, rps=0.5)
    live.append_minutes(data, 25, chunk=timedelta(minutes=2))
    store = TelemetryStore(data, cache=False)
    first, last, total = store.time_range()
    whole = lambda s: int(s.series(first, last + timedelta(seconds=1), bucket=timedelta(days=2))["requests"].sum())  # noqa: E731
    assert whole(store) == total
    compact_live_files(data)
    assert whole(TelemetryStore(data, cache=False)) == total
    # the merged slices' rollups are gone with them; the block files have theirs
    rollup_names = {p.name.split("~")[0] for p in (rollup.rollup_root(data) / "minute").glob("*.parquet")}
    assert rollup_names == {p.stem for p in data.requests.glob("*.parquet")}


def test_builds_after_writes_keep_one_connection_per_thread_and_process(monkeypatch):
    """The live writers build rollups after every slice on one kept connection; another thread, or a
    forked child (another pid), gets its own, since a DuckDB connection must not be shared across them."""
    import os
    import threading

    from dashboard.core.telemetry import rollup

    first = rollup._builder()
    assert rollup._builder() is first
    elsewhere: list = []
    thread = threading.Thread(target=lambda: elsewhere.append(rollup._builder()))
    thread.start()
    thread.join()
    assert elsewhere[0] is not first
    parent = os.getpid()
    monkeypatch.setattr(rollup.os, "getpid", lambda: parent + 1)
    assert rollup._builder() is not first


def test_partial_minutes_read_only_the_files_that_meet_them_and_every_column(tmp_path):
    from dashboard.core.datadir import atomic_write_parquet
    from tests.fixtures import request_rows

    data = DataDir(tmp_path / "data")
    day = datetime(2025, 3, 3, tzinfo=UTC)
    # two files a day apart; the older one has no ttft_ms column at all (an exporter without it)
    old = request_rows([{"ts": day + timedelta(seconds=7 * i), "request_id": f"o{i}", "latency_ms": 100.0 + i}
                        for i in range(600)]).drop("ttft_ms")
    new = request_rows([{"ts": day + timedelta(days=1, seconds=7 * i), "request_id": f"n{i}",
                         "latency_ms": 300.0 + i, "ttft_ms": 40.0 + i % 9} for i in range(600)])
    atomic_write_parquet(old, data.requests / "old.parquet")
    atomic_write_parquet(new, data.requests / "new.parquet")
    store = TelemetryStore(data, cache=False)
    version = store.files_version()
    first, last, total = store.time_range()
    assert (first, last, total) == (day, day + timedelta(days=1, seconds=7 * 599), 1200)
    # an edge inside the older file's minutes names that file alone; one in neither file names none
    inside_old = store._rows_between(version, day + timedelta(minutes=3), day + timedelta(minutes=4))
    assert "old.parquet" in inside_old and "new.parquet" not in inside_old
    assert store._rows_between(version, day + timedelta(hours=5), day + timedelta(hours=6)) == "_empty_requests"
    assert store._rows_between(version, first, last + timedelta(seconds=1)) == "requests"
    # a view whose partial minutes fall in the file without the column still answers, as the rows say
    a, b = day + timedelta(minutes=2, seconds=30), day + timedelta(minutes=40, seconds=11)
    got = store.series(a, b, bucket=b - a + timedelta(microseconds=1))
    want = old.filter((pl.col("ts") >= a) & (pl.col("ts") < b))
    assert got["requests"].to_list() == [want.height]
    assert got["latency_p50_ms"][0] == pytest.approx(want["latency_ms"].median(), rel=sketch.RELATIVE_ERROR)
    assert got["ttft_p50_ms"].to_list() == [None]
    b2 = day + timedelta(days=1, minutes=20, seconds=3)  # across both files: every row once
    both = store.series(a, b2, bucket=b2 - a + timedelta(microseconds=1))
    rows = pl.concat([old, new.drop("ttft_ms")])
    assert both["requests"].to_list() == [rows.filter((pl.col("ts") >= a) & (pl.col("ts") < b2)).height]
    assert both["ttft_p50_ms"][0] == pytest.approx(
        new.filter(pl.col("ts") < b2)["ttft_ms"].median(), rel=sketch.RELATIVE_ERROR)


def test_the_result_cache_keeps_a_series_with_its_percentiles_not_its_sketch_bins(two_demo_days):
    store = TelemetryStore(two_demo_days)
    first, last, _ = store.time_range()
    once = store.series(first, last, {"tier": ["paid"]})
    assert store.series(first, last, {"tier": ["paid"]}) is once  # the joined answer, from the cache
    assert once["latency_p95_ms"].drop_nulls().len() > 0
    kept = [key[0] for key in store._cache._results]
    assert "signal_quantile_bins" not in kept and "signal_series" not in kept
    assert "signal_series with quantiles" in kept
