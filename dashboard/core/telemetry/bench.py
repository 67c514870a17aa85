"""Benchmark of the explorer's whole query set, cold and warm, on a store of a given size."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from dashboard.core.datadir import DataDir
from dashboard.core.diagnosis.investigate import investigate
from dashboard.core.telemetry.compare import before_after, cohort_comparison
from dashboard.core.telemetry.demo import write_demo
from dashboard.core.telemetry.query import TelemetryStore
from dashboard.core.telemetry.release_timeline import release_timeline

PAID_ENGLISH = {"tier": ["paid"], "language": ["en"]}
SECONDS_PER_WEEK_AT_1_RPS = 6 * 86400 + 16.25 * 3600  # the demo week ends at 16:15 on day 7


@dataclass
class QueryTiming:
    name: str
    cold_s: float
    warm_median_s: float


def ensure_bench_store(data: DataDir, rows: int) -> TelemetryStore:
    """A demo week sized to about `rows` requests (generated once, reused after)."""
    store = TelemetryStore(data)
    rps = rows / SECONDS_PER_WEEK_AT_1_RPS
    for _ in range(2):  # the daily and weekly cycles make the first guess short; the second is scaled by it
        have = store.time_range()[2]
        if have >= rows * 0.95:
            break
        if have:
            rps *= rows / have
        write_demo(data, days=7, rps=rps)
        store = TelemetryStore(data)
    return store


def explorer_queries(store: TelemetryStore) -> list[tuple[str, Callable[[], object]]]:
    """What one explorer page view runs, on the incident day, unfiltered then on paid English."""
    now = store.now()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    releases = store.releases(start, now)
    last_release: datetime = releases["ts"][-1] if releases.height else now
    return [
        ("time_range", store.time_range),
        ("dimension_values", lambda: store.dimension_values(start, now)),
        # what the page draws: logged releases checked against the requests (late logs, inferred versions)
        ("release timeline", lambda: release_timeline(store, start, now)),
        ("series (all traffic)", lambda: store.series(start, now)),
        ("series (paid English)", lambda: store.series(start, now, PAID_ENGLISH)),
        ("cohort lines by prompt", lambda: store.series(start, now, PAID_ENGLISH, by="prompt_version")),
        ("cohort comparison (prompt)", lambda: cohort_comparison(store, "prompt", start, now, PAID_ENGLISH)),
        ("before/after a release", lambda: before_after(store, last_release, 30, PAID_ENGLISH)),
        ("root-cause panel (refusal rate)", lambda: investigate(store, "refusal_rate", start, now)),
    ]


def _page_runs(queries: list[tuple[str, Callable[[], object]]], repeats: int) -> list[float]:
    """Seconds for the whole query set, `repeats` times (setup stays outside the clock)."""
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _, fn in queries:
            fn()
        runs.append(time.perf_counter() - t0)
    return runs


def run_query_bench(data: DataDir, rows: int = 10_000_000, repeats: int = 5) -> dict:
    store = ensure_bench_store(data, rows)
    total_rows = store.time_range()[2]
    fresh = TelemetryStore(data, cache=False)  # the engine's own speed: no result cache
    timings: list[QueryTiming] = []
    for name, fn in explorer_queries(fresh):
        t0 = time.perf_counter()
        fn()
        cold = time.perf_counter() - t0
        warm = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            warm.append(time.perf_counter() - t0)
        timings.append(QueryTiming(name, cold, statistics.median(warm)))
    whole = _page_runs(explorer_queries(fresh), repeats)
    cached_queries = explorer_queries(TelemetryStore(data))
    _page_runs(cached_queries, 1)  # fill the result cache
    repeat_view = _page_runs(cached_queries, repeats)
    return {
        "rows": total_rows,
        "page_repeat_view_median_s": statistics.median(repeat_view),
        "repeats": repeats,
        "queries": [t.__dict__ for t in timings],
        "page_cold_s": sum(t.cold_s for t in timings),
        "page_warm_median_s": statistics.median(whole),
    }


def run_compaction_bench(data: DataDir, minutes: int = 60, slice_seconds: float = 5.0, repeats: int = 3) -> dict:
    """An explorer page view over a store whose last `minutes` arrived as live slices, before and after compaction.

    `data` should be a scratch folder: a one-day demo store is written there first.
    """
    from datetime import timedelta

    from dashboard.core.telemetry import live
    from dashboard.core.telemetry.compact import compact_live_files

    write_demo(data, days=1, rps=10)
    live.append_minutes(data, minutes, chunk=timedelta(seconds=slice_seconds))
    live.append_minutes(data, 1, chunk=timedelta(minutes=1))  # the block being written stays in slices

    def page_view() -> tuple[int, float]:
        store = TelemetryStore(data, cache=False)
        queries = explorer_queries(store)
        files = len(list(data.requests.glob("*.parquet")))
        return files, statistics.median(_page_runs(queries, repeats))

    before_files, before = page_view()
    merged = compact_live_files(data)
    after_files, after = page_view()
    return {"rows": TelemetryStore(data).time_range()[2], "slice_seconds": slice_seconds, "minutes": minutes,
            "before": {"files": before_files, "page_warm_median_s": before},
            "after": {"files": after_files, "page_warm_median_s": after},
            "blocks_merged": len(merged), "speedup": before / after if after else None}
