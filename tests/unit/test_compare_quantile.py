"""Latency percentiles compared on the percentile itself, not only on the log mean."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from dashboard.core.datadir import DataDir, atomic_write_parquet
from dashboard.core.demo.engine import conform
from dashboard.core.telemetry import signals as sig
from dashboard.core.telemetry.compare import before_after, compare, tail_bins, tail_counts
from dashboard.core.telemetry.query import Scope, TelemetryStore

AT = datetime(2025, 3, 3, 13, 0, tzinfo=UTC)


def _store(root, slow_share: float, rest_factor: float, seed: int = 5) -> TelemetryStore:
    """An hour either side of AT; after it `slow_share` of requests take 4x, the rest `rest_factor`."""
    rng = np.random.default_rng(seed)
    count = 2 * 60 * 60
    seconds = np.sort(rng.uniform(-3600, 3600, count))
    latency = rng.lognormal(6.0, 0.3, count)
    after = seconds >= 0
    slow = after & (rng.random(count) < slow_share)
    latency = np.where(slow, latency * 4, np.where(after, latency * rest_factor, latency))
    rows = pl.DataFrame({
        "ts": [AT + timedelta(seconds=float(s)) for s in seconds],
        "request_id": [f"r{i:06d}" for i in range(count)], "service": ["bot"] * count,
        "latency_ms": latency, "input_tokens": rng.integers(100, 300, count),
        "output_tokens": rng.integers(50, 150, count),
    })
    data = DataDir(root)
    atomic_write_parquet(conform(rows), data.requests / "rows.parquet")
    return TelemetryStore(data)


def test_a_slow_tail_with_an_unchanged_typical_latency_is_caught_on_the_p95(tmp_path):
    # 8% of requests 4x slower, the rest 10% faster: the log mean barely moves, the p95 does
    store = _store(tmp_path / "d", slow_share=0.08, rest_factor=0.9)
    frame = before_after(store, AT, minutes=60, names=["latency_p95_ms", "latency_p50_ms"])
    p95 = frame.filter(pl.col("signal") == "latency_p95_ms").row(0, named=True)
    assert p95["test"].startswith("share slower than the baseline p95")
    assert p95["beyond_noise"] and p95["worse"] and p95["p_value"] < 1e-6
    # the log-mean test alone would not call it
    totals = store.window_totals([("before", AT - timedelta(hours=1), AT), ("after", AT, AT + timedelta(hours=1))])
    rows = {r["grp"]: r for r in totals.iter_rows(named=True)}
    assert not compare(sig.get("latency_p95_ms"), rows["before"], rows["after"]).beyond_noise


def test_no_change_stays_within_noise_on_the_p95(tmp_path):
    store = _store(tmp_path / "d", slow_share=0.0, rest_factor=1.0)
    frame = before_after(store, AT, minutes=60, names=["latency_p95_ms", "latency_p99_ms"])
    for row in frame.iter_rows(named=True):
        assert row["test"].startswith("share slower than the baseline")
        assert not row["beyond_noise"], row


def test_one_scan_of_the_sketch_counts_every_side_as_a_query_per_side_does(demo_data):
    # the cohort comparison and before/after read every side's tail from one scan of the sketch bins (tail_bins);
    # the soak counts the same thing one scope at a time (incident_slow_share): they must agree
    store = TelemetryStore(demo_data, cache=False)
    _, last, _ = store.time_range()
    start = last.replace(hour=0, minute=0, second=0, microsecond=0)
    whole = {"bucket_us": int((last - start).total_seconds() * 1e6) + 1, "origin": start}
    bins = tail_bins(store, [sig.get("latency_p95_ms")], Scope.of(start, last, {"tier": ["paid"]}, by="prompt_version"))
    versions = sorted(set(bins["grp"].to_list()))
    assert len(versions) >= 2
    for version in versions:
        for measure, limit in (("latency_ms", 900.0), ("output_tokens", 220.0), ("ttft_ms", 300.0)):
            one = store.run_sql("incident_slow_share", {**whole, "measure": measure, "limit": limit},
                                Scope.of(start, last, {"tier": ["paid"], "prompt_version": [version]}))
            want = (int(one["slower"].sum()), int(one["requests"].sum()))
            assert tail_counts(bins, version, measure, limit) == want, (version, measure)
            assert 0 < want[0] < want[1]
    assert tail_counts(bins, "no such version", "latency_ms", 900.0) == (0, 0)
